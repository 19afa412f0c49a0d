"""`fitpipe extract wearipedia`: the challenge's six CSVs, written by wearipedia 0.1.7 in a virtualenv of its own.

wearipedia pins fastapi==0.101 and pulls in jupyter, so it can never share fitpipe's environment: it
lives under $FITPIPE_HOME/venvs/wearipedia-0.1.7, and the two meet only through the files it writes.
"""

from __future__ import annotations

import fcntl
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections import deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from zoneinfo import ZoneInfo

import numpy as np

from fitpipe.errors import ConfigError, FitpipeError, InputError
from fitpipe.settings import get_settings
from fitpipe_ingest.extract.wearipedia_notebook import FILES
from fitpipe_ingest.records import ParseContext
from fitpipe_ingest.sources.wearipedia import SOURCE
from fitpipe_ingest.tree import open_tree

__all__ = ["WEARIPEDIA", "ExtractedFile", "Extraction", "extract_wearipedia", "venv_dir"]

WEARIPEDIA = "wearipedia==0.1.7"
"""Only 0.1.7 fills the intraday data types the challenge uses."""
_SUPPORTED_PYTHON = ((3, 10), (3, 12))
"""wearipedia 0.1.7 declares Requires-Python >=3.10,<3.13."""
_SCRIPT = Path(__file__).with_name("wearipedia_notebook.py")
_CONSTRAINTS = Path(__file__).with_name("wearipedia-constraints.txt")
_CONSTRAINTS_FROM = (3, 11)
"""The pinned set holds numpy 2.4 and pandas 3, which need Python 3.11."""
_READY = ".fitpipe-ready"
_PIP_PROGRESS = ("Collecting ", "Installing collected", "Successfully installed")
"""The pip lines shown as progress; the rest (hundreds of resolver warnings) is kept only for errors."""
_NETWORK_SIGNS = (
    "Failed to establish a new connection",
    "Temporary failure in name resolution",
    "Name or service not known",
    "Could not find a version that satisfies",
    "No matching distribution found",
    "ConnectTimeoutError",
    "ReadTimeoutError",
    "ProxyError",
    "SSLError",
    "Network is unreachable",
)


@dataclass
class ExtractedFile:
    name: str
    rows: int
    samples: int
    rejected: int


@dataclass
class Extraction:
    out: Path
    files: list[ExtractedFile]
    seconds: dict[str, float] = field(default_factory=dict)
    """Wall time of each step: 'venv', 'install', 'generate', 'check' (0 when a step was not needed)."""


def venv_dir() -> Path:
    return get_settings().home / "venvs" / WEARIPEDIA.replace("==", "-")


def extract_wearipedia(
    out: Path,
    start: date = date(2024, 1, 1),
    end: date = date(2024, 1, 30),
    seed: int = 100,
    *,
    python: Path | None = None,
    say: Callable[[str], None] = lambda _: None,
) -> Extraction:
    """Write activity, breathing_rate, heart_rate, spo2, hrv and active_zone_minutes .csv to `out`.

    The defaults are the challenge's (2024-01-01..2024-01-30, seed 100). The files appear in `out`
    only once all six are written, and are then read back with fitpipe's wearipedia source.
    """
    if end < start:
        raise InputError(f"the end date {end} is before the start date {start}")
    seconds: dict[str, float] = {}
    venv = venv_dir()
    with _lock(venv.parent / f"{venv.name}.lock"):
        interpreter = _ensure_venv(venv, python or Path(sys.executable), seconds, say)
    out.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(dir=out, prefix=".wearipedia-") as tmp:
        say(f"generating {start}..{end} (seed {seed}) with {WEARIPEDIA}")
        _run(
            # -I: the script's folder holds fitpipe's own wearipedia.py, which must not shadow the package
            [str(interpreter), "-I", "-u", str(_SCRIPT), tmp, start.isoformat(), end.isoformat(), str(seed)],
            "the wearipedia script failed",
            say,
        )
        for name in FILES:
            os.replace(Path(tmp) / name, out / name)
    seconds["generate"] = time.perf_counter() - started
    started = time.perf_counter()
    files = _read_back(out)
    seconds["check"] = time.perf_counter() - started
    return Extraction(out, files, seconds)


def _ensure_venv(
    venv: Path, base_python: Path, seconds: dict[str, float], say: Callable[[str], None]
) -> Path:
    """The interpreter of wearipedia's virtualenv, created and installed on first use."""
    interpreter = venv / "bin" / "python"
    seconds["venv"] = seconds["install"] = 0.0
    if (venv / _READY).exists() and interpreter.exists():
        return interpreter
    version = _check_python(base_python)
    if venv.exists():  # a previous attempt stopped half way: start clean
        shutil.rmtree(venv)
    venv.parent.mkdir(parents=True, exist_ok=True)
    say(f"creating the virtualenv {venv}")
    started = time.perf_counter()
    _run(
        [str(base_python), "-m", "venv", str(venv)],
        "cannot create a virtualenv",
        say,
        hint="on Debian/Ubuntu install python3-venv; or pass --python with another Python 3.10-3.12",
    )
    seconds["venv"] = time.perf_counter() - started
    say(f"installing {WEARIPEDIA} and its dependencies (about 750 MB, once)")
    started = time.perf_counter()
    pin = ["-c", str(_CONSTRAINTS)] if version >= _CONSTRAINTS_FROM else []
    # --no-compile: byte-compiling the jupyter stack costs a minute and the script imports a fraction of it
    pip = ["-m", "pip", "install", "--disable-pip-version-check", "--progress-bar", "off", "--no-compile"]
    _run([str(interpreter), *pip, *pin, WEARIPEDIA], f"pip could not install {WEARIPEDIA}", say, pip=True)
    seconds["install"] = time.perf_counter() - started
    (venv / _READY).write_text(WEARIPEDIA + "\n")
    return interpreter


def _check_python(python: Path) -> tuple[int, int]:
    try:
        version = subprocess.run(
            [str(python), "-c", "import sys; print('%d.%d' % sys.version_info[:2])"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError) as exc:
        raise ConfigError(
            f"cannot run {python}: {exc}", hint="pass --python with a Python 3.10-3.12"
        ) from None
    major, minor = (int(part) for part in version.split("."))
    low, high = _SUPPORTED_PYTHON
    if not low <= (major, minor) <= high:
        raise ConfigError(
            f"{WEARIPEDIA} needs Python {low[0]}.{low[1]}-{high[0]}.{high[1]}; {python} is {version}",
            hint="pass --python with the path of a Python 3.10, 3.11 or 3.12 interpreter",
        )
    return major, minor


def _run(
    command: list[str],
    failure: str,
    say: Callable[[str], None],
    *,
    hint: str | None = None,
    pip: bool = False,
) -> None:
    """Run a step, passing its output on as progress; on failure the error quotes the output's last lines."""
    tail: deque[str] = deque(maxlen=15)
    try:
        proc = subprocess.Popen(
            command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, bufsize=1
        )
    except OSError as exc:
        raise ConfigError(f"{failure}: {exc}", hint=hint) from None
    assert proc.stdout is not None
    with proc:
        for line in proc.stdout:
            line = line.rstrip()
            tail.append(line)
            if line and (not pip or line.startswith(_PIP_PROGRESS)):
                say(f"  {line[:120]}")
    if proc.returncode == 0:
        return
    output = "\n".join(tail)
    if pip and any(sign in output for sign in _NETWORK_SIGNS):
        raise ConfigError(
            f"{failure}: PyPI (or the configured index) cannot be reached or lacks the package\n{output}",
            hint="check the network, or point pip elsewhere with PIP_INDEX_URL / HTTPS_PROXY "
            "(PIP_FIND_LINKS for a folder of wheels), then run the command again",
        )
    raise FitpipeError(f"{failure} (exit {proc.returncode}):\n{output}", hint=hint)


@contextmanager
def _lock(path: Path) -> Iterator[None]:
    """One installer at a time: a second `fitpipe extract` waits instead of racing on the same venv."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def _read_back(out: Path) -> list[ExtractedFile]:
    """Parse what was written with fitpipe's own wearipedia source: the files must load without rejections."""
    tree = open_tree(out)
    ctx = ParseContext(ZoneInfo("UTC"))
    files = []
    for name in FILES:
        parsed = SOURCE.parse(tree, name, ctx)
        lines = [b.line for b in parsed.batches if b.line is not None]
        rows = np.unique(np.concatenate(lines)).size if lines else 0
        files.append(ExtractedFile(name, rows, sum(len(b) for b in parsed.batches), len(parsed.rejected)))
    return files
