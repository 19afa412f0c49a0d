"""What a process's own database login could do beyond its grants, and refusing to serve with one that can.

The session user is what counts, not the current role: `SET ROLE` is undone by `RESET ROLE`, so a
superuser that switched to fitpipe_api is still a superuser. Ways past the grants: superuser, CREATEROLE
(it can make itself a member of any role), REPLICATION (it can stream the whole cluster), BYPASSRLS,
membership in another role, and owning fitpipe's tables (an owner may disable the audit log's trigger).
"""

from __future__ import annotations

from dataclasses import dataclass

import psycopg

from fitpipe.dbroles.catalog import DbRole
from fitpipe.errors import ConfigError

__all__ = ["LoginInfo", "inspect_login", "refuse_escalating_login"]


@dataclass(frozen=True)
class LoginInfo:
    user: str
    """The session user: the login itself, where RESET ROLE leads back to."""
    superuser: bool
    escalations: tuple[str, ...]
    """Each way this login can do more than its own grants, in words; empty for a least-privilege login."""

    @property
    def least_privilege(self) -> bool:
        return not self.escalations


_QUERY = """
SELECT r.rolname, r.rolsuper, r.rolcreaterole, r.rolreplication, r.rolbypassrls,
       ARRAY(SELECT g.rolname FROM pg_roles g
             WHERE g.oid <> r.oid AND pg_has_role(r.oid, g.oid, 'MEMBER') AND g.rolname <> ALL(%(allowed)s)
             ORDER BY 1),
       (SELECT c.relowner::regrole::text FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
         WHERE n.nspname = 'public' AND c.relname = 'audit_log' AND pg_has_role(r.oid, c.relowner, 'MEMBER'))
FROM pg_roles r WHERE r.rolname = session_user
"""


def inspect_login(conn: psycopg.Connection, expected: DbRole | None = None) -> LoginInfo:
    """The session user and its escalations. Membership in `expected` (a login of that group) is not one."""
    row = conn.execute(_QUERY, {"allowed": [expected.value] if expected else []}).fetchone()
    assert row is not None, "session_user always has a pg_roles row"
    user, superuser, createrole, replication, bypassrls, groups, owns = row
    if superuser:  # implies everything below; listing it all would hide the point
        return LoginInfo(user=user, superuser=True, escalations=("is a superuser",))
    escalations = []
    if createrole:
        escalations.append("has CREATEROLE (can grant itself any role)")
    if replication:
        escalations.append("has REPLICATION (can stream the whole cluster)")
    if bypassrls:
        escalations.append("has BYPASSRLS")
    if groups:
        escalations.append(f"can SET ROLE to {', '.join(groups)}")
    if owns:
        escalations.append(f"owns the schema (as {owns}) and could disable the audit log's trigger")
    return LoginInfo(user=user, superuser=False, escalations=tuple(escalations))


def refuse_escalating_login(
    conn: psycopg.Connection, *, process: str, role: DbRole, allow: bool, allow_setting: str
) -> LoginInfo:
    """ConfigError unless this connection's login is least-privilege (or `allow` says to run anyway)."""
    info = inspect_login(conn, expected=role)
    if info.least_privilege or allow:
        return info
    raise ConfigError(
        f"the {process} logged in to the database as {info.user}, which {'; '.join(info.escalations)}: "
        f"refusing to serve health data with a login that can bypass the audit log",
        hint=f"give the {process} its own login, role {role} ({_HOW_TO[role]}); "
        f"only for a throwaway database, set {allow_setting}=true to run as {info.user} anyway",
    )


_HOW_TO = {
    DbRole.API: "FITPIPE_API_DATABASE_URL or FITPIPE_API_DB_PASSWORD; the embedded database's login is "
    "created by `fitpipe migrate`",
    DbRole.INGEST: "FITPIPE_INGEST_DATABASE_URL or FITPIPE_INGEST_DB_PASSWORD; the embedded database's login "
    "is created by `fitpipe migrate`",
    DbRole.OWNER: "FITPIPE_OWNER_DB_PASSWORD",
}
