"""Sorting papers into sections: the keyword matcher and its evaluation against labels. Pure."""
