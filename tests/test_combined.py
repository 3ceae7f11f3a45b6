"""Letters converted together and split back are the same letters as converted one by one."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from pypdf import PdfReader

from letter_merge.batch import load_batch
from letter_merge.build import build_letters
from letter_merge.config import Settings
from letter_merge.pdf import convert
from letter_merge.pdf.convert import ConversionJob, LibreOfficeConverter, find_libreoffice

pytestmark = pytest.mark.libreoffice


def pdf_title(pdf: Path) -> str:
    metadata = PdfReader(pdf).metadata
    return str(metadata.title) if metadata is not None else ""


def converted(settings: Settings, folder: Path, *, combine: bool) -> dict[str, Path]:
    report = build_letters(load_batch(settings), converter=None)
    program = find_libreoffice()
    assert program is not None
    folder.mkdir()
    jobs = [ConversionJob(o.docx, folder / f"{o.docx.stem}.pdf") for o in report.letters if o.docx]
    results = LibreOfficeConverter(program, combine=combine).convert(jobs)
    assert [r.error for r in results] == [None] * len(jobs)
    return {job.pdf.name: job.pdf for job in jobs}


def raw_text(pdf: Path) -> list[str]:
    """Each page's text, page footers included."""
    reader = PdfReader(pdf)
    pages = []
    for number in range(1, len(reader.pages) + 1):
        output = subprocess.run(
            ["pdftotext", "-f", str(number), "-l", str(number), str(pdf), "-"],
            capture_output=True,
            check=True,
        ).stdout.decode("utf-8")
        pages.append(" ".join(output.split()))
    return pages


def test_combined_conversion_gives_the_same_letters(settings: Settings, tmp_path: Path) -> None:
    together = converted(settings, tmp_path / "together", combine=True)
    alone = converted(settings, tmp_path / "alone", combine=False)
    assert sorted(together) == sorted(alone) and len(together) == 4
    for name in together:
        pages_together, pages_alone = raw_text(together[name]), raw_text(alone[name])
        assert pages_together == pages_alone, name
        # each letter numbers its own pages from 1
        assert [p.rsplit("Page ", 1)[-1] for p in pages_together] == ["1", "2", "3"]
        assert pdf_title(together[name]) == pdf_title(alone[name])
        assert pdf_title(together[name]).startswith("Annual Review letter 2020 – ")


def test_when_combining_fails_every_letter_is_still_converted(
    settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Without the named destinations the combined PDF cannot be split: fall back to one by one.
    monkeypatch.setattr(convert, "export_filter", lambda *_, **__: "pdf:writer_pdf_Export")
    together = converted(settings, tmp_path / "together", combine=True)
    assert len(together) == 4
    for pdf in together.values():
        assert len(PdfReader(pdf).pages) == 3
