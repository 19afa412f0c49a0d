"""How well fitpipe imputes heart-rate gaps: masks contiguous blocks of observed minutes and compares the
method with linear interpolation and the participant's mean, per gap-length bucket, on real and synthetic data.

    .venv/bin/python bench/imputation.py [--masks 300] [--participants 6] [--seed 7] [--real DIR]

Real data: the Takeout export in the shared folder (tests/shared_data.py: FITPIPE_SHARED_DATA, else
../shared; skipped with a message when absent), heart rate read from `Fitbit/Global Export Data/heart_rate-*.json` and steps from `steps-*.json`, averaged to minutes;
with only ~41 worn hours there, the model is refitted for every mask on everything but the masked block.
Synthetic: ingest_job.synth's cohort (circadian rhythm, sleep, walking, exercise bouts, AR(1) noise, device
sampling, non-wear); the model is fitted on days 1-28 and masks are placed in days 29-35.
A mask covers observed minutes only and has an observed minute on each side, so it never overlaps true
non-wear. Every mask is scored with the non-wear rule off (so long masks in still periods are scored too);
the last column says how many the default rule would have left empty as non-wear instead. The real data is
also scored without its steps, to show what a source without minute steps gets.
"""

from __future__ import annotations

import json
import sys
import time
from dataclasses import dataclass, field, replace
from datetime import date
from pathlib import Path
from typing import Any

import click
import numpy as np
import pandas as pd

if __package__ in (None, ""):  # run as a script: make the checkout importable without installing it
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from fitpipe.imputation import MINUTE_US, ImputationOptions, ParticipantModel, fit_model, impute_minutes
from fitpipe.imputation.profile import local_minutes
from tests.shared_data import shared

REAL = shared("realdata", "takeout-pixelwatch3-2025")
REAL_TIMEZONE = "Etc/GMT-7"  # the export's README: UTC+7, no DST
BUCKETS = ((1, 5), (6, 15), (16, 60), (61, 120))
CONTEXT_MINUTES = 360
"""Minutes of series on each side of a mask handed to the imputation (edges, steps traces)."""
SCORING = ImputationOptions(nonwear_minutes=10**9)


@dataclass
class Participant:
    name: str
    timezone: str
    t: np.ndarray
    """Observed minutes (µs), ascending."""
    v: np.ndarray
    steps_t: np.ndarray | None
    steps_v: np.ndarray | None
    model: ParticipantModel | None = None
    """Fitted on separate history; None: refit per mask on all but the masked block."""
    eval_from: int = 0
    """Masks start at or after this µs."""


@dataclass
class Scores:
    fitpipe: list[np.ndarray] = field(default_factory=list)
    linear: list[np.ndarray] = field(default_factory=list)
    mean: list[np.ndarray] = field(default_factory=list)
    covered: list[np.ndarray] = field(default_factory=list)
    day_fitpipe: list[float] = field(default_factory=list)
    day_empty: list[float] = field(default_factory=list)
    nonwear: int = 0

    def row(self, bucket: tuple[int, int]) -> dict[str, object]:
        f, lin, mean = (np.concatenate(x) for x in (self.fitpipe, self.linear, self.mean))
        day_f, day_e = np.array(self.day_fitpipe), np.array(self.day_empty)
        masks = len(self.day_fitpipe)
        return {
            "gap (min)": f"{bucket[0]}-{bucket[1]}",
            "masks": masks,
            "minutes": f.size,
            "MAE fitpipe": np.abs(f).mean(),
            "MAE linear": np.abs(lin).mean(),
            "MAE mean": np.abs(mean).mean(),
            "RMSE fitpipe": np.sqrt((f**2).mean()),
            "RMSE linear": np.sqrt((lin**2).mean()),
            "RMSE mean": np.sqrt((mean**2).mean()),
            "95% PI coverage": np.concatenate(self.covered).mean(),
            "day-mean bias": day_f.mean(),
            "day-mean |err| fitpipe": np.abs(day_f).mean(),
            "day-mean |err| left empty": np.abs(day_e).mean(),
            "non-wear rule": self.nonwear / masks,
        }


def _minute_means(t_us: np.ndarray, v: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    minute = (t_us // MINUTE_US) * MINUTE_US
    keys, inverse = np.unique(minute, return_inverse=True)
    return keys, np.bincount(inverse, v) / np.bincount(inverse)


def _takeout_json(files: list[Path], value: str) -> tuple[np.ndarray, np.ndarray]:
    stamps, values = [], []
    for path in files:
        for row in json.loads(path.read_text()):
            stamps.append(row["dateTime"])
            values.append(float(row["value"][value] if value else row["value"]))
    t = pd.to_datetime(pd.Series(stamps), format="%m/%d/%y %H:%M:%S", utc=True).to_numpy("datetime64[us]")
    return t.astype(np.int64), np.array(values)


def real_participant(root: Path) -> Participant:
    folder = root / "Fitbit" / "Global Export Data"
    t, v = _minute_means(*_takeout_json(sorted(folder.glob("heart_rate-*.json")), "bpm"))
    steps_t, steps_v = _takeout_json(sorted(folder.glob("steps-*.json")), "")
    steps_t, steps_v = _minute_means(steps_t, steps_v)
    return Participant("real", REAL_TIMEZONE, t, v, steps_t, steps_v)


def synthetic_cohort(
    participants: int, seed: int, history_days: int = 28, eval_days: int = 7
) -> list[Participant]:
    from fitpipe_ingest.synth.participant import plan_participant, simulate_days
    from fitpipe_ingest.synth.profiles import plan_cohort

    kinds = [("excellent", "good", "fair", "poor")[i % 4] for i in range(participants)]
    out = []
    for profile in plan_cohort(participants, history_days + eval_days, date(2024, 1, 1), seed, kinds=kinds):
        hr_t, hr_v, st_t, st_v = [], [], [], []
        for day in simulate_days(plan_participant(profile), dense=False):
            hr_t.append(day.sample_t * 1_000_000)
            hr_v.append(day.hr)
            st_t.append(day.minute_t[day.step_listed] * 1_000_000)  # the minutes a Takeout steps file lists
            st_v.append(day.steps[day.step_listed].astype(np.float64))
        t, v = _minute_means(np.concatenate(hr_t), np.concatenate(hr_v))
        steps_t, steps_v = np.concatenate(st_t), np.concatenate(st_v)
        eval_from = int(pd.Timestamp(date(2024, 1, 1 + history_days), tz=profile.timezone).value // 1000)
        history = t < eval_from
        model = fit_model(t[history], v[history], profile.timezone, steps_t, steps_v)
        out.append(
            Participant(
                f"{profile.participant_id} ({profile.kind})",
                profile.timezone,
                t,
                v,
                steps_t,
                steps_v,
                model,
                eval_from,
            )
        )
    return out


def sample_masks(
    p: Participant, bucket: tuple[int, int], n: int, rng: np.random.Generator
) -> list[tuple[int, int]]:
    """(index into p.t of the first masked minute, length): the block and one minute each side all observed."""
    idx = (p.t - p.t[0]) // MINUTE_US
    run_break = np.flatnonzero(np.diff(idx) != 1) + 1  # index positions where a contiguous run starts
    run_start = np.zeros(p.t.size, dtype=np.int64)
    run_start[run_break] = run_break
    run_start = np.maximum.accumulate(run_start)
    position = np.arange(p.t.size) - run_start  # minutes since the start of the contiguous run
    masks = []
    for length in rng.integers(bucket[0], bucket[1] + 1, size=n):
        # block [i, i+length) plus edges i-1 and i+length inside one contiguous run
        end = np.arange(p.t.size) + length  # index of the right edge
        ok = np.zeros(p.t.size, dtype=bool)
        inside = end < p.t.size
        ok[inside] = (position[inside] >= 1) & (run_start[end[inside]] == run_start[inside])
        ok &= p.t >= p.eval_from
        candidates = np.flatnonzero(ok)
        if candidates.size:
            masks.append((int(rng.choice(candidates)), int(length)))
    return masks


def score(p: Participant, bucket: tuple[int, int], n: int, rng: np.random.Generator, scores: Scores) -> None:
    minute_of_day, day = local_minutes(p.t, p.timezone)
    for i, length in sample_masks(p, bucket, n, rng):
        block = slice(i, i + length)
        truth = p.v[block]
        keep = np.ones(p.t.size, dtype=bool)
        keep[block] = False
        t, v = p.t[keep], p.v[keep]
        model = p.model or fit_model(t, v, p.timezone, p.steps_t, p.steps_v)
        lo_us = p.t[i] - CONTEXT_MINUTES * MINUTE_US
        hi_us = p.t[i] + (length + CONTEXT_MINUTES) * MINUTE_US
        near = (t >= lo_us) & (t < hi_us)
        steps_near = None
        if p.steps_t is not None and p.steps_v is not None:
            s_near = (p.steps_t >= lo_us) & (p.steps_t < hi_us)
            steps_near = (p.steps_t[s_near], p.steps_v[s_near])
        kwargs = {
            "start": lo_us,
            "end": hi_us,
            "steps_t": steps_near[0] if steps_near else None,
            "steps_v": steps_near[1] if steps_near else None,
        }
        result = impute_minutes(t[near], v[near], model, options=SCORING, **kwargs)
        at = (p.t[block] - lo_us) // MINUTE_US
        estimate, lo, hi = result.v[at], result.lo[at], result.hi[at]
        assert result.imputed[at].all(), "a mask with observed edges must be imputed"
        default = impute_minutes(t[near], v[near], model, **kwargs)
        scores.nonwear += any(g.reason == "non_wear" and g.start == p.t[i] for g in default.gaps)

        left, right = p.v[i - 1], p.v[i + length]
        k = np.arange(1, length + 1) / (length + 1)
        scores.fitpipe.append(estimate - truth)
        scores.linear.append(left + (right - left) * k - truth)
        scores.mean.append(np.full(length, v.mean()) - truth)
        scores.covered.append((truth >= lo) & (truth <= hi))
        same_day = day == day[i]  # the local day the mask starts in (a mask may run past midnight)
        others = same_day & keep
        true_mean = p.v[same_day].mean()
        in_day = day[block] == day[i]
        scores.day_fitpipe.append((p.v[others].sum() + estimate[in_day].sum()) / same_day.sum() - true_mean)
        scores.day_empty.append(p.v[others].mean() - true_mean)


def table(rows: list[dict[str, object]]) -> str:
    head = list(rows[0])
    fmt = {"95% PI coverage": "{:.1%}", "non-wear rule": "{:.0%}", "day-mean bias": "{:+.3f}"}
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in rows:
        cells = []
        for k in head:
            x = r[k]
            cells.append(
                fmt.get(k, "{:.3f}" if "day" in k else "{:.2f}").format(x) if isinstance(x, float) else str(x)
            )
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def evaluate(participants: list[Participant], masks: int, seed: int) -> list[dict[str, object]]:
    rows = []
    for b, bucket in enumerate(BUCKETS):
        scores = Scores()
        for j, p in enumerate(participants):
            score(p, bucket, masks, np.random.default_rng([seed, b, j]), scores)
        rows.append(scores.row(bucket))
    return rows


def check_targets(rows: list[dict[str, Any]]) -> list[str]:
    out = []
    for r in rows:
        f, lin = float(r["MAE fitpipe"]), float(r["MAE linear"])
        out.append(
            f"{'PASS' if f <= lin else 'FAIL'}  {r['gap (min)']} min: MAE {f:.2f} vs linear {lin:.2f} "
            f"({(lin - f) / lin:+.1%})"
        )
    long = rows[-1]
    gain = (float(long["MAE linear"]) - float(long["MAE fitpipe"])) / float(long["MAE linear"])
    out.append(
        f"{'PASS' if gain >= 0.10 else 'FAIL'}  61-120 min: {gain:.1%} lower MAE than linear (target >= 10 %)"
    )
    for r in rows:
        c = float(r["95% PI coverage"])
        out.append(
            f"{'PASS' if 0.90 <= c <= 0.98 else 'FAIL'}  {r['gap (min)']} min: 95 % intervals cover {c:.1%} "
            "(target 90-98 %)"
        )
    return out


def timing(p: Participant, repeats: int = 30) -> str:
    """Milliseconds (median of `repeats`) to fit the model on 28 days and impute a day / a month, as the API
    does per request."""
    day_us = 86_400 * 1_000_000
    end = p.t[-1]
    lines = []
    for label, days in (("one day", 1), ("one month", 30)):
        span = p.t >= end - days * day_us
        history = span | (p.t >= end - 28 * day_us)
        fit_ms, impute_ms = [], []
        for _ in range(repeats):
            t0 = time.perf_counter()
            model = fit_model(p.t[history], p.v[history], p.timezone, p.steps_t, p.steps_v)
            t1 = time.perf_counter()
            impute_minutes(p.t[span], p.v[span], model, steps_t=p.steps_t, steps_v=p.steps_v)
            t2 = time.perf_counter()
            fit_ms.append((t1 - t0) * 1000)
            impute_ms.append((t2 - t1) * 1000)
        fit, imp = float(np.median(fit_ms)), float(np.median(impute_ms))
        lines.append(
            f"{label}: fit {fit:.1f} ms + impute {imp:.1f} ms = {fit + imp:.1f} ms "
            f"({history.sum():,} history minutes, {p.name}, median of {repeats})"
        )
    return "\n".join(lines)


@click.command()
@click.option(
    "--masks",
    type=click.IntRange(min=10),
    default=300,
    show_default=True,
    help="Masks per bucket (per participant for the synthetic cohort: a third of this).",
)
@click.option("--participants", type=click.IntRange(min=1), default=6, show_default=True)
@click.option("--seed", type=int, default=7, show_default=True)
@click.option("--real", "real_dir", type=click.Path(path_type=Path), default=REAL, show_default=True)
def main(masks: int, participants: int, seed: int, real_dir: Path) -> None:
    defaults = ImputationOptions()
    click.echo(
        f"fitpipe imputation bench: max gap {defaults.max_gap_minutes} min, linear up to "
        f"{defaults.linear_max_minutes} min, {defaults.level:.0%} intervals, seed {seed}\n"
    )
    if (real_dir / "Fitbit" / "Global Export Data").is_dir():
        p = real_participant(real_dir)
        click.echo(
            f"## Real data (Takeout, Pixel Watch 3): {p.t.size:,} observed minutes, {masks} masks per bucket\n"
        )
        rows = evaluate([p], masks, seed)
        click.echo(table(rows) + "\n")
        click.echo("\n".join(check_targets(rows)) + "\n")
        click.echo(
            "### The same without steps (a source without minute steps: no activity term, no non-wear rule)\n"
        )
        click.echo(table(evaluate([replace(p, steps_t=None, steps_v=None)], masks, seed)) + "\n")
    else:
        click.echo(f"## Real data: skipped ({real_dir / 'Fitbit' / 'Global Export Data'} not found)\n")
    t0 = time.perf_counter()
    cohort = synthetic_cohort(participants, seed)
    per = max(10, masks // 3)
    click.echo(
        f"## Synthetic cohort: {participants} participants x 35 days (model on days 1-28, masks in days 29-35), "
        f"{per} masks per bucket per participant ({time.perf_counter() - t0:.0f} s to simulate)\n"
    )
    click.echo(table(evaluate(cohort, per, seed)) + "\n")
    click.echo("## Speed\n\n" + timing(cohort[0]))


if __name__ == "__main__":
    main()
