"""Safe, unique file names and atomic writes."""

from __future__ import annotations

from pathlib import Path

import pytest

from letter_merge.files import safe_stem, unique_stems, write_atomic


@pytest.mark.parametrize(
    ("name", "stem"),
    [
        (
            "Leicestershire County Council - Annual Review 2020",
            "Leicestershire County Council - Annual Review 2020",
        ),
        ("Brighton & Hove City Council", "Brighton & Hove City Council"),
        ('A/B: "C"? <D>|E*', "A B C D E"),
        ("Trailing dots...  ", "Trailing dots"),
        ("CON", "_CON"),
        ("nul.txt", "_nul.txt"),
        ("Siân's council\ttab", "Siân's council tab"),
        ("", "letter"),
        ("x" * 300, "x" * 150),
    ],
)
def test_safe_stem(name: str, stem: str) -> None:
    assert safe_stem(name) == stem


def test_names_that_clean_to_the_same_stay_apart_ignoring_case() -> None:
    assert unique_stems([safe_stem("A:B"), safe_stem("A/B"), safe_stem("a b")]) == [
        "A B",
        "A B (2)",
        "a b (3)",
    ]


def test_write_atomic_leaves_no_temporary_file(tmp_path: Path) -> None:
    target = tmp_path / "out" / "letter.pdf"
    write_atomic(target, b"%PDF-1.7 first")
    write_atomic(target, b"%PDF-1.7 second")
    assert target.read_bytes() == b"%PDF-1.7 second"
    assert [p.name for p in target.parent.iterdir()] == ["letter.pdf"]
    assert target.stat().st_mode & 0o644 == 0o644  # readable like any other file, not private
