"""Wiring the stages: the poll pipeline, one cycle, the daemon and its schedule, the demo."""
