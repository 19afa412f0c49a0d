"""Checksum annotations (issue 14.6): a workload rolls when a Secret it reads is revised or created anew,
or an operator-rendered ConfigMap it reads changes, and only then; the migration Job runs again when a
database password changes. The operator never reads a Secret to know."""

from __future__ import annotations

from typing import Any

from fitpipe_operator.children.rollout import CHECKSUM_ANNOTATION, pod_template, referenced
from fitpipe_operator.render import render
from tests.operator.conftest import GOOGLE, VARIANTS

NS = "trial-a"


def checksums(spec: dict[str, Any], generated: dict[str, int] | None = None) -> dict[str, str | None]:
    """Workload -> its checksum annotation (None: none), the migration Job by its component."""
    out = {}
    for m in render("trial-a", NS, spec, generated=generated):
        if m["kind"] in ("Deployment", "StatefulSet", "Job", "CronJob"):
            key = m["metadata"]["labels"]["app.kubernetes.io/component"]
            if m["kind"] == "CronJob" and key == "backup":
                key = m["metadata"]["name"]
            out[key] = (pod_template(m)["metadata"].get("annotations") or {}).get(CHECKSUM_ANNOTATION)
    return out


def migration_job(spec: dict[str, Any], generated: dict[str, int] | None = None) -> str:
    return next(
        m["metadata"]["name"] for m in render("trial-a", NS, spec, generated=generated) if m["kind"] == "Job"
    )


def changed(before: dict[str, str | None], after: dict[str, str | None]) -> set[str]:
    return {k for k in before if before[k] != after[k]}


def test_nothing_revised_means_no_annotation_so_an_operator_upgrade_restarts_nothing() -> None:
    assert set(checksums(GOOGLE).values()) == {None}
    # Created once: the first creation is no revision (the pods waited for the Secret anyway).
    assert checksums(GOOGLE, {"trial-a-db-api": 1, "trial-a-token-key": 1}) == checksums(GOOGLE)


def test_revising_a_users_secret_rolls_exactly_its_readers() -> None:
    spec = {**GOOGLE, "smtp": {"secretName": "smtp"}}
    before = checksums(spec)
    after = checksums({**spec, "secretRevisions": {"smtp": "2026-03-rotation"}})
    assert changed(before, after) == {"api", "ingest"}  # MAIL_* readers; not the database, not the dashboard
    google = checksums({**spec, "secretRevisions": {"google": "2"}})
    assert changed(before, google) == {"api", "ingest"}


def test_a_role_password_created_anew_reruns_the_migration_and_rolls_its_login() -> None:
    before, job = checksums(GOOGLE), migration_job(GOOGLE)
    after = checksums(GOOGLE, {"trial-a-db-api": 2})
    assert changed(before, after) == {"api", "migrate"}
    assert migration_job(GOOGLE, {"trial-a-db-api": 2}) != job
    ingest = checksums(GOOGLE, {"trial-a-db-ingest": 2})
    assert changed(before, ingest) == {"ingest", "migrate"}
    by_hand = checksums({**GOOGLE, "secretRevisions": {"trial-a-db-owner": "rotated"}})
    assert changed(before, by_hand) == {"migrate"}


def test_a_new_dashboard_key_rolls_only_the_dashboard() -> None:
    assert changed(checksums(GOOGLE), checksums(GOOGLE, {"trial-a-dashboard-key": 2})) == {"dashboard"}


def test_backup_configuration_is_read_live_but_the_agent_rolls_the_database() -> None:
    spec = VARIANTS["backup-pvc"]
    before = checksums(spec)
    assert before["timescaledb"] is not None  # it reads the agent's ConfigMap
    retention = {**spec, "backup": {**spec["backup"], "retention": {"full": 9}}}
    # pgbackrest.conf is re-read on every call: a new retention restarts nothing.
    assert changed(before, checksums(retention)) == set()
    rotated_s3 = {
        **spec,
        "backup": {
            **spec["backup"],
            "repository": {
                "type": "s3",
                "s3": {"bucket": "b-1", "endpoint": "e", "region": "r", "secretName": "s3"},
            },
        },
        "secretRevisions": {},
    }
    s3_before = checksums(rotated_s3)
    s3_after = checksums({**rotated_s3, "secretRevisions": {"s3": "2"}})
    assert changed(s3_before, s3_after) == set()  # a `live-` Secret volume: the next call reads the new key


def test_references_are_found_in_env_envfrom_and_volumes_but_live_volumes() -> None:
    pod = {
        "initContainers": [
            {"name": "i", "env": [{"name": "A", "valueFrom": {"secretKeyRef": {"name": "s1", "key": "k"}}}]}
        ],
        "containers": [
            {
                "name": "c",
                "env": [{"name": "B", "valueFrom": {"configMapKeyRef": {"name": "c1", "key": "k"}}}],
                "envFrom": [{"secretRef": {"name": "s2"}}, {"configMapRef": {"name": "c2"}}],
            }
        ],
        "volumes": [
            {"name": "v", "secret": {"secretName": "s3"}},
            {"name": "w", "configMap": {"name": "c3"}},
            {"name": "live-x", "secret": {"secretName": "s4"}},
        ],
    }
    assert referenced(pod) == ({"s1", "s2", "s3"}, {"c1", "c2", "c3"})
