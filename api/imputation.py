"""Query-time imputation of a series (impute=auto). The method lives in fitpipe.imputation."""

from __future__ import annotations

import psycopg

from api.series import Series
from fitpipe.errors import InputError

__all__ = ["impute_series"]


def impute_series(conn: psycopg.Connection, series: Series) -> Series:
    raise InputError("impute=auto is not available in this build", field="impute", hint="use impute=none")
