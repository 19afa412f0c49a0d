"""`fitpipe extract wearipedia`: write the challenge's input files with tools that live in environments of their own."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import click

from fitpipe.cli.output import print_table, say
from fitpipe_ingest.extract.wearipedia import extract_wearipedia, venv_dir

__all__ = ["extract"]


@click.group()
def extract() -> None:
    """Produce input files with external generators (each installed in a virtualenv of its own)."""


@extract.command("wearipedia")
@click.option(
    "--out",
    required=True,
    type=click.Path(file_okay=False, path_type=Path),
    help="Directory for the six CSVs.",
)
@click.option("--start", type=click.DateTime(["%Y-%m-%d"]), default="2024-01-01", show_default=True)
@click.option(
    "--end", type=click.DateTime(["%Y-%m-%d"]), default="2024-01-30", show_default=True, help="Inclusive."
)
@click.option("--seed", type=int, default=100, show_default=True, help="Seeds wearipedia's numpy draws.")
@click.option(
    "--python",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Python 3.10-3.12 to build the virtualenv with, on first use (default: the one running fitpipe).",
)
def wearipedia(out: Path, start: datetime, end: datetime, seed: int, python: Path | None) -> None:
    """Synthetic Fitbit Charge 6 data as the challenge notebook writes it (wearipedia 0.1.7).

    The first run creates a virtualenv under FITPIPE_HOME/venvs and installs wearipedia there
    (about 750 MB); later runs reuse it. Load the result with `fitpipe ingest OUT`.
    """
    say(f"wearipedia's virtualenv: {venv_dir()}")
    result = extract_wearipedia(out, start.date(), end.date(), seed, python=python, say=say)
    print_table(
        f"{result.out}",
        ["file", "rows", "samples", "rejected"],
        [(f.name, f.rows, f.samples, f.rejected) for f in result.files],
    )
    say("seconds: " + ", ".join(f"{step} {s:.1f}" for step, s in result.seconds.items()))
