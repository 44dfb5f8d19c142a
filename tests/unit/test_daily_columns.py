"""Compact daily columns: built straight from arrays they equal the same days built from DailyStat."""

from __future__ import annotations

import math
from array import array
from datetime import date

import pytest

from cloudios.domain import DailyColumns, DailyStat

NAN = math.nan
D1, D2 = date(2026, 3, 4), date(2026, 3, 6)


def test_a_counter_with_derived_average_stores_no_average_column() -> None:
    rows = [DailyStat(D1, 10.0, 20.0, sum=240.0, samples=24), DailyStat(D2, 6.0, 7.0, sum=12.0, samples=2)]
    built = DailyColumns.from_arrays(
        array("i", [D1.toordinal(), D2.toordinal()]),
        array("I", [24, 2]),
        array("d", [20.0, 7.0]),
        sum=array("d", [240.0, 12.0]),
        p99=array("d", [NAN, NAN]),  # all NaN: not stored
    )
    assert built == DailyColumns(rows)
    assert tuple(built) == tuple(rows)
    assert built.nbytes() == DailyColumns(rows).nbytes() == 2 * 24


def test_a_gauge_with_some_percentiles_keeps_none_where_nan() -> None:
    rows = [DailyStat(D1, 11.5, 23.0, samples=24, p99=22.0), DailyStat(D2, 20.0, 30.0, samples=3)]
    built = DailyColumns.from_arrays(
        array("i", [D1.toordinal(), D2.toordinal()]),
        array("I", [24, 3]),
        array("d", [23.0, 30.0]),
        average=array("d", [11.5, 20.0]),
        p99=array("d", [22.0, NAN]),
    )
    assert tuple(built) == tuple(rows)
    assert (built.weighted_average(), built.maximum(), built.days_with_data()) == (
        DailyColumns(rows).weighted_average(),
        30.0,
        2,
    )


def test_no_days() -> None:
    empty = DailyColumns.from_arrays(array("i"), array("I"), array("d"))
    assert empty == DailyColumns() == ()
    assert empty.nbytes() == 0


def test_inconsistent_columns_are_refused() -> None:
    with pytest.raises(ValueError, match="one value per day"):
        DailyColumns.from_arrays(array("i", [1, 2]), array("I", [1]), array("d", [1.0, 2.0]), sum=array("d"))
    with pytest.raises(ValueError, match="sum is required"):
        DailyColumns.from_arrays(array("i", [1]), array("I", [1]), array("d", [1.0]))
    with pytest.raises(ValueError, match="samples > 0"):
        DailyColumns.from_arrays(array("i", [1]), array("I", [0]), array("d", [1.0]), sum=array("d", [0.0]))
