"""The schema migrations, NNNN_name.sql, applied in order by fitpipe/migrations.py.

This file only makes the folder the resource package `fitpipe_sql` (setup.py), so an installed fitpipe
finds its migrations with importlib.resources; it holds no code.
"""
