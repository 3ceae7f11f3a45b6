"""The Microsoft Word converter. Word cannot run here, so docx2pdf is replaced by a FAKE module
that stands in for Word: these tests cover our side of it (platform check, PDF check, failures)."""

from __future__ import annotations

import sys
import types
from pathlib import Path

import pytest
from click.testing import CliRunner

from letter_merge.cli import cli
from letter_merge.errors import ConverterUnavailable
from letter_merge.pdf.convert import (
    ConversionJob,
    ConversionResult,
    WordConverter,
    make_converter,
)

REAL_PLATFORM = sys.platform


def install_fake_docx2pdf(monkeypatch: pytest.MonkeyPatch, behaviour: str) -> None:
    fake = types.ModuleType("docx2pdf")

    def convert(source: str, target: str) -> None:  # FAKE Word: no real conversion happens
        if behaviour == "raise":
            raise RuntimeError("Word automation failed: document is locked")
        if behaviour == "killed":  # the run is stopped while Word writes: nothing tidies up
            Path(target).write_bytes(b"%PDF-1.7 half")
            raise KeyboardInterrupt
        Path(target).write_bytes(b"%PDF-1.7 FAKE" if behaviour == "pdf" else b"not a pdf")

    fake.convert = convert  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "docx2pdf", fake)
    monkeypatch.setattr(sys, "platform", "win32")


def test_word_is_refused_on_linux(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys, "platform", "linux")
    with pytest.raises(ConverterUnavailable, match="needs Microsoft Word on Windows or macOS"):
        make_converter("word")


@pytest.mark.parametrize(
    ("behaviour", "error"),
    [
        ("pdf", None),
        ("garbage", "Word could not convert it: Word produced no PDF"),
        ("raise", "Word could not convert it: Word automation failed: document is locked"),
    ],
)
def test_word_results_are_checked(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, behaviour: str, error: str | None
) -> None:
    install_fake_docx2pdf(monkeypatch, behaviour)
    docx = tmp_path / "Derby City Council - Annual Review 2020.docx"
    docx.write_bytes(b"PK")
    job = ConversionJob(docx, docx.with_suffix(".pdf"))
    seen: list[ConversionResult] = []
    (result,) = WordConverter().convert([job], seen.append)
    assert result.error == error and seen == [result]
    assert job.pdf.exists() == (error is None)
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


def test_what_a_killed_word_conversion_leaves_is_cleaned_up_by_the_next_build(
    folder: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    install_fake_docx2pdf(monkeypatch, "killed")
    letters = folder / "output" / "2020" / "letters"
    letters.mkdir(parents=True)
    docx = letters / "Derby City Council - Annual Review 2020.docx"
    docx.write_bytes(b"PK")
    with pytest.raises(KeyboardInterrupt):
        WordConverter().convert([ConversionJob(docx, docx.with_suffix(".pdf"))])
    left = [p.name for p in letters.iterdir() if p.name.startswith(".")]
    assert left == [".converting-Derby City Council - Annual Review 2020.pdf"]
    assert not docx.with_suffix(".pdf").exists()

    monkeypatch.setattr(sys, "platform", REAL_PLATFORM)  # the next build runs here, on Linux
    result = CliRunner().invoke(cli, ["build", "--no-pdf"])
    assert result.exit_code == 0, result.output
    assert [p.name for p in letters.iterdir() if p.name.startswith(".")] == []
