"""Plotly figures of the dashboard, built from the API's JSON; each module one kind of panel."""
