"""The Microsoft Word converter. Word cannot run here, so docx2pdf is replaced by a FAKE module
that stands in for Word: these tests cover our side of it (platform check, PDF check, failures)."""

from __future__ import annotations

import sys
import types
from pathlib import Path

import pytest

from letter_merge.convert import ConversionJob, WordConverter, make_converter
from letter_merge.errors import ConverterUnavailable


def install_fake_docx2pdf(monkeypatch: pytest.MonkeyPatch, behaviour: str) -> None:
    fake = types.ModuleType("docx2pdf")

    def convert(source: str, target: str) -> None:  # FAKE Word: no real conversion happens
        if behaviour == "raise":
            raise RuntimeError("Word automation failed: document is locked")
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
    seen = []
    (result,) = WordConverter().convert([job], seen.append)
    assert result.error == error and seen == [result]
    assert job.pdf.exists() == (error is None)
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []
