"""The operator's few verbs against the Kubernetes API (apply, create-if-absent, get, list, merge-patch,
delete) over the official client's transport and credentials, addressed by a fixed table of the kinds it
touches; the chart's RBAC grants exactly these (tests/operator/test_chart.py checks the two agree)."""

from __future__ import annotations

import contextlib
import datetime
import json
from typing import Any
from urllib.parse import quote

import kubernetes.client
import kubernetes.config

from fitpipe_operator.errors import ClusterError, ResourceMissingError

__all__ = ["FIELD_MANAGER", "PLURALS", "READ_ONLY", "Cluster", "resource_path"]

FIELD_MANAGER = "fitpipe-operator"

# Every kind the operator creates, and the FitbitPipelines themselves.
PLURALS: dict[tuple[str, str], str] = {
    ("v1", "Secret"): "secrets",
    ("v1", "Service"): "services",
    ("v1", "ConfigMap"): "configmaps",
    ("apps/v1", "StatefulSet"): "statefulsets",
    ("apps/v1", "Deployment"): "deployments",
    ("batch/v1", "Job"): "jobs",
    ("batch/v1", "CronJob"): "cronjobs",
    ("networking.k8s.io/v1", "NetworkPolicy"): "networkpolicies",
    ("networking.k8s.io/v1", "Ingress"): "ingresses",
    ("autoscaling/v2", "HorizontalPodAutoscaler"): "horizontalpodautoscalers",
    ("policy/v1", "PodDisruptionBudget"): "poddisruptionbudgets",
    ("monitoring.coreos.com/v1", "ServiceMonitor"): "servicemonitors",
    ("monitoring.coreos.com/v1", "PrometheusRule"): "prometheusrules",
    ("monitoring.coreos.com/v1alpha1", "AlertmanagerConfig"): "alertmanagerconfigs",
    # Not created: the database's claims, made by the StatefulSet controller, read and grown in place.
    ("v1", "PersistentVolumeClaim"): "persistentvolumeclaims",
    ("fitpipe.io/v1alpha1", "FitbitPipeline"): "fitbitpipelines",
}
# Kinds in PLURALS the operator never creates, applies or prunes.
READ_ONLY = {("v1", "PersistentVolumeClaim"), ("fitpipe.io/v1alpha1", "FitbitPipeline")}


def resource_path(
    api_version: str, kind: str, namespace: str | None, name: str | None = None, subresource: str = ""
) -> str:
    """The URL path of a collection (no name), an object, or its subresource; namespace None: all."""
    try:
        plural = PLURALS[(api_version, kind)]
    except KeyError:
        raise ClusterError(f"the operator does not manage {kind} ({api_version})", status=0) from None
    root = "/api/v1" if api_version == "v1" else f"/apis/{api_version}"
    path = (
        f"{root}/{plural}" if namespace is None else f"{root}/namespaces/{quote(namespace, safe='')}/{plural}"
    )
    if name:
        path += f"/{quote(name, safe='')}"
    return f"{path}/{subresource}" if subresource else path


class Cluster:
    """A Kubernetes API endpoint. Blocking; kopf runs the (sync) handlers that use it in threads."""

    def __init__(self, api_client: kubernetes.client.ApiClient, *, timeout: float = 30.0) -> None:
        self.api = api_client
        self.timeout = timeout

    @classmethod
    def from_environment(cls) -> Cluster:
        """In a pod: its service account; elsewhere: the current kubeconfig context (as kopf logs in)."""
        configuration = kubernetes.client.Configuration()
        try:
            kubernetes.config.load_incluster_config(client_configuration=configuration)
        except kubernetes.config.ConfigException:
            kubernetes.config.load_kube_config(client_configuration=configuration)
        return cls(kubernetes.client.ApiClient(configuration))

    @classmethod
    def at(cls, url: str) -> Cluster:
        """An API server at a plain URL with no credentials (a local test server)."""
        configuration = kubernetes.client.Configuration(host=url.rstrip("/"))
        return cls(kubernetes.client.ApiClient(configuration))

    def close(self) -> None:
        self.api.close()

    def _request(
        self,
        method: str,
        path: str,
        *,
        query: list[tuple[str, str]] | None = None,
        body: dict[str, Any] | None = None,
        content_type: str = "application/json",
    ) -> tuple[int, dict[str, Any] | None]:
        headers = {"Accept": "application/json"}
        if body is not None:
            headers["Content-Type"] = content_type
        method, url, headers, _, _ = self.api.param_serialize(
            method=method,
            resource_path=path,
            query_params=query or [],
            header_params=headers,
            auth_settings=["BearerToken"],
        )
        try:
            # The client serialises dict bodies as JSON for JSON and YAML content types alike.
            response = self.api.call_api(
                method, url, header_params=headers, body=body, _request_timeout=self.timeout
            )
            response.read()
        except kubernetes.client.exceptions.ApiException as exc:
            raise ClusterError(f"{method} {path}: {exc.reason}", status=exc.status or 0) from exc
        except OSError as exc:  # urllib3's connection errors are OSErrors
            raise ClusterError(
                f"{method} {path}: {exc}", status=0, hint="is the API server reachable?"
            ) from exc
        data = json.loads(response.data) if response.data else None
        return response.status, data

    @staticmethod
    def _fail(method: str, path: str, status: int, data: dict[str, Any] | None) -> ClusterError:
        message = (data or {}).get("message") or f"HTTP {status}"
        reason = (data or {}).get("reason") or ""
        return ClusterError(f"{method} {path}: {message}", status=status, reason=reason)

    def get(self, api_version: str, kind: str, namespace: str, name: str) -> dict[str, Any] | None:
        path = resource_path(api_version, kind, namespace, name)
        status, data = self._request("GET", path)
        if status == 404:
            return None
        if status >= 300:
            raise self._fail("GET", path, status, data)
        return data

    def list(
        self, api_version: str, kind: str, namespace: str | None, label_selector: str = ""
    ) -> list[dict[str, Any]]:
        path = resource_path(api_version, kind, namespace)
        query = [("labelSelector", label_selector)] if label_selector else []
        status, data = self._request("GET", path, query=query)
        if status == 404:
            return []  # a kind the cluster does not serve has no objects
        if status >= 300:
            raise self._fail("GET", path, status, data)
        return list((data or {}).get("items") or [])

    def create(self, manifest: dict[str, Any]) -> dict[str, Any] | None:
        """Create the object; None when it already exists (left as it is)."""
        meta = manifest["metadata"]
        path = resource_path(manifest["apiVersion"], manifest["kind"], meta["namespace"])
        status, data = self._request("POST", path, query=[("fieldManager", FIELD_MANAGER)], body=manifest)
        if status == 409:
            return None
        if status == 404:
            raise ResourceMissingError(
                f"the cluster does not serve {manifest['kind']} ({manifest['apiVersion']})",
                status=404,
                hint="install the CRDs that define it, or disable that part of the spec",
            )
        if status >= 300:
            raise self._fail("POST", path, status, data)
        return data

    def apply(self, manifest: dict[str, Any], *, manager: str = FIELD_MANAGER) -> dict[str, Any]:
        """Server-side apply as `manager` (the operator's field manager), taking over conflicting fields."""
        meta = manifest["metadata"]
        path = resource_path(manifest["apiVersion"], manifest["kind"], meta["namespace"], meta["name"])
        query = [("fieldManager", manager), ("force", "true")]
        # JSON is YAML, so the apply patch is sent as JSON.
        status, data = self._request(
            "PATCH", path, query=query, body=manifest, content_type="application/apply-patch+yaml"
        )
        if status == 404:
            # Apply creates missing objects on a real API server; a 404 means a server without apply
            # (or a kind it does not serve, which create() reports).
            created = self.create(manifest)
            if created is not None:
                return created
            status, data = self._request(
                "PATCH", path, query=query, body=manifest, content_type="application/apply-patch+yaml"
            )
        if status >= 300:
            raise self._fail("PATCH", path, status, data)
        return data or {}

    def merge_patch(
        self,
        api_version: str,
        kind: str,
        namespace: str,
        name: str,
        body: dict[str, Any],
        subresource: str = "",
    ) -> dict[str, Any] | None:
        """A JSON merge patch of the object (or its subresource); None when the object does not exist."""
        path = resource_path(api_version, kind, namespace, name, subresource)
        status, data = self._request(
            "PATCH", path, query=[("fieldManager", FIELD_MANAGER)], body=body,
            content_type="application/merge-patch+json",
        )  # fmt: skip
        if status == 404:
            return None
        if status >= 300:
            raise self._fail("PATCH", path, status, data)
        return data

    def post_event(self, involved: dict[str, Any], event_type: str, reason: str, message: str) -> None:
        """An Event about `involved` (an object as read), as `kubectl describe` shows it. Best effort:
        an event that cannot be posted is not worth failing a pass over."""
        meta = involved["metadata"]
        now = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        event = {
            "apiVersion": "v1",
            "kind": "Event",
            "metadata": {"generateName": f"{meta['name']}.", "namespace": meta["namespace"]},
            "involvedObject": {
                "apiVersion": involved["apiVersion"],
                "kind": involved["kind"],
                "name": meta["name"],
                "namespace": meta["namespace"],
                "uid": meta.get("uid"),
            },
            "type": event_type,
            "reason": reason,
            "message": message[:1024],
            "source": {"component": FIELD_MANAGER},
            "reportingComponent": FIELD_MANAGER,
            "firstTimestamp": now,
            "lastTimestamp": now,
            "count": 1,
        }
        path = f"/api/v1/namespaces/{quote(meta['namespace'], safe='')}/events"
        with contextlib.suppress(ClusterError):
            self._request("POST", path, body=event)

    def delete(
        self, api_version: str, kind: str, namespace: str, name: str, *, propagation: str = "Background"
    ) -> bool:
        """Delete the object; False when it was already gone. Background propagation lets the garbage
        collector remove its pods and jobs; Orphan leaves them for a successor to adopt."""
        path = resource_path(api_version, kind, namespace, name)
        status, data = self._request("DELETE", path, body={"propagationPolicy": propagation})
        if status == 404:
            return False
        if status >= 300:
            raise self._fail("DELETE", path, status, data)
        return True
