"""Producing input files with other tools, each run in an environment of its own (never fitpipe's).

`wearipedia` writes the challenge's synthetic Fitbit CSVs; fitpipe then reads them like any export.
"""
