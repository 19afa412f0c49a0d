"""Plotly figures of the dashboard, built from the API's answers (fitpipe.contracts models); each module one kind
of panel."""
