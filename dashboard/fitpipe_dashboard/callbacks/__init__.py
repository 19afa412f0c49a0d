"""The dashboard's callbacks, one module per page; each has register(app, client, settings)."""
