"""Errors of the operator's cluster access, in fitpipe's error tree:

FitpipeError
└── ClusterError             the Kubernetes API refused or failed a request (status, reason)
    └── ResourceMissingError the API does not serve that kind (e.g. prometheus-operator's CRDs absent)
"""

from __future__ import annotations

from fitpipe.errors import FitpipeError

__all__ = ["ClusterError", "ResourceMissingError"]


class ClusterError(FitpipeError):
    exit_code = 7

    def __init__(self, message: str, *, status: int, reason: str = "", hint: str | None = None) -> None:
        super().__init__(message, hint=hint)
        self.status = status
        self.reason = reason


class ResourceMissingError(ClusterError):
    pass
