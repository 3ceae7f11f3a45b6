"""Generate templates/email.docx, the Annual Review email as staff edit it in Word, with the
office's signature and logo (templates/logo.png, drawn here), and the logo's alt text.

The committed .docx is the source staff edit; this script only made its first version. The text
and fields are those of templates/email.txt; set [paths] email_template = "templates/email.docx"
to send it as HTML (with a plain-text alternative made from it).
"""

from __future__ import annotations

import io
import sys
from pathlib import Path

from docx import Document
from docx.oxml.ns import qn
from docx.shared import Cm, Pt, RGBColor
from PIL import Image, ImageDraw, ImageFont

ROOT = Path(__file__).resolve().parent.parent
TARGET = ROOT / "templates" / "email.docx"
LOGO = ROOT / "templates" / "logo.png"
ALT = "Local Government and Social Care Ombudsman logo"
NAVY = (0, 48, 87)


def logo() -> bytes:
    """A plain word-mark: the office's initials on navy, its name beside them (2x, for sharp
    display on high-resolution screens)."""
    scale = 2
    image = Image.new("RGB", (300 * scale, 60 * scale), "white")
    draw = ImageDraw.Draw(image)
    draw.rectangle((0, 0, 60 * scale, 60 * scale), fill=NAVY)
    bold: ImageFont.FreeTypeFont | ImageFont.ImageFont
    small: ImageFont.FreeTypeFont | ImageFont.ImageFont
    try:
        bold = ImageFont.truetype("DejaVuSans-Bold.ttf", 17 * scale)
        small = ImageFont.truetype("DejaVuSans.ttf", 11 * scale)
    except OSError:
        bold = small = ImageFont.load_default()
    draw.text((6 * scale, 19 * scale), "LGO", fill="white", font=bold)
    draw.text((70 * scale, 10 * scale), "Local Government &", fill=NAVY, font=small)
    draw.text((70 * scale, 25 * scale), "Social Care", fill=NAVY, font=small)
    draw.text((70 * scale, 40 * scale), "OMBUDSMAN", fill=NAVY, font=small)
    buffer = io.BytesIO()
    image.save(buffer, "PNG", optimize=True, dpi=(96 * scale, 96 * scale))
    return buffer.getvalue()


def main() -> int:
    data = logo()
    LOGO.write_bytes(data)
    document = Document()
    normal = document.styles["Normal"]
    normal.font.name = "Arial"
    normal.font.size = Pt(11)
    for paragraph in (
        "Dear {{ salutation }},",
        "{% if correction %}Please find attached a corrected Annual Review letter for "
        "{{ authority }} for the year ending {{ period_end }}. It replaces the letter we sent "
        "earlier{% if correction_note %}: {{ correction_note }}{% endif %}.{% else %}Please "
        "find attached our Annual Review letter for {{ authority }} for the year ending "
        "{{ period_end }}.{% endif %}",
        "The figures in it will be published on our interactive map, Your council's "
        "performance, on 29 July {{ year }}.",
        "Yours sincerely,",
    ):
        document.add_paragraph(paragraph)
    signature = document.add_paragraph()
    name = signature.add_run("Annual Review team")
    name.bold = True
    signature.add_run().add_break()
    signature.add_run("Local Government and Social Care Ombudsman")
    signature.add_run().add_break()
    signature.add_run("PO Box 4771, Coventry CV4 0EH · 0300 061 0614")
    for run in signature.runs[2:]:
        run.font.color.rgb = RGBColor(0x44, 0x44, 0x44)
    picture = (
        document.add_paragraph().add_run().add_picture(io.BytesIO(data), width=Cm(300 / 96 * 2.54))
    )
    # Word's alt text (Format Picture › Alt Text) is the drawing's description.
    properties = picture._inline.find(qn("wp:docPr"))
    assert properties is not None
    properties.set("descr", ALT)
    properties.set("title", ALT)
    document.core_properties.title = "Annual Review email"
    document.save(str(TARGET))
    print(f"Wrote {TARGET.relative_to(ROOT)} and {LOGO.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
