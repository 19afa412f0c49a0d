"""Bulk formatting writes numbers exactly as Python's repr/str would."""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np
import pytest

from fitpipe_ingest.synth.textfmt import decimal, fixed, integer, render, utc_datetime_fields


@pytest.mark.parametrize("places", [1, 3, 12])
def test_decimal_writes_what_repr_writes_for_the_rounded_value(places: int) -> None:
    rng = np.random.default_rng(7)
    values = np.concatenate([rng.uniform(30, 220, 20_000), [73.0, 100.5, 0.001, 5.0, 0.86, 99.95]])
    text = render(values.size, [decimal(values, places)], b",").decode().split(",")
    expected = [repr(float(np.round(v * 10**places) / 10**places)) for v in values]
    assert text == expected


def test_decimal_refuses_more_digits_than_a_double_keeps() -> None:
    with pytest.raises(ValueError, match="significant digits"):
        decimal(np.array([1234.5]), 12)


def test_integer_has_no_padding_and_zero_is_written() -> None:
    values = np.array([0, 7, 10, 999, 1000, 65])
    assert render(values.size, [b"<", integer(values), b">"], b"|") == b"<0>|<7>|<10>|<999>|<1000>|<65>"


def test_fixed_pads_with_zeros() -> None:
    assert render(3, [fixed(np.array([1, 9, 12]), 2)], b" ") == b"01 09 12"


def test_utc_fields_match_datetime_across_days_and_years() -> None:
    stamps = np.array([0, 1_704_067_199, 1_704_067_200, 1_709_251_199, 1_735_689_599 + 1], dtype=np.int64)
    fields = utc_datetime_fields(stamps)
    for i, t in enumerate(stamps):
        d = datetime.fromtimestamp(int(t), UTC)
        assert tuple(int(f[i]) for f in fields) == (d.year, d.month, d.day, d.hour, d.minute, d.second)


def test_render_of_nothing_is_empty() -> None:
    assert render(0, [b"x"], b",") == b""
