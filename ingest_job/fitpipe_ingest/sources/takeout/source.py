"""The takeout source: the files of a Fitbit account export (Google Takeout, legacy archive) it claims, parses one."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial

from fitpipe.errors import InputError
from fitpipe_ingest.records import ParseContext, ParsedFile
from fitpipe_ingest.sources.base import FileSource
from fitpipe_ingest.sources.takeout.csv_series import parse_csv_series
from fitpipe_ingest.sources.takeout.csv_specs import CSV_SERIES
from fitpipe_ingest.sources.takeout.daily_json import parse_daily
from fitpipe_ingest.sources.takeout.families import FAMILIES, family_of, load_order_key
from fitpipe_ingest.sources.takeout.intraday_json import INTRADAY, parse_intraday
from fitpipe_ingest.sources.takeout.sleep_logs import parse_sleep_json
from fitpipe_ingest.sources.takeout.temperature import parse_computed_temperature
from fitpipe_ingest.sources.takeout.user_sleeps import parse_user_sleep_stages, parse_user_sleeps
from fitpipe_ingest.sources.takeout.zone_minutes import parse_zone_minutes
from fitpipe_ingest.tree import InputTree

__all__ = ["TakeoutSource", "SOURCE"]

Parser = Callable[[InputTree, str, ParseContext], ParsedFile]


def _parsers() -> dict[str, Parser]:
    parsers: dict[str, Parser] = {
        "sleep_json": parse_sleep_json,
        "azm_fitbit": partial(parse_zone_minutes, layout_name="fitbit"),
        "azm_google": partial(parse_zone_minutes, layout_name="google"),
        "computed_temperature": parse_computed_temperature,
        "user_sleeps": parse_user_sleeps,
        "user_sleep_stages": parse_user_sleep_stages,
    }
    for name, spec in INTRADAY.items():
        parsers[f"{name}_json"] = partial(parse_intraday, spec=spec)
    for name in (
        "sedentary_minutes",
        "lightly_active_minutes",
        "moderately_active_minutes",
        "very_active_minutes",
        "resting_heart_rate",
        "time_in_heart_rate_zones",
    ):
        parsers[f"{name}_json"] = partial(parse_daily, family=name)
    for name, csv_spec in CSV_SERIES.items():
        parsers[name] = partial(parse_csv_series, spec=csv_spec)
    return parsers


PARSERS = _parsers()
assert set(PARSERS) == {f.name for f in FAMILIES}, "every file family needs a parser"


class TakeoutSource(FileSource):
    name = "takeout"
    description = "Google Takeout / Fitbit account export (directory or .zip; Fitbit and Google-format files)"

    def claims(self, tree: InputTree, path: str) -> bool:
        return family_of(path) is not None

    def load_order(self, paths: list[str]) -> list[str]:
        return sorted(paths, key=load_order_key)

    def parse(self, tree: InputTree, path: str, ctx: ParseContext) -> ParsedFile:
        family = family_of(path)
        if family is None:
            raise InputError(
                "not a file of a Fitbit export that fitpipe reads",
                file=path,
                hint="only the files listed in the plan are parsed; this one belongs to its 'unknown' list",
            )
        return PARSERS[family.name](tree, path, ctx)


SOURCE = TakeoutSource()
