"""A LibreOffice kept running for previews (UNO): one start for many letters, the same letters as
the usual conversion, and the usual conversion where it cannot run."""

from __future__ import annotations

from pathlib import Path

import page
import pytest

from letter_merge.batch import load_batch
from letter_merge.build import build_letters
from letter_merge.config import Settings
from letter_merge.pdf import warm
from letter_merge.pdf.conformance import read_conformance
from letter_merge.pdf.convert import ConversionJob
from letter_merge.pdf.libreoffice import LibreOfficeConverter
from letter_merge.pdf.soffice import find_libreoffice
from letter_merge.pdf.warm import WarmLibreOffice
from tests.helpers import pdf_text

pytestmark = pytest.mark.libreoffice


def letters(settings: Settings, folder: Path) -> list[ConversionJob]:
    report = build_letters(load_batch(settings), converter=None)
    folder.mkdir()
    return [
        ConversionJob(o.docx, folder / f"{o.docx.stem}.pdf", o.letter.subject)
        for o in report.letters
        if o.docx
    ]


def test_one_libreoffice_converts_letter_after_letter(settings: Settings, tmp_path: Path) -> None:
    if warm.find_uno_python() is None:
        pytest.skip("no Python with LibreOffice's uno module (Debian: python3-uno)")
    program = find_libreoffice()
    assert program is not None
    jobs = letters(settings, tmp_path / "warm")
    converter = WarmLibreOffice(program, tmp_path / "profile", LibreOfficeConverter(program))
    try:
        assert converter.start()
        worker = converter._worker
        results = converter.convert(jobs)
        assert [r.error for r in results] == [None] * len(jobs)
        assert converter._worker is worker and worker is not None and worker.alive()
    finally:
        converter.close()
    assert worker is not None and not worker.alive()
    alone = tmp_path / "alone"
    alone.mkdir()
    for job in jobs:
        usual = ConversionJob(job.docx, alone / job.pdf.name, job.title)
        LibreOfficeConverter(program, combine=False).convert([usual])
        assert pdf_text(job.pdf) == pdf_text(usual.pdf)
        assert read_conformance(job.pdf) == read_conformance(usual.pdf)
        assert page.validate_pdf(job.pdf, profile="ua1").is_compliant


def test_without_uno_it_converts_the_usual_way(
    settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(warm, "find_uno_python", lambda soffice=None: None)
    program = find_libreoffice()
    assert program is not None
    jobs = letters(settings, tmp_path / "letters")[:1]
    converter = WarmLibreOffice(program, tmp_path / "profile", LibreOfficeConverter(program))
    assert not converter.start()
    (result,) = converter.convert(jobs)
    assert result.error is None and read_conformance(jobs[0].pdf).tagged
