"""Google Takeout / Fitbit account export: one module per family of files, `SOURCE` for the registry.

Start at source.py (detect/plan/parse) and families.py (which files are read); instants.py says how
local times and days are placed in UTC, csv_specs.py which CSV time columns are UTC and which are not.
"""

from fitpipe_ingest.sources.takeout.source import SOURCE, TakeoutPlan, TakeoutSource

__all__ = ["SOURCE", "TakeoutPlan", "TakeoutSource"]
