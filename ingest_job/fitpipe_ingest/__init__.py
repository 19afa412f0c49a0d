"""Ingestion: parsers for each input format, the loader (COPY + merge + rollups + cursor in one transaction), the daily run."""
