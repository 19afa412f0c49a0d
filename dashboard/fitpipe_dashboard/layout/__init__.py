"""The dashboard's page layouts: the shell (navigation, stores, contact dialog) and one module per page."""
