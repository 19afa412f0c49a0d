"""The live Google Health API source, on the connector in fitpipe/google_health: mapping points onto the
metric catalog, loading windows with their sync positions, the nightly sync, backfills and the pull of
webhook-notified intervals.

Modules: mapping, state, source, run, sync, backfill, notified. The daily job calls `sync.sync_google_health`.
"""
