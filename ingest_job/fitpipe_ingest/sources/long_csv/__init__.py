"""The long CSV drop format (participant,metric,timestamp,value): `SOURCE` for the registry."""

from fitpipe_ingest.sources.long_csv.source import COLUMNS, SOURCE, LongCsvSource

__all__ = ["COLUMNS", "SOURCE", "LongCsvSource"]
