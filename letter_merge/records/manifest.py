"""The record of a build, `output/<year>/manifest.json`: what each letter was made from, its files
with their SHA-256, and the figures it states. Read and written only here, as typed values.

Everything after the build (proof, approve, queue, send, status) learns what was built from this
record, and asks `approval_is_current` whether an approval still holds.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from letter_merge.errors import InputError
from letter_merge.files import sha256_file, write_atomic
from letter_merge.paths import OutputPaths

FORMAT = 1  # the manifest's layout; a reader meeting a newer one says so


@dataclass(frozen=True)
class FileRecord:
    """One file of a letter, named relative to the year's folder."""

    path: str
    sha256: str
    pages: int | None = None  # PDFs only

    def matches(self, paths: OutputPaths) -> bool:
        """The file is there and is the one recorded: nobody replaced, edited or removed it."""
        file = paths.absolute(self.path)
        return file.is_file() and sha256_file(file) == self.sha256


@dataclass(frozen=True)
class Recipient:
    name: str
    job_title: str
    email: str
    cc: tuple[str, ...] = ()


@dataclass(frozen=True)
class Conversion:
    """How a letter's PDF was made: alone, or together with other letters of its template and
    cut apart, trusted on a check that compared some of them with themselves converted alone."""

    together: bool
    compared: tuple[str, ...] = ()  # the letters the check compared (file names)
    libreoffice: str = ""
    checked_at: str = ""


@dataclass(frozen=True)
class LetterRecord:
    authority: str
    authority_type: str
    recipient: Recipient
    subject: str
    docx: FileRecord | None
    pdf: FileRecord | None
    # What the letter was made from: the same template, fields and subject make the same letter.
    source_sha256: str
    # The figures it states, so that next year's proof can show what moved.
    figures: dict[str, int | None] = field(default_factory=dict)
    error: str | None = None
    conversion: Conversion | None = None  # None: no PDF, or built by an older letter-merge
    # Every field it was made from, the template's identity and letter-merge's version: to say
    # exactly what changed when it is out of date (empty for letters built before they were kept).
    fields: dict[str, Any] = field(default_factory=dict)
    template: str = ""
    tool_version: str = ""
    # What the letter states (its words and pictures: template/statement.py); "" for letters
    # built before it was kept.
    statement: str = ""
    # Its body's paragraphs, packed (template/statement.py): "" for letters built before.
    paragraphs: str = ""


@dataclass(frozen=True)
class InputRecord:
    path: str
    sha256: str


@dataclass(frozen=True)
class Manifest:
    year: int
    letter_date: str
    tool_version: str
    built_at: str
    converter: str | None
    inputs: dict[str, InputRecord]
    letters: tuple[LetterRecord, ...]

    def by_authority(self) -> dict[str, LetterRecord]:
        return {letter.authority: letter for letter in self.letters}


def approval_is_current(
    letter: LetterRecord | None, approved_pdf_sha256: str, paths: OutputPaths
) -> bool:
    """Whether an approval of the PDF with `approved_pdf_sha256` still holds: it is the letter's
    PDF as last built, and that PDF is on disk unchanged. A rebuilt, edited or missing PDF voids
    the approval."""
    return (
        letter is not None
        and letter.pdf is not None
        and letter.pdf.sha256 == approved_pdf_sha256
        and letter.pdf.matches(paths)
    )


def read_manifest(path: Path) -> Manifest | None:
    """The manifest at `path`; None when there is none yet."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    except OSError as error:
        raise InputError(f"{path}: cannot be read ({error.strerror}).") from None
    try:
        data = json.loads(text)
        if data.get("format", 1) > FORMAT:
            raise InputError(
                f"{path}: written by a newer letter-merge; update letter-merge to read it."
            )
        return _manifest(data)
    except (ValueError, KeyError, TypeError, AttributeError) as error:
        raise InputError(
            f"{path}: cannot be read ({type(error).__name__}: {error}); delete it and build again."
        ) from None


def write_manifest(path: Path, manifest: Manifest) -> None:
    data = {
        "format": FORMAT,
        "tool": {"name": "letter-merge", "version": manifest.tool_version},
        "converter": manifest.converter,
        "built_at": manifest.built_at,
        "year": manifest.year,
        "letter_date": manifest.letter_date,
        "inputs": {
            name: {"path": record.path, "sha256": record.sha256}
            for name, record in manifest.inputs.items()
        },
        "letters": [_letter_data(letter) for letter in manifest.letters],
    }
    text = json.dumps(data, indent=2, ensure_ascii=False) + "\n"
    write_atomic(path, text.encode("utf-8"))


def _letter_data(letter: LetterRecord) -> dict[str, Any]:
    files: dict[str, Any] = {}
    for kind, record in (("docx", letter.docx), ("pdf", letter.pdf)):
        if record is not None:
            files[kind] = {"path": record.path, "sha256": record.sha256}
            if record.pages is not None:
                files[kind]["pages"] = record.pages
    return {
        "authority": letter.authority,
        "authority_type": letter.authority_type,
        "recipient": {
            "name": letter.recipient.name,
            "job_title": letter.recipient.job_title,
            "email": letter.recipient.email,
            "cc": list(letter.recipient.cc),
        },
        "subject": letter.subject,
        "files": files,
        "source_sha256": letter.source_sha256,
        "statement": letter.statement,
        "paragraphs": letter.paragraphs,
        "figures": letter.figures,
        "error": letter.error,
        "conversion": None if letter.conversion is None else _conversion_data(letter.conversion),
        "made_from": {
            "template": letter.template,
            "tool_version": letter.tool_version,
            "fields": letter.fields,
        },
    }


def _conversion_data(conversion: Conversion) -> dict[str, Any]:
    if not conversion.together:
        return {"together": False}
    return {
        "together": True,
        "checked_against_alone": {
            "letters": list(conversion.compared),
            "libreoffice": conversion.libreoffice,
            "at": conversion.checked_at,
        },
    }


def _read_conversion(value: Mapping[str, Any] | None) -> Conversion | None:
    if not value:
        return None
    check = value.get("checked_against_alone") or {}
    return Conversion(
        bool(value.get("together")),
        tuple(str(name) for name in check.get("letters", [])),
        str(check.get("libreoffice", "")),
        str(check.get("at", "")),
    )


def _manifest(data: Mapping[str, Any]) -> Manifest:
    return Manifest(
        year=int(data["year"]),
        letter_date=str(data.get("letter_date", "")),
        tool_version=str(data.get("tool", {}).get("version", "")),
        built_at=str(data.get("built_at", "")),
        converter=data.get("converter"),
        inputs={
            name: InputRecord(str(value["path"]), str(value["sha256"]))
            for name, value in data.get("inputs", {}).items()
        },
        letters=tuple(_letter(entry) for entry in data.get("letters", [])),
    )


def _letter(entry: Mapping[str, Any]) -> LetterRecord:
    files = entry.get("files", {})
    recipient = entry.get("recipient", {})
    return LetterRecord(
        authority=str(entry["authority"]),
        authority_type=str(entry.get("authority_type", "")),
        recipient=Recipient(
            name=str(recipient.get("name", "")),
            job_title=str(recipient.get("job_title", "")),
            email=str(recipient.get("email", "")),
            cc=tuple(str(address) for address in recipient.get("cc", [])),
        ),
        subject=str(entry.get("subject", "")),
        docx=_file(files.get("docx")),
        pdf=_file(files.get("pdf")),
        source_sha256=str(entry.get("source_sha256", "")),
        figures={str(k): v for k, v in entry.get("figures", {}).items()},
        error=entry.get("error"),
        conversion=_read_conversion(entry.get("conversion")),
        fields=dict(entry.get("made_from", {}).get("fields", {})),
        template=str(entry.get("made_from", {}).get("template", "")),
        tool_version=str(entry.get("made_from", {}).get("tool_version", "")),
        statement=str(entry.get("statement", "")),
        paragraphs=str(entry.get("paragraphs", "")),
    )


def _file(value: Mapping[str, Any] | None) -> FileRecord | None:
    if not value:
        return None
    pages = value.get("pages")
    return FileRecord(
        str(value["path"]), str(value["sha256"]), None if pages is None else int(pages)
    )
