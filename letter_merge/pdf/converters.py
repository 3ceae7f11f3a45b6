"""Choosing the converter by name (--converter): LibreOffice, where soffice.py finds it, or Word."""

from __future__ import annotations

from pathlib import Path

from letter_merge.config import DEFAULT_PDF, PdfSettings
from letter_merge.errors import ConverterUnavailable, InputError
from letter_merge.pdf.convert import Converter
from letter_merge.pdf.libreoffice import LibreOfficeConverter
from letter_merge.pdf.soffice import find_libreoffice, libreoffice_not_found
from letter_merge.pdf.word import WordConverter


def make_converter(
    name: str,
    profile_dir: Path | None = None,
    pdf: PdfSettings = DEFAULT_PDF,
    verdicts: Path | None = None,
) -> Converter:
    if name == "libreoffice":
        program = find_libreoffice(pdf.soffice)
        if program is None:
            raise ConverterUnavailable(libreoffice_not_found())
        return LibreOfficeConverter(program, profile_dir=profile_dir, pdf=pdf, verdicts=verdicts)
    if name == "word":
        return WordConverter()
    raise InputError(f"--converter {name}: use 'libreoffice' or 'word'.")
