"""Refusing hostile input files early and cheaply, before any library parses them.

The workbook, the template and the email template come from outside: a zip "bomb" whose parts
expand to gigabytes, XML that declares entities (the "billion laughs", or an external entity
that would pull a local file such as /etc/passwd into every letter), or a text file of
gigabytes. Each is refused from the zip's directory and the first bytes of each part, in well
under a second, with a message naming the file.
"""

from __future__ import annotations

import re
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from letter_merge.errors import InputError

MiB = 1024 * 1024


@dataclass(frozen=True)
class Limits:
    """How large an honest file of one kind can be, with room to spare."""

    kind: str  # "template", "workbook": for messages
    noun: str  # "a Word document": what it should be
    suffix: str  # ".docx"
    fix: str  # what to do, for messages
    part: int  # the largest part, uncompressed
    total: int  # all parts together, uncompressed
    ratio: int = 100  # the most a part over RATIO_FROM may expand (honest XML: 5-30 times)
    parts: int = 2000
    older: str = (
        ""  # the older format a file of this kind may really be: "a Word 97-2003 document (.doc)"
    )
    unlock: str = ""  # where the password is taken off, for messages


RATIO_FROM = 4 * MiB
XML_PARTS = (".xml", ".rels", ".vml")
PROLOG = 64 * 1024  # no honest part has more than this before its first element

# A letter template's body is some 100 KB; pictures (a logo, a signature) a few MB.
TEMPLATE = Limits(
    "template",
    "a Word document",
    ".docx",
    "save it again from Word or LibreOffice Writer",
    32 * MiB,
    128 * MiB,
    older="a Word 97-2003 document (.doc)",
    unlock="Word: File > Info > Protect Document > Encrypt with Password, and clear the password",
)
# 343 councils take 100 KB of sheet XML, 10,000 rows some 5 MB.
WORKBOOK = Limits(
    "workbook",
    "an Excel workbook",
    ".xlsx",
    "save it again from Excel or LibreOffice Calc",
    100 * MiB,
    256 * MiB,
    older="an Excel 97-2003 workbook (.xls)",
    unlock="Excel: File > Info > Protect Workbook > Encrypt with Password, and clear the password",
)
TEXT_FILE = 1 * MiB  # an email body template
# What a file that is not a zip package may be, by its first bytes: an OLE compound file (an
# encrypted Office file, or a Word or Excel file of before 2007) or a Rich Text file.
COMPOUND_FILE = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
ENCRYPTED = "EncryptionInfo".encode("utf-16-le")  # a stream of an encrypted package
RICH_TEXT = b"{\\rtf"


def check_package(path: Path, limits: Limits) -> None:
    """Refuse `path` unless it is a zip package of sane size whose XML declares no DOCTYPE or
    entities. Reads the zip's directory and the prolog of each XML part only. A file that is
    not a zip package is named for what it is: locked with a password, an older format, or
    Rich Text."""
    try:
        _check_not_another_format(path, limits)
        with zipfile.ZipFile(path) as package:
            infos = package.infolist()
            _check_sizes(path, infos, limits)
            _check_names(path, infos, limits)
            for info in infos:
                _check_readable(path, package, info, limits)
                problem = (
                    _prolog_problem(package, info) if info.filename.endswith(XML_PARTS) else ""
                )
                if problem == "entities":
                    raise InputError(
                        f"{path}: its part {info.filename} declares a DOCTYPE or entities, "
                        f"which no Word or Excel file needs and which can read other files "
                        f"or exhaust memory; letter-merge will not open it. {_fix(limits)}"
                    )
                if problem == "not xml":
                    raise InputError(
                        f"{path}: its part {info.filename} does not begin as XML does; "
                        f"letter-merge will not open it. {_fix(limits)}"
                    )
    except FileNotFoundError:
        raise  # the caller says which setting names the file
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, EOFError, ValueError) as error:
        raise InputError(
            f"{path}: cannot be read as {limits.noun} ({error}); {limits.fix} as {limits.suffix}."
        ) from None


def _check_not_another_format(path: Path, limits: Limits) -> None:
    """Refuse, naming it, a file that is another format under the right name: Office encrypts a
    password-protected file into an OLE compound file; a .doc, .xls or .rtf renamed keeps its own."""
    with path.open("rb") as file:
        head = file.read(8)
        encrypted = head == COMPOUND_FILE and _names_a_stream(file, ENCRYPTED)
    if head == COMPOUND_FILE and encrypted:
        raise InputError(
            f"{path}: is protected with a password, which letter-merge cannot open: save a copy "
            f"without it ({limits.unlock}) and use that copy."
        )
    if head == COMPOUND_FILE:
        raise InputError(
            f"{path}: is {limits.older}, not {limits.noun} of today's format ({limits.suffix}), "
            f"though it is named so; open it and use File > Save As > {limits.suffix}."
        )
    if head.startswith(RICH_TEXT):
        raise InputError(
            f"{path}: is a Rich Text file (.rtf), not {limits.noun} ({limits.suffix}), though it "
            f"is named so; open it and use File > Save As > {limits.suffix}."
        )


def _names_a_stream(file: BinaryIO, name: bytes) -> bool:
    """Whether a compound file's directory names a stream: its name, in UTF-16, anywhere in
    the file (the directory may be anywhere; a file is read in pieces, at most as far as the
    largest package allowed)."""
    file.seek(0)
    tail = b""
    read = 0
    while read < 256 * MiB and (piece := file.read(MiB)):
        if name in tail + piece:
            return True
        tail = piece[-len(name) :]
        read += len(piece)
    return False


def read_text_file(path: Path, what: str, setting: str) -> str:
    """A small UTF-8 text file (the email template), refused if it is not one."""
    try:
        size = path.stat().st_size
        if size > TEXT_FILE:
            raise InputError(
                f"{path}: the {what} is {size / MiB:.0f} MB; an email body is a few KB. Check "
                f"{setting} in letter-merge.toml."
            )
        return path.read_text(encoding="utf-8")
    except UnicodeDecodeError as error:
        raise InputError(
            f"{path}: the {what} is not UTF-8 text (byte {error.start}); save it as plain text "
            "with UTF-8 encoding."
        ) from None
    except FileNotFoundError:
        raise InputError(f"{path}: no such {what}; check {setting} in letter-merge.toml.") from None
    except OSError as error:
        raise InputError(f"{path}: the {what} cannot be read ({error.strerror}).") from None


def _check_sizes(path: Path, infos: list[zipfile.ZipInfo], limits: Limits) -> None:
    if len(infos) > limits.parts:
        raise InputError(
            f"{path}: has {len(infos)} parts, more than any {limits.kind} needs; {_fix(limits)}"
        )
    total = 0
    for info in infos:
        total += info.file_size
        expands = info.file_size / max(info.compress_size, 1)
        if info.file_size > limits.part or (info.file_size > RATIO_FROM and expands > limits.ratio):
            raise InputError(
                f"{path}: its part {info.filename} would expand to {info.file_size / MiB:,.0f} MB "
                f"({expands:,.0f} times its stored size), far beyond any real {limits.kind}; "
                f"letter-merge will not open it. {_fix(limits)}"
            )
    if total > limits.total:
        raise InputError(
            f"{path}: its parts would expand to {total / MiB:,.0f} MB, far beyond any real "
            f"{limits.kind}; letter-merge will not open it. {_fix(limits)}"
        )


def _check_names(path: Path, infos: list[zipfile.ZipInfo], limits: Limits) -> None:
    seen: set[str] = set()
    for info in infos:
        if info.filename in seen:
            raise InputError(
                f"{path}: has two parts named {info.filename}, which no program that saves "
                f"{limits.noun} writes; letter-merge will not guess which is meant. {_fix(limits)}"
            )
        seen.add(info.filename)


def _check_readable(
    path: Path, package: zipfile.ZipFile, info: zipfile.ZipInfo, limits: Limits
) -> None:
    """Read a part through to its end (its sizes are already known to be sane), so that damage
    anywhere in it (a bad checksum, data that does not decompress) is found now, with its name."""
    try:
        with package.open(info) as stream:
            while stream.read(MiB):
                pass
    except (zipfile.BadZipFile, zlib.error, EOFError, NotImplementedError) as error:
        raise InputError(
            f"{path}: its part {info.filename} is damaged ({error}); {limits.fix} as "
            f"{limits.suffix}, or use a copy saved before it was damaged."
        ) from None


def _fix(limits: Limits) -> str:
    return f"If it is yours, {limits.fix}; if not, do not use it."


def _prolog_problem(package: zipfile.ZipFile, info: zipfile.ZipInfo) -> str:
    """What is wrong with the part's prolog (what comes before its first element), from its
    first 64 KB only: "entities" for a DOCTYPE or ENTITY declaration, "not xml" when no element
    starts there although the part is longer; "" when all is well."""
    with package.open(info) as stream:
        head = stream.read(PROLOG)
    text = head.replace(b"\x00", b"")  # UTF-16, read as bytes
    text = re.sub(rb"<!--.*?-->|<\?.*?\?>", b"", text, flags=re.DOTALL)
    root = re.search(rb"<[^!?]", text)
    prolog = text[: root.start()] if root else text
    if re.search(rb"<!\s*(DOCTYPE|ENTITY)", prolog, re.IGNORECASE):
        return "entities"
    if root is None and info.file_size > PROLOG:
        return "not xml"
    return ""
