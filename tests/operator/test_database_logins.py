"""Each workload logs in to the database as its own role (issue 14.1): the superuser only in the database
and the migration Job, each role's password in a generated Secret created once, the API and ingest
with nothing but their own password."""

from __future__ import annotations

from typing import Any

import pytest

from fitpipe.dbroles.catalog import API, INGEST, OWNER
from fitpipe.settings import Settings
from fitpipe_operator.children.admin import admin_pod
from fitpipe_operator.children.rollout import pod_template
from fitpipe_operator.children.secrets import fill_generated
from fitpipe_operator.naming import GENERATE_ANNOTATION
from fitpipe_operator.render import render
from fitpipe_operator.spec import checked_spec
from tests.operator.conftest import GOOGLE, VARIANTS

NS = "trial-a"


def secret_refs(manifest: dict[str, Any]) -> dict[str, dict[str, str]]:
    """Every container's env variable -> the Secret and key it reads."""
    template = pod_template(manifest)
    out = {}
    for container in [*template["spec"].get("initContainers", []), *template["spec"]["containers"]]:
        for env in container.get("env") or []:
            ref = (env.get("valueFrom") or {}).get("secretKeyRef")
            if ref:
                out[f"{container['name']}:{env['name']}"] = {"name": ref["name"], "key": ref["key"]}
    return out


def workloads(spec: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {
        m["metadata"]["labels"]["app.kubernetes.io/component"]: m
        for m in render("trial-a", NS, spec)
        if m["kind"] in ("Deployment", "StatefulSet", "Job", "CronJob")
    }


def test_each_login_role_gets_its_own_generated_secret() -> None:
    secrets = {s["metadata"]["name"]: s for s in render("trial-a", NS, GOOGLE) if s["kind"] == "Secret"}
    for role, suffix in ((OWNER, "owner"), (API, "api"), (INGEST, "ingest")):
        secret = secrets[f"trial-a-db-{suffix}"]
        assert secret["stringData"] == {"username": role.value}
        assert secret["metadata"]["annotations"][GENERATE_ANNOTATION] == "password"
        filled = fill_generated(secret)
        assert len(filled["stringData"]["password"]) == 44 and filled["stringData"]["username"] == role.value


@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_only_the_database_and_the_migration_job_see_the_superuser(variant: str) -> None:
    superuser = "trial-a-db-credentials" if variant != "own-secrets" else "db-admin"
    for component, workload in workloads(VARIANTS[variant]).items():
        readers = {var for var, ref in secret_refs(workload).items() if ref["name"] == superuser}
        if component == "timescaledb":
            # The database itself, and pgBackRest's login name over the socket.
            assert readers <= {
                "timescaledb:POSTGRES_USER",
                "timescaledb:POSTGRES_PASSWORD",
                "backup-agent:PGBACKREST_PG1_USER",
            }
        elif component == "migrate":
            assert readers == {"migrate:DB_USER", "migrate:DB_PASS"}
        else:
            assert not readers, f"{component} reads the superuser's Secret: {readers}"


def test_the_migration_job_sets_every_roles_password() -> None:
    refs = secret_refs(workloads(GOOGLE)["migrate"])
    assert refs["migrate:FITPIPE_OWNER_DB_PASSWORD"] == {"name": "trial-a-db-owner", "key": "password"}
    assert refs["migrate:FITPIPE_API_DB_PASSWORD"] == {"name": "trial-a-db-api", "key": "password"}
    assert refs["migrate:FITPIPE_INGEST_DB_PASSWORD"] == {"name": "trial-a-db-ingest", "key": "password"}


def env_values(workload: dict[str, Any], container: int = 0) -> dict[str, Any]:
    env = pod_template(workload)["spec"]["containers"][container]["env"]
    return {e["name"]: e.get("value", e.get("valueFrom")) for e in env}


def test_the_api_and_ingest_get_their_own_password_and_no_escape_hatch() -> None:
    found = workloads(GOOGLE)
    api, ingest = env_values(found["api"]), env_values(found["ingest"])
    database = {"DB_HOST": "trial-a-timescaledb", "DB_PORT": "5432", "DB_NAME": "fitpipe"}
    assert database.items() <= api.items() and database.items() <= ingest.items()
    assert {k for k in api if "DB_" in k} == {"DB_HOST", "DB_PORT", "DB_NAME", "FITPIPE_API_DB_PASSWORD"}
    assert {k for k in ingest if "DB_" in k} == {
        "DB_HOST",
        "DB_PORT",
        "DB_NAME",
        "FITPIPE_INGEST_DB_PASSWORD",
    }
    assert "FITPIPE_API_ALLOW_SUPERUSER" not in api


def test_the_api_settings_built_from_that_env_log_in_as_fitpipe_api(monkeypatch: pytest.MonkeyPatch) -> None:
    # What fitpipe itself makes of the rendered environment (fitpipe/db.py), with the Secrets' values.
    from fitpipe.db import database_url

    for variable in ("DATABASE_URL", "DB_USER", "DB_PASS", "FITPIPE_API_DATABASE_URL"):
        monkeypatch.delenv(variable, raising=False)
    for variable, value in env_values(workloads(GOOGLE)["api"]).items():
        monkeypatch.setenv(variable, value if isinstance(value, str) else "s3cret/+=")
    url = database_url(Settings(), role=API)
    assert url == "postgresql://fitpipe_api:s3cret%2F%2B%3D@trial-a-timescaledb:5432/fitpipe"


def test_the_admin_pod_is_the_superuser_and_nothing_else_is_long_running() -> None:
    pod = admin_pod("trial-a", NS, checked_spec("trial-a", GOOGLE))
    env = {e["name"]: e.get("value", e.get("valueFrom")) for e in pod["spec"]["containers"][0]["env"]}
    assert env["DB_PASS"] == {"secretKeyRef": {"name": "trial-a-db-credentials", "key": "password"}}
    assert not any(k.endswith("_DB_PASSWORD") for k in env)  # it sets no role's password
    assert pod["metadata"]["labels"]["app.kubernetes.io/component"] == "admin"
    assert pod["spec"]["activeDeadlineSeconds"] == 3600 and pod["spec"]["restartPolicy"] == "Never"
    assert pod["spec"]["containers"][0]["command"] == ["sleep"]
