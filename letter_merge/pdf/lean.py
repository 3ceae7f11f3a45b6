"""What LibreOffice is given to convert: a letter with only the styles it uses.

A template saved by Word carries every style Word knows (the default template here: 176 styles,
100 of them table styles no letter uses, 352 KB of styles.xml, and the same again in
stylesWithEffects.xml for Word 2010). LibreOffice reads and sets up every one of them each time
it opens a document: for a letter converted as a document of its own that is about 40 of its
110 ms. The copy LibreOffice converts keeps the styles the letter's parts name (a paragraph's,
a run's, a table's, a list's), the ones they are based on, linked to or followed by, and the
defaults; nothing else in the package changes, and the letter's own .docx keeps every style.

That this gives the same letter is not assumed: the check in libreoffice.py converts a letter of
each template both ways and compares them page by page (verify.py) before a family's copies are
trusted, and letters converted together are compared with letters converted alone from their
own .docx.
"""

from __future__ import annotations

import functools
import html
import re
import zipfile
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from lxml import etree

from letter_merge.chart import picture as chart
from letter_merge.pdf import pictures
from letter_merge.template.wordxml import parse, serialise, w

STYLE_PARTS = ("word/styles.xml", "word/stylesWithEffects.xml")
# Where a part names a style, whatever prefix the WordprocessingML namespace has in it.
STYLE_REFERENCE = re.compile(
    rb"<(?:\w+:)?(?:pStyle|rStyle|tblStyle|numStyleLink|styleLink)\b[^>]*?\b(?:\w+:)?val\s*=\s*"
    rb"(?:\"([^\"]*)\"|'([^']*)')"
)
# Fields that name styles in their instructions (a table of contents, STYLEREF), in any case: a
# package with one keeps every style. (Searched in a capitalised copy: a search ignoring case
# would cost as much as the rest of combining letters.)
WHOLE = re.compile(rb"STYLEREF|\bTOC\b")
FOLLOWED = ("basedOn", "link", "next")


def styles_used(parts: Iterable[bytes]) -> frozenset[str] | None:
    """The style ids `parts` (every XML part but the styles) name; None when they may name
    styles in a way not read here, and every style must stay."""
    used: set[str] = set()
    for data in parts:
        if WHOLE.search(data.upper()):
            return None
        used.update(
            html.unescape((double or single).decode("utf-8", "replace"))
            for double, single in STYLE_REFERENCE.findall(data)
        )
    return frozenset(used)


@functools.lru_cache(maxsize=16)
def lean_styles(styles_xml: bytes, used: frozenset[str]) -> bytes:
    """styles.xml with only the styles in `used`, those they follow (basedOn, link, next) and
    the defaults; without the latent styles (Word's list of styles it could add, which lay out
    nothing)."""
    root = parse(styles_xml)
    by_id = {style.get(w("styleId"), ""): style for style in root.iter(w("style"))}
    waiting = [name for name in used if name in by_id]
    waiting += [name for name, style in by_id.items() if style.get(w("default")) in ("1", "true")]
    kept: set[str] = set()
    while waiting:
        name = waiting.pop()
        if name in kept:
            continue
        kept.add(name)
        for tag in FOLLOWED:
            follows = by_id[name].find(w(tag))
            target = follows.get(w("val"), "") if follows is not None else ""
            if target in by_id:
                waiting.append(target)
    for name, style in by_id.items():
        if name not in kept:
            parent = style.getparent()
            if parent is not None:
                parent.remove(style)
    for latent in root.findall(w("latentStyles")):
        root.remove(latent)
    return serialise(root)


def lean_parts(parts: Mapping[str, bytes]) -> dict[str, bytes]:
    """The style parts of a package (name -> bytes) with only the styles its other parts use;
    nothing when every style must stay."""
    used = styles_used(
        data
        for name, data in parts.items()
        if name.endswith(".xml") and name not in STYLE_PARTS and name.startswith("word/")
    )
    if used is None:
        return {}
    changed = {}
    for name in STYLE_PARTS:
        if name in parts:
            try:
                changed[name] = lean_styles(parts[name], used)
            except etree.XMLSyntaxError:
                return {}  # LibreOffice will say what is wrong with it, from the letter itself
    return changed


@dataclass(frozen=True)
class LeanCopy:
    """A letter's copy for LibreOffice, and the chart its PDF is to be given in place of the
    copy's stand-in (None: the letter has no chart)."""

    path: Path
    chart: bytes | None


def lean_copy(docx: Path, folder: Path) -> LeanCopy:
    """A copy of `docx` in `folder`, under the same name, with only the styles it uses and the
    chart's stand-in in place of its chart (pictures.py): what LibreOffice converts in its
    place. Stored, not compressed: it is read once, at once."""
    with zipfile.ZipFile(docx) as package:
        entries = [(info, package.read(info)) for info in package.infolist()]
    parts = {info.filename: data for info, data in entries}
    changed = lean_parts(parts)
    picture = parts.get(chart.PART_NAME)
    if picture is not None:
        changed[chart.PART_NAME] = pictures.STAND_IN
    copy = folder / docx.name
    with zipfile.ZipFile(copy, "w", zipfile.ZIP_STORED) as package:
        for info, data in entries:
            info.compress_type = zipfile.ZIP_STORED
            package.writestr(info, changed.get(info.filename, data))
    return LeanCopy(copy, picture)
