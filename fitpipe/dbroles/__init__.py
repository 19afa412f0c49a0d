"""The database's login roles and what each may do: one declarative catalogue (catalog.py), the step that
makes a database match it (provision.py, run by every `fitpipe migrate`), and the check a process runs on
its own login before it serves (login.py).

    fitpipe_owner   owns every fitpipe table, view and function; the only non-superuser that could bypass
                    the audit log's trigger. No running process logs in as it.
    fitpipe_api     the REST API: reads data, writes exactly the audit log, contacts, token use and consent.
    fitpipe_ingest  the ingest job: writes samples, rollups, sleep, cursors, runs, quarantine; never reads
                    API tokens, the audit log or contacts.

The superuser (DATABASE_URL / DB_USER) is only for the database itself and `fitpipe migrate`.
"""

from fitpipe.dbroles.catalog import API, INGEST, OWNER, DbRole
from fitpipe.dbroles.login import LoginInfo, inspect_login, refuse_escalating_login
from fitpipe.dbroles.provision import provision

__all__ = [
    "API",
    "INGEST",
    "OWNER",
    "DbRole",
    "LoginInfo",
    "inspect_login",
    "refuse_escalating_login",
    "provision",
]
