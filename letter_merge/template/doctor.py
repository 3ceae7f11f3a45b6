"""The template doctor: what Word does to templates, found, explained, and mended where that is safe.

Word splits text into runs wherever formatting, spell-checking or editing history changes, turns
straight quotes into curly ones as you type, and knows nothing of `{% %}`. Each finding names the
place as a person finds it in Word: paragraph N (or a table cell, a header, a footer, a text box)
and the paragraph's text.
"""

from __future__ import annotations

import hashlib
import io
import zipfile
from collections.abc import Iterator
from copy import deepcopy
from dataclasses import dataclass
from pathlib import Path

from lxml import etree

from letter_merge.errors import InputError
from letter_merge.files import write_atomic
from letter_merge.template.tags import tag_problems
from letter_merge.template.wordxml import (
    OPENERS,
    TAG,
    LocatedParagraph,
    check_parts,
    is_text_part,
    paragraphs,
    parse,
    part_label,
    quote,
    serialise,
    short,
    w,
)
from letter_merge.untrusted import TEMPLATE, check_package

SETTINGS = "word/settings.xml"
CURLY = str.maketrans({"“": '"', "”": '"', "„": '"', "‘": "'", "’": "'", "‚": "'"})


@dataclass(frozen=True)
class Finding:
    where: str
    message: str
    error: bool  # False: a warning; the letters come out, but perhaps not as meant
    fixable: bool = False

    def __str__(self) -> str:
        return f"{self.where}: {self.message}"


# Tracked changes as Word and LibreOffice store them, and what each is called in a message.
REVISIONS = {
    "ins": "an insertion",
    "del": "a deletion",
    "moveFrom": "a move",
    "moveTo": "a move",
    "cellIns": "an inserted cell",
    "cellDel": "a deleted cell",
    "rPrChange": "a formatting change",
    "pPrChange": "a paragraph formatting change",
    "sectPrChange": "a page settings change",
    "tblPrChange": "a table formatting change",
    "trPrChange": "a table row change",
    "tcPrChange": "a table cell change",
    "tblGridChange": "a table column change",
    "numberingChange": "a numbering change",
}
REVISION_TAGS = tuple(w(tag) for tag in REVISIONS)
COMMENT_TAGS = (w("commentReference"), w("commentRangeStart"))
ACCEPT = (
    "accept or reject every change (Word: Review > Accept > Accept All Changes and Stop "
    "Tracking; Writer: Edit > Track Changes > Accept All) and save the template: letters are "
    "never made from a template with changes still tracked"
)
DELETE_COMMENTS = (
    "delete the comments (Word: Review > Delete > Delete All Comments in Document; Writer: "
    "right-click a comment > Delete All Comments) and save the template: a comment would "
    "reach every letter"
)


# Word's editing restrictions (Review > Restrict Editing), by w:documentProtection's w:edit.
RESTRICTIONS = {
    "readOnly": "no changes (read only)",
    "comments": "comments only",
    "trackedChanges": "tracked changes only",
    "forms": "filling in forms only",
}
ON = ("1", "true", "on")


# What the doctor found in each template lately, by its name and its bytes' SHA-256: what it
# finds depends on nothing else, and the desk (which reads the batch afresh whenever any input
# changes) and a run of commands ask again about the same template many times.
_FOUND: dict[tuple[str, bytes], tuple[Finding, ...]] = {}
_FOUND_MOST = 16


def examine(template: Path) -> list[Finding]:
    """Everything the doctor finds in the template, errors first."""
    key = (template.name, _digest(template))
    if key not in _FOUND:
        found = tuple(_examine(template))
        if _digest(template) == key[1]:  # not saved again while it was read
            while len(_FOUND) >= _FOUND_MOST:
                del _FOUND[next(iter(_FOUND))]
            _FOUND[key] = found
        return list(found)
    return list(_FOUND[key])


def _digest(template: Path) -> bytes:
    try:
        with template.open("rb") as file:
            return hashlib.file_digest(file, "sha256").digest()
    except OSError:
        return b""  # not there, or not readable: said by the reading itself


def _examine(template: Path) -> list[Finding]:
    findings: list[Finding] = _editing_restrictions(template)
    for part_name, root in _parts(template):
        findings += _revisions_and_comments(template.name, part_name, root)
        for paragraph in paragraphs(part_name, root):
            findings += _examine_paragraph(template.name, paragraph)
        findings += [
            Finding(problem.paragraph.place(template.name), problem.message, True)
            for problem in tag_problems(paragraphs(part_name, root))
        ]
    return sorted(findings, key=lambda f: not f.error)


def _editing_restrictions(template: Path) -> list[Finding]:
    """A warning for a template restricted against editing: it is read and filled all the same
    (the restriction is a setting, not encryption), but every letter keeps it."""
    check_package(template, TEMPLATE)
    try:
        with zipfile.ZipFile(template) as package:
            if SETTINGS not in package.namelist():
                return []
            settings = parse(package.read(SETTINGS))
    except (OSError, zipfile.BadZipFile, etree.XMLSyntaxError):
        return []  # a damaged part is refused with its name just after (_parts)
    protection = settings.find(w("documentProtection"))
    if protection is None or protection.get(w("enforcement"), "").lower() not in ON:
        return []
    kind = RESTRICTIONS.get(protection.get(w("edit"), ""), "restricted")
    return [
        Finding(
            template.name,
            f"is protected against editing ({kind}; Word: Review > Restrict Editing). Its letters "
            "are made all the same, and each .docx letter keeps the protection: a council cannot "
            "change its letter without the password. To give letters that can be edited, choose "
            "Stop Protection there and save the template.",
            error=False,
        )
    ]


def _revisions_and_comments(
    template_name: str, part_name: str, root: etree._Element
) -> list[Finding]:
    """Tracked changes and comments, each located by paragraph (or by part, for a change to a
    table's or the page's settings)."""
    findings = []
    located: set[etree._Element] = set()
    for paragraph in paragraphs(part_name, root):
        kinds: dict[str, list[str]] = {}
        for element in paragraph.element.iter(*REVISION_TAGS, *COMMENT_TAGS):
            located.add(element)
            if element.tag in COMMENT_TAGS:
                kinds.setdefault("a comment", [])
                continue
            text = "".join(str(t) for t in element.itertext()).strip()
            kinds.setdefault(REVISIONS[etree.QName(element).localname], []).append(text)
        if kinds:
            said = ", ".join(
                f"{kind} {quote(' '.join(texts))}" if any(texts) else kind
                for kind, texts in kinds.items()
                if kind != "a comment"
            )
            where = paragraph.place(template_name)
            if said:
                findings.append(Finding(where, f"has tracked changes ({said}); {ACCEPT}.", True))
            if "a comment" in kinds:
                findings.append(Finding(where, f"has a comment; {DELETE_COMMENTS}.", True))
    elsewhere = sorted(
        {
            REVISIONS[etree.QName(e).localname]
            for e in root.iter(*REVISION_TAGS)
            if e not in located and next(e.iterancestors(w("p")), None) is None
        }
    )
    if elsewhere:
        findings.append(
            Finding(
                f"{template_name} ({part_label(part_name)})",
                f"has tracked changes ({', '.join(elsewhere)}); {ACCEPT}.",
                True,
            )
        )
    return findings


def fix(template: Path) -> tuple[Path, list[Finding]]:
    """A corrected copy beside the template (never over it): curly quotes inside tags made
    straight, and each tag gathered into the first of the runs it was split over."""
    fixed: list[Finding] = []
    replaced: dict[str, bytes] = {}
    for part_name, root in _parts(template):
        changed = False
        for paragraph in paragraphs(part_name, root):
            found = [f for f in _examine_paragraph(template.name, paragraph) if f.fixable]
            if found:
                _mend(paragraph)
                fixed += found
                changed = True
        if changed:
            replaced[part_name] = serialise(root)
    target = template.with_name(f"{template.stem}.fixed{template.suffix}")
    with zipfile.ZipFile(template) as source:
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as copy:
            for info in source.infolist():
                copy.writestr(info, replaced.get(info.filename, source.read(info)))
    write_atomic(target, buffer.getvalue())
    return target, fixed


def _parts(template: Path) -> Iterator[tuple[str, etree._Element]]:
    check_package(template, TEMPLATE)
    try:
        with zipfile.ZipFile(template) as package:
            parts = {name: package.read(name) for name in package.namelist()}
    except (OSError, zipfile.BadZipFile) as error:
        raise InputError(f"{template}: cannot be read as a Word document ({error}).") from None
    check_parts(template, parts)
    for name, data in parts.items():
        if is_text_part(name):
            yield name, parse(data)


def _examine_paragraph(template_name: str, paragraph: LocatedParagraph) -> list[Finding]:
    text = paragraph.text
    if not any(opener in text or closer in text for opener, closer in OPENERS):
        return []
    where = paragraph.place(template_name)
    findings = []
    for tag in TAG.finditer(text):
        body = tag.group()
        if body.translate(CURLY) != body:
            findings.append(
                Finding(
                    where,
                    f"{short(body)} has curly quotes, which Word puts in as you type; they work, "
                    "but type straight quotes (or turn off AutoCorrect's 'straight quotes with "
                    "smart quotes'). --fix straightens them.",
                    error=False,
                    fixable=True,
                )
            )
        formats = _formats_of(paragraph, tag.start(), tag.end())
        if len(formats) > 1:
            findings.append(
                Finding(
                    where,
                    f"{short(body)} is split across differently formatted text (part of it bold, "
                    "a different font, ...); the filled-in value takes the formatting of its first "
                    "character. Format the whole field alike; --fix gathers it into one piece.",
                    error=False,
                    fixable=True,
                )
            )
        if body.startswith(("{%tr", "{%tc")) and not _in_table_row(paragraph.element):
            findings.append(
                Finding(
                    where,
                    f"{short(body)} must be inside a table row: it repeats or removes the row it "
                    "is in. Use {%p ... %} for paragraphs.",
                    error=True,
                )
            )
    rest = TAG.sub("", text)
    for opener, closer in OPENERS:
        if opener in rest:
            findings.append(
                Finding(
                    where,
                    f"a {opener} has no {closer} in the same paragraph; close it there (a field "
                    "cannot run over two paragraphs).",
                    error=True,
                )
            )
        elif closer in rest:
            findings.append(
                Finding(
                    where,
                    f"a {closer} has no {opener} before it in the same paragraph.",
                    error=True,
                )
            )
    return findings


def _formats_of(paragraph: LocatedParagraph, start: int, end: int) -> set[bytes]:
    """The distinct run formatting over the characters start..end of the paragraph's text."""
    formats = set()
    offset = 0
    for node in paragraph.texts:
        length = len(node.text or "")
        if offset < end and offset + length > start:
            run = node.getparent()
            properties = run.find(w("rPr")) if run is not None else None
            formats.add(b"" if properties is None else etree.tostring(_without_noise(properties)))
        offset += length
    return formats


def _without_noise(properties: etree._Element) -> etree._Element:
    """Run properties as they look: spell-check marks and revision ids do not count."""
    copy = deepcopy(properties)
    for noise in ("noProof", "lang", "rFonts"):
        for element in copy.findall(w(noise)):
            copy.remove(element)
    return copy


def _in_table_row(element: etree._Element) -> bool:
    return next(element.iterancestors(w("tr")), None) is not None


def _mend(paragraph: LocatedParagraph) -> None:
    """Straighten quotes inside tags and move each tag's text into its first w:t."""
    nodes = paragraph.texts
    starts = []
    offset = 0
    for node in nodes:
        starts.append(offset)
        offset += len(node.text or "")
    text = paragraph.text
    for tag in reversed(list(TAG.finditer(text))):  # from the end: earlier offsets stay valid
        a, b = tag.span()
        first = max(i for i, s in enumerate(starts) if s <= a)
        last = max(i for i, s in enumerate(starts) if s < b)
        head = (nodes[first].text or "")[: a - starts[first]]
        tail = (nodes[last].text or "")[b - starts[last] :]
        fixed = tag.group().translate(CURLY)
        if first == last:
            nodes[first].text = head + fixed + tail
        else:
            nodes[first].text = head + fixed
            for node in nodes[first + 1 : last]:
                node.text = ""
            nodes[last].text = tail
        for node in nodes[first : last + 1]:
            node.set("{http://www.w3.org/XML/1998/namespace}space", "preserve")
