"""fitpipe's read API (FastAPI): time series, adherence, participants, contact, pipeline health."""
