"""The API process stays small: the export memory budget (200 MB RSS) leaves no room for pandas (~50 MB),
which only the ingest side and query-time imputation need (imputation imports it on first use)."""

from __future__ import annotations

import subprocess
import sys


def test_importing_the_api_does_not_import_pandas() -> None:
    code = "import sys, fitpipe_api.main; print(sorted(m for m in ('pandas', 'dash', 'kopf') if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
