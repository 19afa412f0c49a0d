"""The default images of a pipeline, kept as data (images.json) so a release can pin them by digest in one
place: the CRD's defaults, the chart's `image.digest` and the reference in docs/kubernetes.md all follow
from it (`fitpipe operator pin-images`, docs/kubernetes.md "Release builds").

A reference is `repository[:tag][@sha256:<64 hex>]`; with a digest the tag is informational and the
digest is what the kubelet pulls. Third-party images the operator adds on its own (the oauth2-proxy
sidecar) are always pinned by digest; fitpipe's and TimescaleDB's are pinned in release builds."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

from fitpipe.errors import InputError

__all__ = [
    "IMAGES_FILE",
    "DIGEST_PATTERN",
    "REFERENCE_PATTERN",
    "Defaults",
    "defaults",
    "pinned",
    "write_defaults",
]

IMAGES_FILE = Path(__file__).with_name("images.json")
DIGEST_PATTERN = r"^sha256:[a-f0-9]{64}$"
# registry/path[:tag][@sha256:digest]: what a container's `image` accepts, restricted to sha256 digests.
REFERENCE_PATTERN = (
    r"^[a-z0-9]+([._-][a-z0-9]+)*(:[0-9]+)?(/[a-z0-9]+([._-][a-z0-9]+)*)*"
    r"(:[A-Za-z0-9_][A-Za-z0-9_.-]{0,127})?(@sha256:[a-f0-9]{64})?$"
)


@dataclass(frozen=True)
class Defaults:
    repository: str
    tag: str
    digest: str
    timescaledb: str
    oauth2_proxy: str


def defaults(path: Path = IMAGES_FILE) -> Defaults:
    data = json.loads(path.read_text())
    fitpipe = data["fitpipe"]
    return Defaults(
        repository=fitpipe["repository"],
        tag=fitpipe["tag"],
        digest=fitpipe.get("digest") or "",
        timescaledb=data["timescaledb"],
        oauth2_proxy=data["oauth2Proxy"],
    )


def pinned(reference: str) -> bool:
    return bool(re.search(r"@sha256:[a-f0-9]{64}$", reference))


def write_defaults(
    *, digest: str | None = None, timescaledb: str | None = None, path: Path = IMAGES_FILE
) -> Defaults:
    """Pin fitpipe's image by `digest` and/or set the TimescaleDB reference (which must carry a digest)."""
    if digest is not None and not re.match(DIGEST_PATTERN, digest):
        raise InputError(
            f"{digest!r} is not a sha256 digest", field="--digest", hint="sha256:<64 hex digits>"
        )
    if timescaledb is not None and not (re.match(REFERENCE_PATTERN, timescaledb) and pinned(timescaledb)):
        raise InputError(
            f"{timescaledb!r} is not an image reference pinned by digest",
            field="--timescaledb",
            hint="timescale/timescaledb-ha:pg15@sha256:<64 hex digits>",
        )
    data = json.loads(path.read_text())
    if digest is not None:
        data["fitpipe"]["digest"] = digest
    if timescaledb is not None:
        data["timescaledb"] = timescaledb
    path.write_text(json.dumps(data, indent=2) + "\n")
    return defaults(path)
