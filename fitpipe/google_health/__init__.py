"""The Google Health API connector (the Fitbit Web API's successor), shared by the API and the ingest job:
the protocol (data types, HTTP client with rate limits and retries, pages, windows, errors), the account
link (OAuth consent with PKCE, encrypted tokens, grants and their refresh, revocation) and the webhook
(authenticating Google's calls, queueing notifications).

It lives in the core because both sides need it: the API runs the consent callback and receives the
webhook, the ingest job refreshes tokens and pulls. What turns pulled points into stored samples
(mapping onto the catalog, loading, the nightly sync, backfills) is the ingest job's:
fitpipe_ingest/google_health.

Modules: settings, errors, datatypes, windows, limits, pages, client, oauth, tokens, grants, webhook,
notifications.
"""
