"""Proposals: choosing papers, the Markdown patch on the survey, and git + GitHub."""
