"""Where the template itself would defeat an accessible letter, whatever the PDF export does:
pictures without alternative text, tables without a header row, text too pale to read (WCAG 2.2
AA contrast), and headings made by bold type instead of a heading style. Warnings, not errors:
the letters can still be built.
"""

from __future__ import annotations

import zipfile
from dataclasses import dataclass
from pathlib import Path

from lxml import etree

from letter_merge.template.doctor import Finding
from letter_merge.template.wordxml import (
    BODY_PART,
    TAG,
    LocatedParagraph,
    is_text_part,
    paragraphs,
    parse,
    part_label,
    w,
)

WP = "http://schemas.openxmlformats.org/drawingml/2006/wordprocessingDrawing"
DECORATIVE = "http://schemas.microsoft.com/office/drawing/2017/decorative"
STYLES_PART = "word/styles.xml"
# WCAG 2.2 AA (1.4.3): 4.5:1 for text, 3:1 for large text (18 pt, or 14 pt bold).
NORMAL_CONTRAST = 4.5
LARGE_CONTRAST = 3.0
HEADING_STYLE = (
    "select the paragraph and apply a heading style (Word: Home > Styles > Heading 2; Writer: "
    "Styles > Heading 2): a screen reader lists and jumps between headings by their style, "
    "not by how they look"
)


def accessibility_findings(template: Path) -> list[Finding]:
    """What in the template would make its letters hard to use with a screen reader or to read;
    the template is one the doctor has already let through (check_package)."""
    with zipfile.ZipFile(template) as package:
        names = package.namelist()
        styles = _Styles(parse(package.read(STYLES_PART)) if STYLES_PART in names else None)
        parts = [(name, parse(package.read(name))) for name in names if is_text_part(name)]
    findings: list[Finding] = []
    for part_name, root in parts:
        located = list(paragraphs(part_name, root))
        findings += _pictures_without_alt(template.name, part_name, root, located)
        if part_name == BODY_PART:
            findings += _tables_without_header(template.name, root)
        for number, paragraph in enumerate(located):
            findings += _low_contrast(template.name, paragraph, styles)
            following = located[number + 1] if number + 1 < len(located) else None
            if part_name == BODY_PART and _looks_like_a_heading(paragraph, following, styles):
                findings.append(
                    Finding(
                        paragraph.place(template.name),
                        f"looks like a heading (bold, on a line of its own) but is not one; "
                        f"{HEADING_STYLE}.",
                        error=False,
                    )
                )
    return findings


def _pictures_without_alt(
    template_name: str, part_name: str, root: etree._Element, located: list[LocatedParagraph]
) -> list[Finding]:
    findings = []
    for picture in root.iter(f"{{{WP}}}docPr"):
        described = (picture.get("descr") or picture.get("title") or "").strip()
        decorative = any(
            element.get("val") in ("1", "true") for element in picture.iter(f"{{{DECORATIVE}}}*")
        )
        if described or decorative:
            continue
        holder = next(picture.iterancestors(w("p")), None)
        place = next((p for p in located if p.element is holder), None)
        where = (
            place.place(template_name)
            if place is not None
            else f"{template_name} ({part_label(part_name)})"
        )
        name = picture.get("name") or "a picture"
        findings.append(
            Finding(
                where,
                f"{name} has no alternative text, so a screen reader cannot say what it shows; "
                "right-click it > Edit Alt Text (Word) or Properties > Options > Alternative "
                "(Writer) and describe it, or mark it as decorative.",
                error=False,
            )
        )
    return findings


def _tables_without_header(template_name: str, root: etree._Element) -> list[Finding]:
    findings = []
    for number, table in enumerate(root.iter(w("tbl")), start=1):
        first = table.find(w("tr"))
        if first is None:
            continue
        header = first.find(f"{w('trPr')}/{w('tblHeader')}")
        if header is not None and header.get(w("val"), "true") not in ("0", "false", "off"):
            continue
        findings.append(
            Finding(
                f"{template_name}, table {number}",
                "has no header row, so a screen reader cannot say which column a figure is in; "
                "select its first row > Table Properties > Row > 'Repeat as header row at the top "
                "of each page' (Writer: Table Properties > Text Flow > Repeat heading).",
                error=False,
            )
        )
    return findings


@dataclass(frozen=True)
class _Look:
    colour: str | None = None  # "RRGGBB"; None: automatic (black on a light page)
    bold: bool = False
    size: int | None = None  # half-points


class _Styles:
    """The colour, weight and size each named style gives, following basedOn."""

    def __init__(self, root: etree._Element | None) -> None:
        self._styles: dict[str, etree._Element] = {}
        self.default_paragraph: str | None = None
        if root is None:
            return
        for style in root.iter(w("style")):
            style_id = style.get(w("styleId"))
            if style_id:
                self._styles[style_id] = style
                if style.get(w("type")) == "paragraph" and style.get(w("default")) in ("1", "true"):
                    self.default_paragraph = style_id

    def look(self, style_id: str | None) -> _Look:
        look = _Look()
        seen: set[str] = set()
        chain = []
        while style_id and style_id in self._styles and style_id not in seen:
            seen.add(style_id)
            style = self._styles[style_id]
            chain.append(style.find(w("rPr")))
            based = style.find(w("basedOn"))
            style_id = based.get(w("val")) if based is not None else None
        for properties in reversed(chain):  # the base first, each style over it
            look = _apply(look, properties)
        return look

    def is_heading(self, style_id: str | None) -> bool:
        seen: set[str] = set()
        while style_id and style_id in self._styles and style_id not in seen:
            seen.add(style_id)
            style = self._styles[style_id]
            name = style.find(w("name"))
            label = (name.get(w("val")) if name is not None else style_id) or ""
            if (
                label.lower().startswith(("heading", "title"))
                or style.find(f"{w('pPr')}/{w('outlineLvl')}") is not None
            ):
                return True
            based = style.find(w("basedOn"))
            style_id = based.get(w("val")) if based is not None else None
        return False


def _apply(look: _Look, properties: etree._Element | None) -> _Look:
    if properties is None:
        return look
    colour, bold, size = look.colour, look.bold, look.size
    element = properties.find(w("color"))
    if element is not None and element.get(w("val")):
        value = element.get(w("val"), "")
        colour = None if value.lower() == "auto" else value.upper()
    element = properties.find(w("b"))
    if element is not None:
        bold = element.get(w("val"), "true") not in ("0", "false", "off")
    element = properties.find(w("sz"))
    if element is not None and (element.get(w("val")) or "").isdigit():
        size = int(element.get(w("val"), "0"))
    return _Look(colour, bold, size)


def _paragraph_style(paragraph: etree._Element) -> str | None:
    style = paragraph.find(f"{w('pPr')}/{w('pStyle')}")
    return style.get(w("val")) if style is not None else None


def _runs(paragraph: LocatedParagraph, styles: _Styles) -> list[tuple[str, _Look]]:
    """Each of the paragraph's runs with text, and how it looks."""
    base = styles.look(_paragraph_style(paragraph.element) or styles.default_paragraph)
    found = []
    for node in paragraph.texts:
        run = node.getparent()
        if run is None or not (node.text or "").strip():
            continue
        properties = run.find(w("rPr"))
        look = base
        if properties is not None:
            run_style = properties.find(w("rStyle"))
            if run_style is not None:
                look = _merge(look, styles.look(run_style.get(w("val"))))
            look = _apply(look, properties)
        found.append((node.text or "", look))
    return found


def _merge(under: _Look, over: _Look) -> _Look:
    return _Look(
        over.colour or under.colour,
        over.bold or under.bold,
        over.size or under.size,
    )


def _low_contrast(
    template_name: str, paragraph: LocatedParagraph, styles: _Styles
) -> list[Finding]:
    background = _background(paragraph.element)
    worst: tuple[float, str, float] | None = None
    for _text, look in _runs(paragraph, styles):
        if look.colour is None or len(look.colour) != 6:
            continue
        try:
            ratio = contrast(look.colour, background)
        except ValueError:
            continue
        large = (look.size or 22) >= 36 or (look.bold and (look.size or 22) >= 28)
        needed = LARGE_CONTRAST if large else NORMAL_CONTRAST
        if ratio < needed and (worst is None or ratio < worst[0]):
            worst = (ratio, look.colour, needed)
    if worst is None:
        return []
    ratio, colour, needed = worst
    return [
        Finding(
            paragraph.place(template_name),
            f"text in colour #{colour} on #{background} has a contrast of {ratio:.1f}:1, below "
            f"the {needed:g}:1 that WCAG 2.2 AA asks for; choose a darker colour (or Automatic).",
            error=False,
        )
    ]


def _background(paragraph: etree._Element) -> str:
    """The fill behind a paragraph: its own shading, its table cell's, or a white page."""
    shading = paragraph.find(f"{w('pPr')}/{w('shd')}")
    if shading is None:
        cell = next(paragraph.iterancestors(w("tc")), None)
        if cell is not None:
            shading = cell.find(f"{w('tcPr')}/{w('shd')}")
    fill = (shading.get(w("fill")) or "") if shading is not None else ""
    return fill.upper() if len(fill) == 6 and fill.lower() != "auto" else "FFFFFF"


def contrast(foreground: str, background: str) -> float:
    """The WCAG contrast ratio of two colours written RRGGBB."""
    lighter, darker = sorted((_luminance(foreground), _luminance(background)), reverse=True)
    return (lighter + 0.05) / (darker + 0.05)


def _luminance(colour: str) -> float:
    channels = [int(colour[i : i + 2], 16) / 255 for i in (0, 2, 4)]
    linear = [c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
    return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]


def _looks_like_a_heading(
    paragraph: LocatedParagraph, following: LocatedParagraph | None, styles: _Styles
) -> bool:
    """Short, all bold by hand, in the ordinary paragraph style, with text after it: a heading
    made to look like one instead of being styled as one."""
    if not paragraph.where.startswith("paragraph"):
        return False  # tables, text boxes: not where headings go
    style = _paragraph_style(paragraph.element)
    if styles.is_heading(style) or (style and style != styles.default_paragraph):
        return False  # styled on purpose (a heading, a signature block, ...)
    words = TAG.sub("", paragraph.text).strip()
    if not words or len(words) > 100 or words[-1] in ".,;:!?" or not TAG.sub("", words).strip():
        return False
    runs = _runs(paragraph, styles)
    if not runs or not all(look.bold for _text, look in runs):
        return False
    return following is not None and bool(TAG.sub("", following.text).strip())
