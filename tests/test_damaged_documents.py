"""No traceback from any document: every reader of Word XML (the doctor, the accessibility checks,
the merge, the letters' build, the HTML email, and the fidelity guard's reading of letters) run
over a fuzzed family of damaged templates: zip-level damage, truncation, bit flips, XML damage in
each part and unknown elements in each place. Each is refused naming the file (and the part,
where one part is damaged) with what to do, or built; none takes more than a few seconds.

Hypothesis draws the damage, derandomised so that `make test` runs the same examples each time,
and few enough of them to stay quick. Converting is left to the LibreOffice tier."""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import io
import os
import re
import shutil
import warnings
import zipfile
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as Timeout
from pathlib import Path

import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from lxml import etree

from letter_merge.batch import load_batch
from letter_merge.build import build_letters
from letter_merge.cli import cli
from letter_merge.config import Settings, load_settings
from letter_merge.errors import LetterMergeError, ProblemsFound
from letter_merge.pdf.combine import (
    CombineError,
    combine_letters,
    look_at,
    template_cannot_combine,
)
from letter_merge.template.html_email import email_body, email_problems
from tests import word_controls
from tests.helpers import (
    DEFAULT_COUNCILS,
    ROOT,
    contacts_of,
    pdf_text,
    statistics,
    write_workbook,
)

SECONDS = 20  # the most one damaged document may take through every reader, on a busy machine
FUZZ = settings(
    max_examples=10,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
UNKNOWN = (
    b'<w:fuzzUnknown w:val="1"><w:t>?</w:t></w:fuzzUnknown>',
    b'<fz:thing xmlns:fz="urn:letter-merge:fuzz" fz:a="b"><fz:inner/></fz:thing>',
    b"<w:p><w:r><w:t>stray</w:t></w:r></w:p>",
    b"<w:sdt><w:sdtPr><w:id/></w:sdtPr><w:sdtContent></w:sdtContent></w:sdt>",
    b'<w:r><w:fldChar w:fldCharType="begin"/></w:r>',  # a field that never ends
    b"<w:tc><w:p/></w:tc>",  # a cell outside any row
)


@dataclasses.dataclass(frozen=True)
class Damaged:
    """A template's bytes after some damage, and the part damaged (None: the whole file)."""

    data: bytes
    part: str | None
    how: str


@pytest.fixture(scope="module")
def bases(tmp_path_factory: pytest.TempPathFactory) -> dict[str, bytes]:
    """The default letter, and the letter with content controls in every place."""
    folder = tmp_path_factory.mktemp("bases")
    plain = ROOT / "templates" / "letter.docx"
    controls = folder / "controls.docx"
    shutil.copy(plain, controls)
    word_controls.in_every_place(controls)
    return {"letter": plain.read_bytes(), "controls": controls.read_bytes()}


@pytest.fixture(scope="module")
def work(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, Settings]]:
    """A working folder of four councils whose template (and Word email) each example replaces."""
    folder = tmp_path_factory.mktemp("damaged")
    (folder / "templates").mkdir()
    (folder / "input").mkdir()
    contacts = contacts_of(DEFAULT_COUNCILS)
    write_workbook(
        folder / "input" / "councils.xlsx", contacts, [statistics(n) for n, *_ in DEFAULT_COUNCILS]
    )
    (folder / "letter-merge.toml").write_text(
        "[batch]\nyear = 2020\nletter_date = 2020-07-22\n[pdf]\naccessible = true\n",
        encoding="utf-8",
    )
    old = Path.cwd()
    os.chdir(folder)
    try:
        loaded = load_settings(folder / "letter-merge.toml", environ={}, today=dt.date(2020, 7, 22))
        yield folder, loaded
    finally:
        os.chdir(old)


def parts_of(data: bytes) -> dict[str, bytes]:
    with zipfile.ZipFile(io.BytesIO(data)) as package:
        return {info.filename: package.read(info) for info in package.infolist()}


def package(parts: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as target:
        for name, data in parts.items():
            target.writestr(name, data)
    return buffer.getvalue()


XML_PARTS = (
    "word/document.xml",
    "word/styles.xml",
    "word/settings.xml",
    "word/footer1.xml",
    "word/numbering.xml",
    "word/_rels/document.xml.rels",
    "[Content_Types].xml",
    "docProps/core.xml",
    "word/fontTable.xml",
)


@st.composite
def damaged(draw: st.DrawFn, base: bytes) -> Damaged:
    """One kind of damage to `base`, drawn."""
    kind = draw(st.sampled_from(["truncated", "bit flips", "xml", "unknown element", "zip"]))
    if kind == "truncated":
        return Damaged(base[: draw(st.integers(0, len(base) - 1))], None, kind)
    if kind == "bit flips":
        data = bytearray(base)
        for _ in range(draw(st.integers(1, 8))):
            at = draw(st.integers(0, len(data) - 1))
            data[at] ^= 1 << draw(st.integers(0, 7))
        return Damaged(bytes(data), None, kind)
    parts = parts_of(base)
    if kind == "zip":
        how = draw(st.sampled_from(["missing", "empty", "not xml", "twice"]))
        name = draw(st.sampled_from(XML_PARTS))
        if how == "missing":
            parts.pop(name, None)
        elif how == "empty":
            parts[name] = b""
        elif how == "not xml":
            parts[name] = b"\x89PNG\r\n\x1a\n" + bytes(range(256))
        else:  # the same name twice in the zip
            whole = package(parts)
            buffer = io.BytesIO(whole)
            with zipfile.ZipFile(buffer, "a") as target, warnings.catch_warnings():
                warnings.simplefilter("ignore")  # zipfile's "Duplicate name"
                target.writestr(name, b"<w:document/>")
            return Damaged(buffer.getvalue(), name, f"{name} twice")
        return Damaged(package(parts), name, f"{name} {how}")
    name = draw(st.sampled_from([n for n in XML_PARTS if n in parts]))
    xml = parts[name]
    if kind == "xml":
        at = draw(st.integers(0, len(xml)))
        how = draw(st.sampled_from(["cut", "garbage", "unclosed", "bad character"]))
        if how == "cut":
            xml = xml[:at]
        elif how == "garbage":
            xml = xml[:at] + draw(st.binary(min_size=1, max_size=12)) + xml[at:]
        elif how == "unclosed":
            closing = [m.start() for m in re.finditer(rb"</", xml)]
            if closing:
                start = closing[draw(st.integers(0, len(closing) - 1))]
                xml = xml[:start] + xml[xml.index(b">", start) + 1 :]
        else:
            xml = xml[:at] + b"\x01&<" + xml[at:]
        parts[name] = xml
        return Damaged(package(parts), name, f"{name} {how}")
    # an unknown (or misplaced) element after some element's start tag
    starts = [m.end() for m in re.finditer(rb"<[\w:]+(?:\s[^<>]*)?(?<!/)>", xml)]
    element = draw(st.sampled_from(UNKNOWN))
    if starts:
        at = starts[draw(st.integers(0, len(starts) - 1))]
        xml = xml[:at] + element + xml[at:]
    parts[name] = xml
    return Damaged(package(parts), name, f"{name} unknown element")


def every_reader(folder: Path, loaded: Settings) -> str:
    """The template through check, build (no conversion), the guard's reading of the letters
    and the HTML email: 'refused' with its message, or 'built'."""
    try:
        batch = load_batch(loaded)
    except LetterMergeError as error:
        return f"refused: {said(error)}"
    two = [council.authority for council in batch.workbook.councils[:2]]  # enough to combine
    report = build_letters(batch, only=two, converter=None, force=True)
    letters = [o.docx for o in report.letters if o.docx is not None]
    for letter in letters:
        # the fidelity guard reads letters with these, and takes these errors as "alone"
        try:
            look_at(letter)
            template_cannot_combine(letter)
        except (OSError, KeyError, zipfile.BadZipFile, etree.XMLSyntaxError):
            pass
    if len(letters) > 1:
        with contextlib.suppress(CombineError, OSError, zipfile.BadZipFile, etree.XMLSyntaxError):
            combine_letters(letters)
    email = dataclasses.replace(loaded, email_template=folder / "templates" / "letter.docx")
    if not email_problems(email, batch.workbook.fields) and report.letters:
        with contextlib.suppress(LetterMergeError):
            email_body(email, "", report.letters[0].letter.fields)
    errors = [o.error for o in report.letters if o.error]
    return f"built, {len(letters)} letters" + (f" ({errors[0]})" if errors else "")


def said(error: LetterMergeError) -> str:
    if isinstance(error, ProblemsFound):
        return " | ".join(f"{p.where}: {p.message}" for p in error.problems)
    return str(error)


def within(seconds: float, run: Callable[[], str]) -> str:
    with ThreadPoolExecutor(max_workers=1) as pool:
        task = pool.submit(run)
        try:
            return task.result(timeout=seconds)
        except Timeout:
            pytest.fail(f"took more than {seconds} s")
            raise


def check_outcome(damage: Damaged, outcome: str) -> None:
    if not outcome.startswith("refused: "):
        assert outcome.startswith("built"), outcome
        return
    message = outcome.removeprefix("refused: ")
    assert "letter.docx" in message, (damage.how, message)
    assert "Traceback" not in message
    if damage.part and re.search(r"cannot be read|not well-formed|XML", message):
        assert damage.part in message, (damage.how, message)


@pytest.mark.parametrize("base", ["letter", "controls"])
@FUZZ
@given(data=st.data())
def test_a_damaged_template_is_refused_or_built(
    bases: dict[str, bytes], work: tuple[Path, Settings], base: str, data: st.DataObject
) -> None:
    folder, loaded = work
    damage = data.draw(damaged(bases[base]), label="damage")
    (folder / "templates" / "letter.docx").write_bytes(damage.data)
    outcome = within(SECONDS, lambda: every_reader(folder, loaded))
    check_outcome(damage, outcome)


def flipped_in(data: bytes, part: str) -> bytes:
    """A bit flipped in the middle of a part's stored (compressed) bytes."""
    with zipfile.ZipFile(io.BytesIO(data)) as source:
        info = source.getinfo(part)
    start = info.header_offset + 30 + len(info.filename.encode()) + len(info.extra)
    damaged = bytearray(data)
    damaged[start + info.compress_size // 2] ^= 0x10
    return bytes(damaged)


def with_part(data: bytes, part: str, change: Callable[[bytes], bytes | None]) -> bytes:
    parts = parts_of(data)
    changed = change(parts[part])
    if changed is None:
        del parts[part]
    else:
        parts[part] = changed
    return package(parts)


@pytest.mark.parametrize(
    ("how", "said"),
    [
        ("cut short", "cannot be read as a Word document (File is not a zip file)"),
        ("bit flip", "its part word/document.xml is damaged ("),
        ("styles cut", "its part word/styles.xml is damaged ("),
        ("body missing", "has no word/document.xml part, so it is not a Word document (.docx)"),
        ("rels unbound", "its part word/_rels/document.xml.rels is damaged (Namespace prefix w"),
        ("unknown element", ""),
    ],
)
def test_each_kind_of_damage_is_said_with_the_part_and_what_to_do(
    bases: dict[str, bytes], work: tuple[Path, Settings], how: str, said: str
) -> None:
    folder, loaded = work
    base = bases["letter"]
    data = {
        "cut short": lambda: base[: len(base) // 2],
        "bit flip": lambda: flipped_in(base, "word/document.xml"),
        "styles cut": lambda: with_part(base, "word/styles.xml", lambda xml: xml[:5000]),
        "body missing": lambda: with_part(base, "word/document.xml", lambda xml: None),
        "rels unbound": lambda: with_part(
            base,
            "word/_rels/document.xml.rels",
            lambda xml: xml.replace(b"</Rel", UNKNOWN[0] + b"</Rel", 1),
        ),
        "unknown element": lambda: with_part(
            base,
            "word/document.xml",
            lambda xml: xml.replace(b"<w:body>", b"<w:body>" + UNKNOWN[1], 1),
        ),
    }[how]()
    (folder / "templates" / "letter.docx").write_bytes(data)
    outcome = within(SECONDS, lambda: every_reader(folder, loaded))
    if not said:
        assert outcome == "built, 2 letters"
        return
    assert outcome.startswith(f"refused: {folder / 'templates' / 'letter.docx'}: "), outcome
    assert said in outcome
    assert re.search(r"save it|open the document in Word", outcome), outcome


@pytest.mark.libreoffice
@pytest.mark.parametrize(
    ("part", "after"),
    [
        ("word/document.xml", b"<w:body>"),  # an unknown element before the first paragraph
        ("word/styles.xml", b"<w:styles "),  # ... in the styles, as another program's extension
        ("word/settings.xml", b"<w:settings "),
    ],
)
def test_a_document_with_unknown_elements_is_converted(
    bases: dict[str, bytes], work: tuple[Path, Settings], part: str, after: bytes
) -> None:
    # Real LibreOffice, few letters: what the readers let through converts, or is refused
    # with a message; never a traceback.
    folder, _ = work

    def with_unknown(xml: bytes) -> bytes:
        at = xml.index(b">", xml.index(after)) + 1
        return xml[:at] + UNKNOWN[1] + xml[at:]

    (folder / "templates" / "letter.docx").write_bytes(
        with_part(bases["letter"], part, with_unknown)
    )
    result = CliRunner().invoke(cli, ["build", "--only=Derby City Council"])
    assert result.exit_code == 0, result.output
    pdf = folder / "output" / "2020" / "letters" / "Derby City Council - Annual Review 2020.pdf"
    assert "Derby City Council" in pdf_text(pdf)
