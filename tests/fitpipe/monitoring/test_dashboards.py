"""The Grafana dashboards: every query is PromQL the real promtool accepts, and every metric it names is
one fitpipe exports or one node-exporter, cAdvisor or the kubelet exports.
"""

from __future__ import annotations

import json
import re
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path
from types import ModuleType

import httpx
import pytest
import yaml

from fitpipe.monitoring.dashboards import SIDECAR_LABEL, dashboard_configmaps, load_dashboards, panel_queries
from fitpipe.monitoring.metrics import exposed_names
from tests.prometheus_tools import Tool

# Metrics of the exporters kube-prometheus-stack scrapes, as their documentation and /metrics name them.
NODE_EXPORTER = frozenset(
    {
        "node_cpu_seconds_total",
        "node_load1",
        "node_load5",
        "node_load15",
        "node_memory_MemAvailable_bytes",
        "node_memory_MemTotal_bytes",
        "node_memory_MemFree_bytes",
        "node_memory_Cached_bytes",
        "node_memory_Buffers_bytes",
        "node_filesystem_avail_bytes",
        "node_filesystem_size_bytes",
        "node_filesystem_free_bytes",
        "node_disk_read_bytes_total",
        "node_disk_written_bytes_total",
        "node_disk_io_time_seconds_total",
        "node_network_receive_bytes_total",
        "node_network_transmit_bytes_total",
        "node_uname_info",
        "node_boot_time_seconds",
    }
)
CADVISOR = frozenset(
    {
        "container_cpu_usage_seconds_total",
        "container_cpu_cfs_periods_total",
        "container_cpu_cfs_throttled_periods_total",
        "container_memory_working_set_bytes",
        "container_memory_rss",
        "container_memory_usage_bytes",
        "container_network_receive_bytes_total",
        "container_network_transmit_bytes_total",
        "container_fs_reads_bytes_total",
        "container_fs_writes_bytes_total",
    }
)
KUBELET = frozenset(
    {
        "kubelet_volume_stats_used_bytes",
        "kubelet_volume_stats_capacity_bytes",
        "kubelet_volume_stats_available_bytes",
        "kubelet_volume_stats_inodes_used",
        "kubelet_running_pods",
    }
)
KNOWN = exposed_names() | NODE_EXPORTER | CADVISOR | KUBELET

# Grafana's variables are not PromQL: stand-ins that keep each query's shape.
_INTERVALS = {"$__rate_interval": "5m", "$__interval": "1m", "$__range": "1h"}
_VARIABLE = re.compile(r"\$\{?(\w+)\}?")


def promql(expr: str) -> str:
    for variable, duration in _INTERVALS.items():
        expr = expr.replace(variable, duration)
    return _VARIABLE.sub("x", expr)


def all_queries() -> list[tuple[str, str, str]]:
    """(dashboard, panel or variable, PromQL) over every dashboard."""
    queries = []
    for name, dashboard in load_dashboards().items():
        queries += [(name, title, promql(expr)) for title, expr in panel_queries(dashboard)]
        for variable in dashboard["templating"]["list"]:
            match = re.fullmatch(r"label_values\((\w+), *\w+\)", variable.get("definition", ""))
            if match:
                queries.append((name, f"${variable['name']}", match.group(1)))
    return queries


def parser() -> ModuleType:
    return pytest.importorskip(
        "promql_parser", reason="promql-parser is not installed (a test extra: pip install promql-parser)"
    )


def metric_names(expr: str) -> set[str]:
    promql_parser = parser()
    names: set[str] = set()

    def visit(node: object) -> bool:
        if isinstance(node, promql_parser.VectorSelector):
            if node.name:
                names.add(node.name)
            names.update(m.value for m in node.matchers.matchers if m.name == "__name__")
        return True

    promql_parser.walk(promql_parser.parse(expr), visit)
    return names


def test_there_are_application_api_and_infrastructure_dashboards() -> None:
    dashboards = load_dashboards()
    assert set(dashboards) == {"application", "api", "infrastructure"}
    assert len({d["uid"] for d in dashboards.values()}) == 3
    for name, dashboard in dashboards.items():
        assert len(list(panel_queries(dashboard))) >= 5, f"{name} has almost no queries"


@pytest.mark.monitoring
def test_every_query_is_promql_that_promtool_accepts(promtool: Tool, tmp_path: Path) -> None:
    queries = all_queries()
    # promtool has no bare PromQL check: each query becomes a recording rule, which `check rules` parses.
    rules = [{"record": f"dashboard:query_{i}:check", "expr": expr} for i, (_, _, expr) in enumerate(queries)]
    path = tmp_path / "dashboard-queries.yml"
    path.write_text(yaml.safe_dump({"groups": [{"name": "dashboards", "rules": rules}]}, width=1000))
    out = promtool("check", "rules", path).stdout
    assert f"SUCCESS: {len(queries)} rules found" in out


def test_metric_name_parser_refuses_broken_promql() -> None:
    with pytest.raises(ValueError):
        parser().parse("sum(rate(fitpipe_ingest_rows_total[5m])")


@pytest.mark.parametrize(("dashboard", "title", "expr"), all_queries(), ids=lambda v: str(v)[:60])
def test_every_metric_a_query_names_exists(dashboard: str, title: str, expr: str) -> None:
    names = metric_names(expr)
    assert names, f"{dashboard} / {title}: the query reads no metric"
    unknown = names - KNOWN
    assert not unknown, (
        f"{dashboard} / {title} reads {sorted(unknown)}: not exported by fitpipe or a known exporter"
    )


def test_every_panel_uses_the_datasource_variable() -> None:
    for name, dashboard in load_dashboards().items():
        assert any(v["type"] == "datasource" for v in dashboard["templating"]["list"])
        for panel in dashboard["panels"]:
            if panel["type"] != "row":
                assert panel["datasource"]["uid"] == "${datasource}", f"{name} / {panel['title']}"


def test_configmaps_carry_each_dashboard_for_the_grafana_sidecar() -> None:
    maps = dashboard_configmaps(namespace="trial", labels={"release": "kps"})
    assert len(maps) == len(load_dashboards())
    for cm in maps:
        assert cm["metadata"]["labels"] == {**SIDECAR_LABEL, "release": "kps"}
        assert cm["metadata"]["namespace"] == "trial"
        (content,) = cm["data"].values()
        assert json.loads(content)["uid"] in {d["uid"] for d in load_dashboards().values()}
        assert len(content.encode()) < 1024 * 1024  # a ConfigMap holds at most 1 MiB


@pytest.mark.monitoring
def test_listed_node_exporter_metrics_exist_in_the_real_node_exporter(tmp_path: Path) -> None:
    binary = shutil.which("prometheus-node-exporter") or shutil.which("node_exporter")
    if binary is None:
        pytest.skip("node-exporter is not installed (Debian package prometheus-node-exporter)")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen(
        [binary, f"--web.listen-address=127.0.0.1:{port}"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                text = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=5).text
                break
            except httpx.TransportError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=10)
    exported = {
        line.split("{")[0].split(" ")[0] for line in text.splitlines() if line and not line.startswith("#")
    }
    assert NODE_EXPORTER - exported == set()
