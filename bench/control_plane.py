"""The real control plane of the cluster tests and the operator on it: how long things take.

    .venv/bin/python bench/control_plane.py [--starts 3] [--cold]

Prints a table: the build (`--cold`: into an empty cache with an empty Go build cache, the Go module
cache kept, so a fresh machine adds the module download to it; otherwise the cached build's check),
the warm start (`scripts/control-plane.sh start` until it prints KUBECONFIG=, then stop) over
`--starts` runs, and on one control plane with the chart installed by Helm and the operator running
as its ServiceAccount: apply-to-Ready of examples/fitbitpipeline.yaml, and drift repair of a deleted
Deployment, a Deployment scaled by hand, and a deleted Service. Needs Go (the build) and the venv.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path

import click

if __package__ in (None, ""):  # run as a script: make the checkout importable without installing it
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.cluster.harness import (
    RELEASE,
    RELEASE_NAMESPACE,
    SCRIPT,
    OperatorProcess,
    example,
    example_secrets,
    install_chart,
    restricted_namespace,
    start_control_plane,
    stop_control_plane,
    wait_ready,
)
from tests.cluster.kube import Kube, eventually


def timed(action: Callable[[], object]) -> float:
    started = time.monotonic()
    action()
    return time.monotonic() - started


def build(cold: bool) -> tuple[str, float]:
    env = dict(os.environ, PYTHON=sys.executable)
    label = "build (cached: checked only)"
    if cold:
        env["FITPIPE_CONTROL_PLANE_CACHE"] = tempfile.mkdtemp(prefix="cp-cache-")
        env["GOCACHE"] = tempfile.mkdtemp(prefix="gocache-")
        label = "cold build (empty Go build cache; modules already downloaded)"
    seconds = timed(lambda: subprocess.run([str(SCRIPT), "build"], env=env, check=True, capture_output=True))
    return label, seconds


@click.command()
@click.option("--starts", default=3, show_default=True, help="Warm starts to time.")
@click.option("--cold", is_flag=True, help="Also time a build from nothing (20 minutes or more on 2 cores).")
def main(starts: int, cold: bool) -> None:
    rows: list[tuple[str, str]] = []
    label, seconds = build(cold)
    rows.append((label, f"{seconds:.0f} s"))

    runs = []
    for _ in range(starts):
        folder = Path(tempfile.mkdtemp(prefix="cp-bench-"))
        runs.append(timed(partial(start_control_plane, folder)))
        stop_control_plane(folder)
    rows.append(
        (
            f"warm start, to KUBECONFIG= (median of {starts})",
            f"{statistics.median(runs):.1f} s (runs: {', '.join(f'{r:.1f}' for r in runs)})",
        )
    )

    folder = Path(tempfile.mkdtemp(prefix="cp-bench-"))
    control_plane = start_control_plane(folder)
    kube = Kube.from_kubeconfig(control_plane.kubeconfig)
    operator = None
    try:
        deployment = install_chart(control_plane, kube, RELEASE, RELEASE_NAMESPACE, {})
        operator = OperatorProcess.as_installed(control_plane, kube, deployment, folder)
        operator.start()
        namespace = "trial-a"
        restricted_namespace(kube, namespace)
        example_secrets(kube, namespace)
        ready = timed(
            lambda: (kube.apply(example(namespace)), wait_ready(kube, namespace, "trial-a", timeout=300))
        )
        rows.append(
            ("apply example to Ready (every child created, pods Ready, migration Job done)", f"{ready:.1f} s")
        )

        def repair(what: str, damage: Callable[[], object], restored: Callable[[], bool]) -> None:
            time.sleep(5)  # let the previous repair's rollout settle, so its events do not trigger this one
            damage()
            rows.append((f"drift repair: {what}", f"{timed(lambda: eventually(restored, 120, what)):.1f} s"))

        old_uid = (kube.get("Deployment", "trial-a-api", namespace) or {})["metadata"]["uid"]
        repair(
            "Deployment deleted",
            lambda: kube.delete("Deployment", "trial-a-api", namespace),
            lambda: (
                (d := kube.get("Deployment", "trial-a-api", namespace)) is not None
                and d["metadata"]["uid"] != old_uid
            ),
        )
        repair(
            "Deployment scaled to 0 by hand",
            lambda: kube.patch("Deployment", "trial-a-api", namespace, {"spec": {"replicas": 0}}),
            lambda: (kube.get("Deployment", "trial-a-api", namespace) or {})["spec"]["replicas"] == 2,
        )
        repair(
            "Service deleted (the next periodic pass: statusInterval 30 s)",
            lambda: kube.delete("Service", "trial-a-api", namespace),
            lambda: kube.get("Service", "trial-a-api", namespace) is not None,
        )
        repair(
            "NetworkPolicy deleted (the next periodic pass)",
            lambda: kube.delete("NetworkPolicy", "trial-a-timescaledb", namespace),
            lambda: kube.get("NetworkPolicy", "trial-a-timescaledb", namespace) is not None,
        )
    finally:
        if operator is not None:
            operator.stop()
        kube.close()
        stop_control_plane(folder)

    width = max(len(r[0]) for r in rows)
    print(f"{'measure':<{width}}  result")
    for name, value in rows:
        print(f"{name:<{width}}  {value}")


if __name__ == "__main__":
    main()
