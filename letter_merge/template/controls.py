"""Content controls (w:sdt) in a letter: a control a field fills prints what the letter holds.

Word refreshes a control bound to data (w:dataBinding: a document property, a custom XML part)
from that data when it opens the document, as LibreOffice does when it converts it, and shows a
control marked as showing its placeholder (w:showingPlcHdr) as grey prompt text to type over. A
field typed into such a control would be filled in the letter and then overwritten by the bound
value, or printed as a prompt: where a control holds a field, its binding and its placeholder
mark are taken out, so that it keeps what the letter was filled with. Other controls are left as
Word saved them.
"""

from __future__ import annotations

from lxml import etree

from letter_merge.template.wordxml import has_tags, parse, serialise, w

W15 = "http://schemas.microsoft.com/office/word/2012/wordml"
# What makes a control show something other than its content: its binding (Word 2007 and Word
# 2013's repeating sections) and its placeholder mark.
OVERRIDING = (w("dataBinding"), f"{{{W15}}}dataBinding", w("showingPlcHdr"))


def with_filled_controls_unbound(data: bytes) -> bytes:
    """A part with every content control that holds a field made plain: unbound, and no longer
    showing its placeholder. The part as it is when it has none."""
    if b"sdt" not in data or not (has_tags(data) or b"instrText" in data or b"fldSimple" in data):
        return data
    root = parse(data)
    changed = False
    for control in root.iter(w("sdt")):
        properties, content = control.find(w("sdtPr")), control.find(w("sdtContent"))
        if properties is None or content is None or not _holds_a_field(content):
            continue
        for element in [e for e in properties if e.tag in OVERRIDING]:
            properties.remove(element)
            changed = True
    return serialise(root) if changed else data


def _holds_a_field(content: etree._Element) -> bool:
    text = "".join(t.text or "" for t in content.iter(w("t"), w("instrText")))
    return (
        has_tags(text.encode())
        or next(content.iter(w("fldSimple"), w("instrText")), None) is not None
    )
