"""The fitpipe Kubernetes operator: the FitbitPipeline custom resource, a pure renderer of its children,
and thin kopf handlers that apply them and report status."""

__all__: list[str] = []
