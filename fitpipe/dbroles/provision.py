"""Making a database match fitpipe/dbroles/catalog.py: the login roles exist with their attributes and
passwords, fitpipe_owner owns the schema, and each role holds exactly its declared privileges.

Run by `fitpipe migrate` after the migrations, every time, as a superuser, in one transaction: a fresh
database, one restored without its roles (pg_restore --no-owner --no-privileges, or into a new cluster), a
grant added or lost by hand all converge to the catalogue. Only differences are changed, and each change is
reported in words; a database already as declared gets no statement but reads.

Passwords never reach the server in clear: they are turned into SCRAM-SHA-256 verifiers here (libpq's
PQencryptPasswordConn), and an unchanged password is recognised from the stored verifier, not re-set.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, field

import psycopg
from psycopg import sql

from fitpipe.dbroles.catalog import (
    DATABASE_PRIVILEGES,
    FUNCTIONS,
    MANAGED_ROLES,
    OWNER,
    TABLES,
    UNDECLARED_FALLBACK,
    Access,
    DbRole,
)
from fitpipe.errors import DatabaseError

__all__ = ["ProvisionReport", "provision", "ensure_roles", "grant_as_declared", "scram_matches"]

PUBLIC = "PUBLIC"
_TABLE_PRIVILEGES = ("SELECT", "INSERT", "UPDATE", "DELETE", "TRUNCATE", "REFERENCES", "TRIGGER")
# What a login role must not have: any of these lets it act past its grants.
_ROLE_ATTRIBUTES = {
    "rolcanlogin": ("LOGIN", True),
    "rolsuper": ("SUPERUSER", False),
    "rolcreatedb": ("CREATEDB", False),
    "rolcreaterole": ("CREATEROLE", False),
    "rolreplication": ("REPLICATION", False),
    "rolbypassrls": ("BYPASSRLS", False),
}


@dataclass
class ProvisionReport:
    changes: list[str] = field(default_factory=list)
    undeclared: list[str] = field(default_factory=list)
    """Tables and views in schema public without a line in catalog.TABLES."""
    without_password: list[DbRole] = field(default_factory=list)
    """Roles that have no password yet (none was given): nobody can log in as them by password."""


def provision(
    conn: psycopg.Connection, passwords: Mapping[DbRole, str | None] | None = None
) -> ProvisionReport:
    """Bring roles, ownership and privileges to the catalogue. `conn` must be a superuser's, in autocommit."""
    report = ensure_roles(conn, passwords)
    grant_as_declared(conn, report)
    return report


def ensure_roles(
    conn: psycopg.Connection, passwords: Mapping[DbRole, str | None] | None = None
) -> ProvisionReport:
    """The login roles exist, with their attributes and passwords (before migrations, which may grant to them)."""
    _require_superuser(conn)
    report = ProvisionReport()
    with conn.transaction():
        for role in MANAGED_ROLES:
            _ensure_role(conn, role, (passwords or {}).get(role), report)
    return report


def grant_as_declared(conn: psycopg.Connection, report: ProvisionReport) -> None:
    """fitpipe_owner owns the schema and every role holds exactly its declared privileges (after migrations)."""
    _require_superuser(conn)
    with conn.transaction():
        _hand_schema_to_owner(conn, report)
        _schema_and_database_privileges(conn, report)
        _table_privileges(conn, report)
        _sequence_privileges(conn, report)
        _function_privileges(conn, report)


def _require_superuser(conn: psycopg.Connection) -> None:
    row = conn.execute("SELECT current_user, rolsuper FROM pg_roles WHERE rolname = current_user").fetchone()
    if not row or not row[1]:
        raise DatabaseError(
            f"`fitpipe migrate` connected as {row[0] if row else 'an unknown role'}, which is not a superuser: "
            "it cannot create the login roles or hand the schema to fitpipe_owner",
            hint="run migrations with the database's superuser (DATABASE_URL, or DB_USER/DB_PASS); "
            "the API and the ingest job log in with their own roles",
        )


# ---- roles ------------------------------------------------------------------------------------------
def _ensure_role(
    conn: psycopg.Connection, role: DbRole, password: str | None, report: ProvisionReport
) -> None:
    ident = sql.Identifier(role.value)
    row = conn.execute(
        "SELECT oid, rolcanlogin, rolsuper, rolcreatedb, rolcreaterole, rolreplication, rolbypassrls, rolpassword "
        "FROM pg_authid WHERE rolname = %s",
        (role.value,),
    ).fetchone()
    if row is None:
        attributes = " ".join(word if want else f"NO{word}" for word, want in _ROLE_ATTRIBUTES.values())
        conn.execute(sql.SQL("CREATE ROLE {} " + attributes).format(ident))
        report.changes.append(f"created role {role}")
        stored: str | None = None
    else:
        current = dict(zip(_ROLE_ATTRIBUTES, row[1:7], strict=True))
        wrong = [(word, want) for col, (word, want) in _ROLE_ATTRIBUTES.items() if current[col] != want]
        if wrong:
            fix = " ".join(word if want else f"NO{word}" for word, want in wrong)
            conn.execute(sql.SQL("ALTER ROLE {} " + fix).format(ident))
            report.changes.append(f"role {role}: set {fix}")
        stored = row[7]
    for (group,) in conn.execute(
        """SELECT g.rolname FROM pg_auth_members m JOIN pg_roles g ON g.oid = m.roleid
           JOIN pg_roles r ON r.oid = m.member WHERE r.rolname = %s ORDER BY 1""",
        (role.value,),
    ).fetchall():
        # membership in another role is a way to more privileges than the catalogue gives
        conn.execute(sql.SQL("REVOKE {} FROM {}").format(sql.Identifier(group), ident))
        report.changes.append(f"role {role}: removed from role {group}")
    if password:
        if not (stored and scram_matches(stored, password)):
            verifier = conn.pgconn.encrypt_password(password.encode(), role.value.encode(), b"scram-sha-256")
            conn.execute(sql.SQL("ALTER ROLE {} PASSWORD {}").format(ident, sql.Literal(verifier.decode())))
            report.changes.append(f"role {role}: password set")
    elif not stored:
        report.without_password.append(role)
    comment = conn.execute(
        "SELECT shobj_description(oid, 'pg_authid') FROM pg_roles WHERE rolname = %s", (role.value,)
    ).fetchone()
    if not comment or comment[0] != role.purpose:
        conn.execute(sql.SQL("COMMENT ON ROLE {} IS {}").format(ident, sql.Literal(role.purpose)))


def scram_matches(stored: str, password: str) -> bool:
    """True when a stored SCRAM-SHA-256 verifier was made from this password (RFC 5802/7677)."""
    try:
        method, rest = stored.split("$", 1)
        iterations_salt, keys = rest.split("$", 1)
        iterations, salt = iterations_salt.split(":", 1)
        stored_key, _server_key = keys.split(":", 1)
    except ValueError:
        return False
    if method != "SCRAM-SHA-256":
        return False
    salted = hashlib.pbkdf2_hmac("sha256", password.encode(), base64.b64decode(salt), int(iterations))
    client_key = hmac.new(salted, b"Client Key", hashlib.sha256).digest()
    return hmac.compare_digest(base64.b64encode(hashlib.sha256(client_key).digest()).decode(), stored_key)


# ---- ownership ----------------------------------------------------------------------------------------
_NOT_EXTENSION_MEMBER = "NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.objid = {oid} AND d.deptype = 'e')"

_OWNED_OBJECTS = f"""
SELECT 'TABLE', c.oid::regclass::text, c.relowner FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
 WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p', 'f')
   AND {_NOT_EXTENSION_MEMBER.format(oid="c.oid")}
UNION ALL
SELECT 'VIEW', c.oid::regclass::text, c.relowner FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
 WHERE n.nspname = 'public' AND c.relkind = 'v' AND {_NOT_EXTENSION_MEMBER.format(oid="c.oid")}
UNION ALL
SELECT 'MATERIALIZED VIEW', c.oid::regclass::text, c.relowner FROM pg_class c
  JOIN pg_namespace n ON n.oid = c.relnamespace
 WHERE n.nspname = 'public' AND c.relkind = 'm' AND {_NOT_EXTENSION_MEMBER.format(oid="c.oid")}
UNION ALL
-- sequences owned by a column follow their table; only free-standing ones are handed over themselves
SELECT 'SEQUENCE', c.oid::regclass::text, c.relowner FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
 WHERE n.nspname = 'public' AND c.relkind = 'S' AND {_NOT_EXTENSION_MEMBER.format(oid="c.oid")}
   AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.objid = c.oid AND d.deptype IN ('a', 'i')
                   AND d.refclassid = 'pg_class'::regclass)
UNION ALL
SELECT CASE p.prokind WHEN 'p' THEN 'PROCEDURE' WHEN 'a' THEN 'AGGREGATE' ELSE 'FUNCTION' END,
       p.oid::regprocedure::text, p.proowner FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
 WHERE n.nspname = 'public' AND {_NOT_EXTENSION_MEMBER.format(oid="p.oid")}
UNION ALL
SELECT CASE t.typtype WHEN 'd' THEN 'DOMAIN' ELSE 'TYPE' END, t.oid::regtype::text, t.typowner FROM pg_type t
  JOIN pg_namespace n ON n.oid = t.typnamespace
 WHERE n.nspname = 'public' AND t.typtype IN ('e', 'd', 'r', 'm') AND {_NOT_EXTENSION_MEMBER.format(oid="t.oid")}
   AND (t.typtype <> 'm' OR NOT EXISTS (SELECT 1 FROM pg_range r WHERE r.rngmultitypid = t.oid))
"""


def _hand_schema_to_owner(conn: psycopg.Connection, report: ProvisionReport) -> None:
    """Every fitpipe object in schema public is owned by fitpipe_owner (TimescaleDB moves the chunks along)."""
    owner_oid = _oid(conn, OWNER)
    moved: dict[str, int] = defaultdict(int)
    for kind, name, owner in conn.execute(_OWNED_OBJECTS).fetchall():
        if owner == owner_oid:
            continue
        # `name` is the server's own quoted rendering (regclass/regprocedure/regtype): safe as SQL text
        conn.execute(
            sql.SQL("ALTER {} {} OWNER TO {}").format(sql.SQL(kind), sql.SQL(name), sql.Identifier(OWNER))
        )
        moved[kind.lower()] += 1
    if moved:
        report.changes.append(
            f"handed to {OWNER}: "
            + ", ".join(f"{n} {kind}{'s' if n > 1 else ''}" for kind, n in sorted(moved.items()))
        )


# ---- schema and database --------------------------------------------------------------------------------
def _schema_and_database_privileges(conn: psycopg.Connection, report: ProvisionReport) -> None:
    wanted_schema = {OWNER: {"USAGE", "CREATE"}, **{r: {"USAGE"} for r in MANAGED_ROLES if r != OWNER}}
    have = _acl_by_grantee(conn, "SELECT nspacl, nspowner FROM pg_namespace WHERE nspname = 'public'", "n")
    for role, privileges in wanted_schema.items():
        missing = privileges - have.get(role.value, set())
        if missing:
            conn.execute(
                sql.SQL("GRANT {} ON SCHEMA public TO {}").format(
                    sql.SQL(", ").join(sql.SQL(p) for p in sorted(missing)), sql.Identifier(role)
                )
            )
            report.changes.append(f"schema public: granted {', '.join(sorted(missing))} to {role}")
    database = conn.execute("SELECT current_database()").fetchone()[0]  # type: ignore[index]
    have = _acl_by_grantee(
        conn, "SELECT datacl, datdba FROM pg_database WHERE datname = current_database()", "d"
    )
    public_extra = have.get(PUBLIC, set()) & {"CONNECT", "TEMPORARY"}
    if public_extra:
        conn.execute(
            sql.SQL("REVOKE {} ON DATABASE {} FROM PUBLIC").format(
                sql.SQL(", ").join(sql.SQL(p) for p in sorted(public_extra)), sql.Identifier(database)
            )
        )
        report.changes.append(f"database {database}: revoked {', '.join(sorted(public_extra))} from PUBLIC")
    for role, declared in DATABASE_PRIVILEGES.items():
        granted = have.get(role.value, set())
        missing = set(declared) - granted
        extra = (granted & {"CONNECT", "TEMPORARY", "CREATE"}) - set(declared)
        for verb, which, prep in (("GRANT", missing, "TO"), ("REVOKE", extra, "FROM")):
            if which:
                conn.execute(
                    sql.SQL("{} {} ON DATABASE {} {} {}").format(
                        sql.SQL(verb),
                        sql.SQL(", ").join(sql.SQL(p) for p in sorted(which)),
                        sql.Identifier(database),
                        sql.SQL(prep),
                        sql.Identifier(role),
                    )
                )
                done = "granted" if verb == "GRANT" else "revoked"
                report.changes.append(
                    f"database {database}: {done} {', '.join(sorted(which))} {prep.lower()} {role}"
                )


def _acl_by_grantee(conn: psycopg.Connection, query: str, kind: str) -> dict[str, set[str]]:
    """{grantee name or PUBLIC: privileges} of one ACL column (the default ACL when it is NULL)."""
    rows = conn.execute(
        f"""SELECT CASE WHEN a.grantee = 0 THEN 'PUBLIC' ELSE a.grantee::regrole::text END, a.privilege_type
            FROM ({query}) AS o(acl, owner), aclexplode(coalesce(o.acl, acldefault(%s, o.owner))) a""",  # type: ignore[arg-type]
        (kind,),
    ).fetchall()
    out: dict[str, set[str]] = defaultdict(set)
    for grantee, privilege in rows:
        out[grantee.strip('"')].add(privilege)
    return out


# ---- tables, views, sequences ---------------------------------------------------------------------------
def _table_privileges(conn: psycopg.Connection, report: ProvisionReport) -> None:
    relations: dict[str, str] = dict(
        conn.execute(
            """SELECT c.relname, c.relkind FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
               WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p', 'v', 'm', 'f')"""
        ).fetchall()
    )
    managed = {r.value for r in MANAGED_ROLES if r != OWNER} | {PUBLIC}
    have: dict[tuple[str, str], set[tuple[str, str | None]]] = defaultdict(set)
    for table, grantee, privilege, column in conn.execute(
        """
        SELECT c.relname, CASE WHEN a.grantee = 0 THEN 'PUBLIC' ELSE a.grantee::regrole::text END,
               a.privilege_type, NULL::text
        FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace,
             aclexplode(coalesce(c.relacl, acldefault('r', c.relowner))) a
        WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p', 'v', 'm', 'f')
        UNION ALL
        SELECT c.relname, CASE WHEN a.grantee = 0 THEN 'PUBLIC' ELSE a.grantee::regrole::text END,
               a.privilege_type, att.attname::text
        FROM pg_attribute att JOIN pg_class c ON c.oid = att.attrelid JOIN pg_namespace n ON n.oid = c.relnamespace,
             aclexplode(att.attacl) a
        WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p', 'v', 'm', 'f') AND att.attnum > 0
          AND NOT att.attisdropped AND att.attacl IS NOT NULL
        """
    ).fetchall():
        if grantee in managed:
            have[(table, grantee)].add((privilege, column))
    for table in sorted(relations):
        declared = TABLES.get(table)
        if declared is None:
            report.undeclared.append(table)
        for grantee in sorted(managed):
            access = _declared_access(declared, grantee)
            wanted = access.wanted() if access else set()
            current = have.get((table, grantee), set())
            missing = wanted - current
            # an undeclared table keeps what its migration granted; a declared one has exactly its line
            extra = (current - wanted) if declared is not None else set()
            if missing:
                _apply(conn, "GRANT", table, grantee, missing)
                report.changes.append(f"{table}: granted {_describe(missing)} to {grantee}")
            if extra:
                _apply(conn, "REVOKE", table, grantee, extra)
                report.changes.append(f"{table}: revoked {_describe(extra)} from {grantee}")


def _declared_access(declared: dict[DbRole, Access] | None, grantee: str) -> Access | None:
    if grantee == PUBLIC:
        return None
    role = DbRole(grantee)
    if declared is None:
        return UNDECLARED_FALLBACK.get(role)
    return declared.get(role)


def _apply(
    conn: psycopg.Connection, verb: str, table: str, grantee: str, privileges: set[tuple[str, str | None]]
) -> None:
    by_privilege: dict[str, list[str | None]] = defaultdict(list)
    for privilege, column in privileges:
        by_privilege[privilege].append(column)
    parts: list[sql.Composable] = []
    for privilege in sorted(by_privilege):
        if privilege not in _TABLE_PRIVILEGES:  # pragma: no cover - aclexplode names only these for tables
            raise DatabaseError(f"unexpected privilege {privilege} on {table}")
        columns = [c for c in by_privilege[privilege] if c is not None]
        if None in by_privilege[privilege]:
            parts.append(sql.SQL(privilege))
        if columns:
            parts.append(
                sql.SQL("{} ({})").format(
                    sql.SQL(privilege), sql.SQL(", ").join(sql.Identifier(c) for c in sorted(columns))
                )
            )
    who = sql.SQL("PUBLIC") if grantee == PUBLIC else sql.Identifier(grantee)
    conn.execute(
        sql.SQL("{} {} ON {} {} {}").format(
            sql.SQL(verb),
            sql.SQL(", ").join(parts),
            sql.Identifier(table),
            sql.SQL("TO" if verb == "GRANT" else "FROM"),
            who,
        )
    )


def _describe(privileges: set[tuple[str, str | None]]) -> str:
    by_privilege: dict[str, list[str]] = defaultdict(list)
    for privilege, column in privileges:
        by_privilege[privilege].append(column or "*")
    return ", ".join(
        p if by_privilege[p] == ["*"] else f"{p}({', '.join(sorted(by_privilege[p]))})"
        for p in sorted(by_privilege)
    )


def _sequence_privileges(conn: psycopg.Connection, report: ProvisionReport) -> None:
    """USAGE on a table's own sequences for each role that may INSERT into it; nothing else for anyone."""
    managed = {r.value for r in MANAGED_ROLES if r != OWNER} | {PUBLIC}
    rows = conn.execute(
        """
        SELECT s.relname, t.relname,
               CASE WHEN a.grantee = 0 THEN 'PUBLIC' ELSE a.grantee::regrole::text END, a.privilege_type
        FROM pg_class s JOIN pg_namespace n ON n.oid = s.relnamespace
        LEFT JOIN pg_depend d ON d.objid = s.oid AND d.deptype IN ('a', 'i') AND d.refclassid = 'pg_class'::regclass
        LEFT JOIN pg_class t ON t.oid = d.refobjid
        LEFT JOIN LATERAL aclexplode(coalesce(s.relacl, acldefault('s', s.relowner))) a ON true
        WHERE n.nspname = 'public' AND s.relkind = 'S'
        """
    ).fetchall()
    have: dict[tuple[str, str], set[str]] = defaultdict(set)
    table_of: dict[str, str | None] = {}
    for seq, table, grantee, privilege in rows:
        table_of[seq] = table
        if grantee in managed:
            have[(seq, grantee)].add(privilege)
    for seq, table in sorted(table_of.items()):
        declared = TABLES.get(table) if table else None
        for grantee in sorted(managed):
            access = _declared_access(declared, grantee) if table else None
            wanted = {"USAGE"} if access and access.insert else set()
            current = have.get((seq, grantee), set())
            if table and declared is None:
                continue  # undeclared table: its migration's grants stand
            who = sql.SQL("PUBLIC") if grantee == PUBLIC else sql.Identifier(grantee)
            for verb, which, prep in (
                ("GRANT", wanted - current, "TO"),
                ("REVOKE", current - wanted, "FROM"),
            ):
                if which:
                    conn.execute(
                        sql.SQL("{} {} ON SEQUENCE {} {} {}").format(
                            sql.SQL(verb),
                            sql.SQL(", ").join(sql.SQL(p) for p in sorted(which)),
                            sql.Identifier(seq),
                            sql.SQL(prep),
                            who,
                        )
                    )
                    report.changes.append(
                        f"{seq}: {'granted' if verb == 'GRANT' else 'revoked'} {', '.join(sorted(which))} "
                        f"{prep.lower()} {grantee}"
                    )


def _oid(conn: psycopg.Connection, role: DbRole) -> int:
    row = conn.execute("SELECT oid FROM pg_roles WHERE rolname = %s", (role.value,)).fetchone()
    assert row is not None, f"role {role} was just ensured"
    return int(row[0])


# ---- functions ------------------------------------------------------------------------------------------
def _function_privileges(conn: psycopg.Connection, report: ProvisionReport) -> None:
    """EXECUTE on the declared functions for exactly their roles (and not PUBLIC); absent ones are skipped
    (a schema before the migration that adds them)."""
    managed = {r.value for r in MANAGED_ROLES if r != OWNER} | {PUBLIC}
    for signature, roles in sorted(FUNCTIONS.items()):
        row = conn.execute("SELECT to_regprocedure(%s)::oid", (f"public.{signature}",)).fetchone()
        if not row or row[0] is None:
            continue
        have = _acl_by_grantee(conn, f"SELECT proacl, proowner FROM pg_proc WHERE oid = {int(row[0])}", "f")
        wanted = {r.value for r in roles}
        for grantee in sorted(managed):
            holds = "EXECUTE" in have.get(grantee, set())
            target = sql.SQL("PUBLIC") if grantee == PUBLIC else sql.Identifier(grantee)
            name = signature.split("(")[0]
            if grantee in wanted and not holds:
                conn.execute(
                    sql.SQL("GRANT EXECUTE ON FUNCTION {} TO {}").format(
                        sql.SQL(f"public.{signature}"), target
                    )
                )
                report.changes.append(f"function {name}: granted EXECUTE to {grantee}")
            elif grantee not in wanted and holds:
                conn.execute(
                    sql.SQL("REVOKE EXECUTE ON FUNCTION {} FROM {}").format(
                        sql.SQL(f"public.{signature}"), target
                    )
                )
                report.changes.append(f"function {name}: revoked EXECUTE from {grantee}")
