"""Safe, unique file names and atomic writes."""

from __future__ import annotations

import dataclasses
from pathlib import Path, PureWindowsPath

import pytest

from letter_merge.batch import load_batch
from letter_merge.config import Settings
from letter_merge.errors import InputError
from letter_merge.files import (
    CONVERTING_PREFIX,
    MAX_PATH,
    PATH_BEYOND_STEM,
    longest_stem,
    safe_stem,
    unique_stems,
    write_atomic,
)


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


# A letters folder as deep as the office's OneDrive makes it (117 characters).
ONEDRIVE = PureWindowsPath(
    r"C:\Users\someone.name\OneDrive - Local Government Ombudsman\Complaints"
    r"\Annual review letters\2020\output\2020\letters"
)
LONG_NAMES = [
    "Derby City Council - Annual Review 2020",
    "Royal Borough of Windsor and Maidenhead Council - Annual Review 2020",
    "Royal Borough of Windsor and Maidenhead Council Fire Authority - Annual Review 2020",
    "Royal Borough of Windsor and Maidenhead Council Fire Authority - Annual Review 2020",
]


def test_simulated_windows_onedrive_folder_keeps_whole_names() -> None:
    longest = longest_stem(ONEDRIVE)
    assert longest == MAX_PATH - 117 - len("/.docx") - len(".converting-12345678/out/")
    assert unique_stems((safe_stem(n, longest) for n in LONG_NAMES), longest)[:3] == LONG_NAMES[:3]


def test_simulated_windows_deeper_folder_shortens_names_to_fit_max_path() -> None:
    deeper = ONEDRIVE / "Letters sent in previous years, kept for the record" / "copies"
    longest = longest_stem(deeper)
    stems = unique_stems((safe_stem(n, longest) for n in LONG_NAMES), longest)
    assert stems == [
        "Derby City Council - Annual Review 2020",  # short enough as it is
        "Royal Borough of Windsor and Maidenhead Council - An",  # 52 characters left
        "Royal Borough of Windsor and Maidenhead Council Fire",
        "Royal Borough of Windsor and Maidenhead Council (2)",  # shortened to fit its number
    ]
    for stem in stems:
        # the longest path a letter has: its .docx in the converter's scratch folder
        scratch = deeper / f"{CONVERTING_PREFIX}12345678" / "out" / f"{stem}.docx"
        assert len(str(scratch)) <= MAX_PATH


def test_simulated_windows_folder_too_deep_for_any_name_says_where_and_what_to_do() -> None:
    deepest = ONEDRIVE / ("Letters sent in previous years, kept for the record, " * 2)
    with pytest.raises(InputError) as error:
        longest_stem(deepest)
    assert str(error.value) == (
        f"The letters folder {deepest} is 224 characters long: with letters named for their "
        "councils in it, paths would pass Windows' limit of 260 characters. Move the output "
        "folder nearer the drive root (for example C:\\Letters\\output), or set output in "
        "letter-merge.toml: [paths] output = 'C:\\Letters\\output'."
    )


def test_letters_in_a_deep_output_folder_get_names_that_fit(settings: Settings) -> None:
    # An output folder whose letters folder leaves 40 characters for a letter's name.
    letters = len(str(settings.output / "2020" / "letters"))
    deep = settings.output / ("o" * (MAX_PATH - letters - 1 - PATH_BEYOND_STEM - 40))
    stems = [
        letter.stem for letter in load_batch(dataclasses.replace(settings, output=deep)).letters()
    ]
    assert stems == [
        "Leicestershire County Council - Annual R",
        "Derby City Council - Annual Review 2020",
        "Brighton & Hove City Council - Annual Re",
        "Adur District Council - Annual Review 20",
    ]
