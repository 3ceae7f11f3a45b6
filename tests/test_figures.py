"""The rates, half-up rounding, pooled averages and undefined figures."""

from __future__ import annotations

from pathlib import Path

import pytest

from letter_merge.figures import compute_figures, percent
from letter_merge.workbook import read_workbook
from tests.helpers import contact, statistics, write_workbook


@pytest.mark.parametrize(
    ("numerator", "denominator", "expected"),
    [
        (1, 8, 13),
        (5, 8, 63),
        (1, 3, 33),
        (2, 3, 67),
        (1, 200, 1),
        (0, 5, 0),
        (7, 7, 100),
        (3, 0, None),
    ],
)
def test_percent_rounds_half_up(numerator: int, denominator: int, expected: int | None) -> None:
    assert percent(numerator, denominator) == expected


def test_averages_pool_the_counts_of_the_same_authority_type(tmp_path: Path) -> None:
    path = write_workbook(
        tmp_path / "w.xlsx",
        [
            contact("A District Council", email="a@a.example.org"),
            contact("B District Council", email="b@b.example.org"),
            contact("C County Council", "County Council", email="c@c.example.org"),
        ],
        [
            # A: 1/1 = 100%, B: 1/9 = 11%. The mean of rates would be 56%; pooled, 2/10 = 20%.
            statistics("A District Council", 1, 1, 1, 1, 1),
            statistics("B District Council", 9, 1, 0, 0, 0),
            statistics("C County Council", 4, 3, 2, 1, 3),
        ],
    )
    figures = compute_figures(read_workbook(path).councils)
    a, b, c = (figures[n] for n in ("A District Council", "B District Council", "C County Council"))
    assert (a.upheld_rate, b.upheld_rate) == (100, 11)
    assert a.upheld_rate_average == b.upheld_rate_average == 20
    assert b.compliance_rate is None  # no compliance outcomes: undefined, not 0
    assert a.compliance_rate_average == 100  # 1 of 1, pooled
    assert a.remedy_rate_average == 50  # (1 + 0) / (1 + 1)
    assert (c.upheld_rate, c.upheld_rate_average) == (75, 75)  # only county: its own figures
    assert (c.compliance_rate, c.remedy_rate) == (50, 100)


def test_a_council_with_no_investigations_has_undefined_rates(workbook_path: Path) -> None:
    figures = compute_figures(read_workbook(workbook_path).councils)
    brighton = figures["Brighton & Hove City Council"]
    assert (brighton.upheld_rate, brighton.compliance_rate, brighton.remedy_rate) == (
        None,
        None,
        None,
    )
    # Derby (5/8) and Brighton (0/0) are the unitary councils: the average is Derby's.
    assert brighton.upheld_rate_average == 63
