"""The catalogue of privileges against the fully migrated schema: complete, and what the database holds."""

from __future__ import annotations

import psycopg
import pytest

from fitpipe.dbroles.catalog import MANAGED_ROLES, OWNER, TABLES, UNDECLARED_FALLBACK, Access
from tests.queries import scalar

pytestmark = pytest.mark.db

_PRIVILEGES = ("SELECT", "INSERT", "UPDATE", "DELETE", "TRUNCATE", "REFERENCES", "TRIGGER")


def _relations(db: psycopg.Connection) -> dict[str, str]:
    return dict(
        db.execute(
            """SELECT c.relname, c.relkind FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
               WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p', 'v', 'm', 'f')"""
        ).fetchall()
    )


def test_every_table_and_view_has_declared_privileges(db: psycopg.Connection) -> None:
    undeclared = sorted(set(_relations(db)) - set(TABLES))
    assert undeclared == [], (
        f"add {', '.join(undeclared)} to TABLES in fitpipe/dbroles/catalog.py with what fitpipe_api and "
        "fitpipe_ingest may do on it (nothing is also a choice: an empty dict)"
    )


def test_every_declared_table_and_column_exists(db: psycopg.Connection) -> None:
    relations = _relations(db)
    assert sorted(set(TABLES) - set(relations)) == []
    for table, grants in TABLES.items():
        columns = {
            r[0]
            for r in db.execute(
                "SELECT attname FROM pg_attribute WHERE attrelid = %s::regclass AND attnum > 0", (table,)
            )
        }
        for role, access in grants.items():
            named = {c for _, c in access.wanted() if c is not None}
            assert named <= columns, f"{table} has no column(s) {sorted(named - columns)} granted to {role}"


def test_the_database_holds_exactly_the_declared_table_privileges(db: psycopg.Connection) -> None:
    mismatches = []
    for table in _relations(db):
        for role in MANAGED_ROLES:
            if role == OWNER:
                continue
            access = TABLES.get(table, {}).get(role) or (
                None if table in TABLES else UNDECLARED_FALLBACK.get(role)
            )
            wanted = (access or Access()).wanted()
            for privilege in _PRIVILEGES:
                has = scalar(db, "SELECT has_table_privilege(%s, %s, %s)", (role.value, table, privilege))
                if has != ((privilege, None) in wanted):
                    mismatches.append(f"{role} {privilege} on {table}: has={has}")
            for privilege, column in wanted:
                if column is not None and privilege in ("SELECT", "UPDATE"):
                    has = scalar(
                        db,
                        "SELECT has_column_privilege(%s, %s, %s, %s)",
                        (role.value, table, column, privilege),
                    )
                    if not has:
                        mismatches.append(f"{role} {privilege}({column}) on {table}: missing")
    assert mismatches == []


def test_the_owner_role_owns_every_fitpipe_object(db: psycopg.Connection) -> None:
    others = db.execute(
        """SELECT c.relname, c.relowner::regrole::text FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
           WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p', 'v', 'm', 'S')
             AND c.relowner <> 'fitpipe_owner'::regrole
           UNION ALL
           SELECT p.proname, p.proowner::regrole::text FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
           WHERE n.nspname = 'public' AND p.proowner <> 'fitpipe_owner'::regrole
             AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.objid = p.oid AND d.deptype = 'e')"""
    ).fetchall()
    assert others == []


def test_the_owner_is_no_superuser_and_no_role_can_create_roles(db: psycopg.Connection) -> None:
    rows = db.execute(
        """SELECT rolname, rolcanlogin, rolsuper, rolcreaterole, rolcreatedb, rolreplication, rolbypassrls
           FROM pg_roles WHERE rolname = ANY(%s) ORDER BY 1""",
        ([r.value for r in MANAGED_ROLES],),
    ).fetchall()
    assert rows == [
        (name, True, False, False, False, False, False) for name in sorted(r.value for r in MANAGED_ROLES)
    ]
