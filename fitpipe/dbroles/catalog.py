"""Who may do what in fitpipe's database, as data: the login roles and, per table or view, each role's
privileges. `fitpipe migrate` makes the database match this exactly (fitpipe/dbroles/provision.py), so a
restore that lost its grants, or a grant added by hand, is repaired on the next migrate.

Every table and view in schema public must appear in TABLES (tests/fitpipe/dbroles/test_catalog.py
fails otherwise): a migration that adds a table adds its line here in the same change. A role that is
not named for a table gets nothing on it. Sequences follow their table: a role that may INSERT into a
table may use the sequences its columns own. Hypertable chunks follow their hypertable (TimescaleDB copies
grants and the owner to every chunk, also to chunks created later by whoever inserts).

What each role needs was read off the code: the API's routes and fitpipe/tokens.py, fitpipe/contact, the
consent flow of fitpipe_ingest.google_health; the ingest job's loader, rollups, sleep store, runs,
daily run and Google Health sync. The tests log in as each role and run those paths.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

__all__ = [
    "DbRole",
    "OWNER",
    "API",
    "INGEST",
    "MANAGED_ROLES",
    "Access",
    "READ",
    "UPSERT",
    "TABLES",
    "DATABASE_PRIVILEGES",
    "FUNCTIONS",
    "UNDECLARED_FALLBACK",
]


class DbRole(StrEnum):
    """A login role fitpipe creates; the value is its name in PostgreSQL."""

    OWNER = "fitpipe_owner"
    API = "fitpipe_api"
    INGEST = "fitpipe_ingest"

    @property
    def purpose(self) -> str:
        return _PURPOSE[self]


OWNER, API, INGEST = DbRole.OWNER, DbRole.API, DbRole.INGEST
MANAGED_ROLES = (OWNER, API, INGEST)

_PURPOSE = {
    OWNER: "Owner of fitpipe's tables, views and functions (the schema). Only `fitpipe migrate` acts as it.",
    API: "The REST API's login: reads data; writes the audit log, contacts, token use and consent only.",
    INGEST: "The ingest job's login: writes samples, rollups, sleep, cursors, runs and quarantine; "
    "no access to API tokens, the audit log or contacts.",
}


@dataclass(frozen=True)
class Access:
    """One role's privileges on one table. True: the whole table; a tuple: only those columns."""

    select: bool | tuple[str, ...] = False
    insert: bool = False
    update: bool | tuple[str, ...] = False
    delete: bool = False

    def wanted(self) -> set[tuple[str, str | None]]:
        """(privilege, column or None for the whole table) pairs, as PostgreSQL records them."""
        out: set[tuple[str, str | None]] = set()
        for privilege, value in (
            ("SELECT", self.select),
            ("INSERT", self.insert),
            ("UPDATE", self.update),
            ("DELETE", self.delete),
        ):
            if value is True:
                out.add((privilege, None))
            elif value:
                out.update((privilege, column) for column in value)
        return out


READ = Access(select=True)
UPSERT = Access(select=True, insert=True, update=True)  # INSERT … ON CONFLICT DO UPDATE needs all three

# Columns of oauth_grants without secrets: the API shows consent status but never reads token ciphertexts.
_GRANT_STATUS_COLUMNS = (
    "participant_id",
    "provider",
    "health_user_id",
    "legacy_user_id",
    "scopes",
    "version",
    "created_at",
    "updated_at",
    "refreshed_at",
    "revoked_at",
    "revoke_reason",
    "access_expires_at",
)

TABLES: dict[str, dict[DbRole, Access]] = {
    # ---- 0001 core -------------------------------------------------------------------------------
    "studies": {API: READ, INGEST: READ},
    "participants": {API: READ, INGEST: READ},
    "metrics": {API: READ, INGEST: READ},
    "samples": {API: READ, INGEST: UPSERT},
    "rollup_1m": {API: READ, INGEST: UPSERT},
    "rollup_1h": {API: READ, INGEST: UPSERT},
    "rollup_1d": {API: READ, INGEST: UPSERT},
    "sleep_sessions": {API: READ, INGEST: UPSERT},
    # a session's stages are replaced as a whole when the session changes
    "sleep_stages": {API: READ, INGEST: Access(select=True, insert=True, delete=True)},
    "participant_sources": {
        # the consent callback marks the Google source configured / in error
        API: Access(select=True, insert=True, update=("status", "last_error", "configured_at")),
        INGEST: UPSERT,
    },
    "ingest_cursors": {API: READ, INGEST: UPSERT},
    "ingest_runs": {API: READ, INGEST: UPSERT},
    "ingest_files": {API: READ, INGEST: UPSERT},
    "quarantine": {API: READ, INGEST: UPSERT},
    "raw_data": {API: READ},
    "data_1m": {API: READ},
    "data_1h": {API: READ},
    "data_1d": {API: READ},
    # ---- 0002 access: tokens are created by `fitpipe token create` (the administrator) -------------
    "api_tokens": {API: Access(select=True, update=("last_used_at",))},
    "api_token_studies": {API: READ},
    "audit_log": {API: Access(insert=True)},  # append-only: nobody but the owner may change or read it back
    "contacts": {API: Access(select=True, insert=True)},
    # ---- 0004 Google Health: the API stores consent, the ingest job refreshes and uses it ----------------
    "oauth_grants": {
        API: Access(
            select=_GRANT_STATUS_COLUMNS,
            insert=True,
            update=(
                "health_user_id",
                "legacy_user_id",
                "scopes",
                "refresh_token",
                "access_token",
                "access_expires_at",
                "version",
                "updated_at",
                "revoked_at",
                "revoke_reason",
            ),
        ),
        INGEST: Access(select=True, update=True),
    },
    "oauth_states": {
        API: Access(select=True, insert=True, update=("used_at",)),
        INGEST: Access(select=("expires_at",), delete=True),  # the sync deletes expired states
    },
    "google_health_sync": {API: READ, INGEST: UPSERT},
    "google_health_backfills": {API: READ, INGEST: UPSERT},
    "google_health_notifications": {
        API: Access(select=True, insert=True),  # the webhook queues them
        INGEST: Access(select=True, update=("pulled_at", "run_id")),
    },
    # ---- 0006 people: the API checks passwords, counts failures, keeps sessions; `fitpipe users` (the ------
    # administrator) creates and changes people
    "users": {API: Access(select=True, update=("failed_attempts", "locked_until", "last_sign_in_at"))},
    "user_studies": {API: READ},
    "user_sessions": {
        API: Access(select=True, insert=True, update=("last_seen_at", "ended_at", "end_reason"))
    },
    # ---- 0010 run outcomes: the ingest job records them, the API's collector reads them --------------
    "ingest_run_metrics": {API: READ, INGEST: UPSERT},
    "ingest_run_quarantine": {API: READ, INGEST: UPSERT},
    "ingest_run_token_failures": {API: READ, INGEST: UPSERT},
    # ---- bookkeeping: every process checks the schema version it runs on ------------------------------
    "schema_migrations": {API: READ, INGEST: READ},
}

# Functions that run as their owner (SECURITY DEFINER, sql/0008_storage.sql) and who may call them: the
# roles get the work done without privileges on the tables behind it (the API erases a participant without
# DELETE anywhere; the ingest job compresses chunks without owning the hypertables). PUBLIC may call none
# of them. Other functions keep PostgreSQL's default (EXECUTE for PUBLIC).
FUNCTIONS: dict[str, tuple[DbRole, ...]] = {
    "fitpipe_storage_sizes()": (API, INGEST),  # /metrics, the daily run's report
    "fitpipe_erase_participant(integer,integer,integer,bigint,text,jsonb)": (API,),  # admin-only route
    "fitpipe_compression_candidates(timestamp with time zone)": (INGEST,),
    "fitpipe_compress_chunk(regclass)": (INGEST,),
    "fitpipe_enable_compression()": (),
    "fitpipe_retention_due(date)": (INGEST,),
    "fitpipe_apply_retention(date,integer,text,jsonb)": (INGEST,),
}

# Database-level privileges. PUBLIC loses CONNECT and TEMPORARY: only fitpipe's roles (and superusers)
# connect. The ingest job stages merges in temporary tables.
DATABASE_PRIVILEGES: dict[DbRole, tuple[str, ...]] = {
    OWNER: ("CONNECT", "TEMPORARY"),
    API: ("CONNECT",),
    INGEST: ("CONNECT", "TEMPORARY"),
}

# A table a migration added without a line in TABLES keeps whatever its migration granted; the API may
# read it (as 0002's default privileges always allowed) so a merged feature is not dark, and the
# catalogue test names it until it is declared.
UNDECLARED_FALLBACK: dict[DbRole, Access] = {API: READ}
