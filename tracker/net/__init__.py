"""What every network client shares: one retry policy (tenacity), one process-wide
stop event that SIGTERM sets, and a bounded HTTP transport (a total deadline per
request, waits sliced so a stop is noticed within a fraction of a second)."""
