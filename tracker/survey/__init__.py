"""Reading a list: parse (lossless Markdown), fields of one entry, the patch writer, the starter config."""
