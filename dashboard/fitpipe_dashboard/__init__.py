"""The trial managers' dashboard (Plotly Dash): cohort adherence, participant drill-down, contact, pipeline health.

It reads everything through the REST API with a service token (dashboard.client), never the database.
"""
