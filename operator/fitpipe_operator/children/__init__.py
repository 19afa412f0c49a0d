"""One module per kind of child a FitbitPipeline owns; each exposes pure functions
(name, namespace, spec) -> manifests that render() strings together."""

__all__: list[str] = []
