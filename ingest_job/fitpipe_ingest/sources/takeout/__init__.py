"""Google Takeout / Fitbit account export: one module per family of files, `SOURCE` for the registry.

Start at source.py (claims/parse) and families.py (which files are read); csv_specs.py says which CSV
time columns are UTC and which are not. Reading, collecting and placing times in UTC is the toolkit's.
"""

from fitpipe_ingest.sources.takeout.source import SOURCE, TakeoutSource

__all__ = ["SOURCE", "TakeoutSource"]
