"""Known works of the survey (which arXiv paper each is) and which new papers name them."""
