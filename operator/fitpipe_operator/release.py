"""Pinning a release's default images by digest (docs/kubernetes.md "Release builds", step 4): one
command writes images.json, and from it the chart's CRD (spec.image.digest and spec.timescaledb.image
defaults), the chart's values.yaml (`image.digest`, the operator's own image) and the CR reference in
docs/kubernetes.md, so all four say the same."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from fitpipe.errors import InputError
from fitpipe_operator.crd import CHART, CRD_FILE, write_chart_crd
from fitpipe_operator.images import IMAGES_FILE, Defaults, write_defaults
from fitpipe_operator.reference import update_document

__all__ = ["Targets", "VALUES_FILE", "DOCS_FILE", "pin_images", "values_digest"]

VALUES_FILE = CHART / "values.yaml"
# The docs are not installed: a release pins them in the checkout it runs from (or the file passed).
DOCS_FILE = Path("docs") / "kubernetes.md"
# The `digest:` line of the `image:` block at the top of values.yaml.
_DIGEST_LINE = re.compile(r'^(image:\n(?:[ ]{2}.*\n|[ ]*#.*\n)*?[ ]{2}digest: )"[^"\n]*"', re.MULTILINE)


@dataclass(frozen=True)
class Targets:
    images: Path = IMAGES_FILE
    crd: Path = CRD_FILE
    values: Path = VALUES_FILE
    docs: Path = DOCS_FILE


def values_digest(text: str) -> str:
    found = _DIGEST_LINE.search(text)
    if found is None:
        raise InputError("values.yaml has no image.digest line", hint='add `  digest: ""` under `image:`')
    return found.group(0).rsplit('"', 2)[-2]


def pin_images(*, digest: str | None, timescaledb: str | None, targets: Targets = Targets()) -> Defaults:
    """Write the pins; returns the new defaults. Paths are parameters so tests can pin copies."""
    if digest is None and timescaledb is None:
        raise InputError("nothing to pin", hint="pass --digest and/or --timescaledb")
    if not targets.docs.is_file():
        raise InputError(
            f"{targets.docs}: no such file (the reference to pin the images in)",
            hint="run from the root of the fitpipe checkout, or pass --docs",
        )
    text = targets.values.read_text()
    values_digest(text)  # refuse before writing anything
    pinned = write_defaults(digest=digest, timescaledb=timescaledb, path=targets.images)
    targets.values.write_text(_DIGEST_LINE.sub(lambda m: f'{m.group(1)}"{pinned.digest}"', text, count=1))
    write_chart_crd(targets.crd, pinned)
    update_document(targets.docs, pinned)
    return pinned
