"""The CR reference in docs/kubernetes.md is the one generated from the CRD schema, field for field."""

from __future__ import annotations

from pathlib import Path

from fitpipe_operator.crd import spec_schema
from fitpipe_operator.reference import END, START, reference_markdown, reference_rows, update_document
from tests.operator.conftest import REPO

DOC = REPO / "docs" / "kubernetes.md"


def test_kubernetes_doc_carries_the_current_reference() -> None:
    text = DOC.read_text()
    section = text[text.index(START) : text.index(END) + len(END)]
    assert section + "\n" == reference_markdown(), (
        "run `fitpipe operator reference --write docs/kubernetes.md`"
    )


def test_reference_lists_every_field_of_the_schema() -> None:
    def count(schema: dict) -> int:
        return sum(1 + count(sub) for sub in schema.get("properties", {}).values())

    rows = list(reference_rows())
    assert len(rows) == count(spec_schema())
    assert rows[[r[0] for r in rows].index("spec.ingest.schedule")][:3] == (
        "spec.ingest.schedule",
        "string",
        '`"0 1 * * *"`',
    )


def test_update_document_replaces_only_the_marked_section(tmp_path: Path) -> None:
    doc = tmp_path / "doc.md"
    doc.write_text(f"# Title\n\nbefore\n{START}\nOLD REFERENCE TEXT\n{END}\nafter\n")
    update_document(doc)
    text = doc.read_text()
    assert text.startswith("# Title\n\nbefore\n") and text.endswith(f"{END}\nafter\n")
    assert "OLD REFERENCE TEXT" not in text and "| `spec.study` |" in text
