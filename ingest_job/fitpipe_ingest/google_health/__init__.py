"""The live Google Health API source (the Fitbit Web API's successor): consent, tokens, rate-limited pulls,
mapping onto the metric catalog, the nightly sync, backfills and webhook notifications.

Modules: settings, errors, datatypes, windows, limits, client, oauth, tokens, grants, mapping, state,
source, run, sync, backfill, notifications, webhook. The daily job calls `sync.sync_google_health`.
"""
