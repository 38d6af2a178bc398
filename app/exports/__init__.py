"""Downloads of a campaign: recipients and activity as streamed CSV, the summary as Excel.

The HTTP routes (app/routes/exports.py) and the CLI (`campaign-graph export`) share this package,
so a file from either is the same file.
"""
