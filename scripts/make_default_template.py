"""Generate templates/letter.docx, the default Annual Review letter template.

The committed .docx is the source staff edit in Word; this script only made its first version and
can remake it (`make template`). Formatting lives in named styles so an edit in Word stays
consistent; every field is a plain {{ … }} in a single run so Word shows it as typed.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from docx import Document
from docx.document import Document as WordDocument
from docx.enum.section import WD_SECTION
from docx.enum.style import WD_STYLE_TYPE
from docx.enum.table import WD_TABLE_ALIGNMENT
from docx.enum.text import WD_ALIGN_PARAGRAPH, WD_BREAK
from docx.opc.constants import RELATIONSHIP_TYPE
from docx.oxml import OxmlElement
from docx.oxml.ns import qn
from docx.shared import Cm, Pt, RGBColor
from docx.styles.style import ParagraphStyle
from docx.table import Table, _Cell
from docx.text.paragraph import Paragraph

ROOT = Path(__file__).resolve().parent.parent
TARGET = ROOT / "templates" / "letter.docx"

FONT = "Arial"  # LibreOffice uses the metric-compatible Liberation Sans where Arial is missing
NAVY = RGBColor(0x1F, 0x3A, 0x5F)
GREY = RGBColor(0x59, 0x59, 0x59)
HEADER_FILL = "DCE6F0"
PERFORMANCE_URL = "https://www.lgo.org.uk/your-councils-performance"
WEBSITE_URL = "https://www.lgo.org.uk/"
TRAINING_URL = "https://www.lgo.org.uk/training"


def main() -> None:
    document = Document()
    _page_setup(document)
    _styles(document)
    _letter(document)
    _appendix(document)
    _footer(document)
    properties = document.core_properties
    properties.title = "Annual Review letter"
    properties.author = "Local Government and Social Care Ombudsman"
    properties.language = "en-GB"
    properties.comments = "letter-merge template: fields are written in double curly brackets."
    TARGET.parent.mkdir(parents=True, exist_ok=True)
    document.save(str(TARGET))
    print(f"wrote {TARGET.relative_to(ROOT)}", file=sys.stderr)


def _page_setup(document: WordDocument) -> None:
    section = document.sections[0]
    section.start_type = WD_SECTION.NEW_PAGE
    section.page_width, section.page_height = Cm(21.0), Cm(29.7)
    section.top_margin, section.bottom_margin = Cm(2.0), Cm(2.0)
    section.left_margin, section.right_margin = Cm(2.5), Cm(2.5)
    section.header_distance, section.footer_distance = Cm(1.0), Cm(1.0)


def _set_font(
    style: ParagraphStyle, size: float, *, bold: bool = False, colour: RGBColor | None = None
) -> None:
    font = style.font
    font.name = FONT
    font.size = Pt(size)
    font.bold = bold
    font.italic = False
    if colour is not None:
        font.color.rgb = colour
    r_fonts = style.element.get_or_add_rPr().get_or_add_rFonts()
    for attribute in ("w:asciiTheme", "w:hAnsiTheme", "w:eastAsiaTheme", "w:cstheme"):
        r_fonts.attrib.pop(qn(attribute), None)  # a theme font would override Arial
    for name in ("w:ascii", "w:hAnsi", "w:cs"):
        r_fonts.set(qn(name), FONT)


def _british(element: Any) -> None:
    r_pr = element.get_or_add_rPr()
    lang = r_pr.find(qn("w:lang"))
    if lang is None:
        lang = OxmlElement("w:lang")
        r_pr.append(lang)
    lang.set(qn("w:val"), "en-GB")
    lang.set(qn("w:eastAsia"), "en-GB")
    lang.set(qn("w:bidi"), "ar-SA")


def _styles(document: WordDocument) -> None:
    styles = document.styles
    defaults = styles.element.find(qn("w:docDefaults"))
    r_pr_default = defaults.find(qn("w:rPrDefault")).find(qn("w:rPr"))
    lang = r_pr_default.find(qn("w:lang"))
    if lang is None:
        lang = OxmlElement("w:lang")
        r_pr_default.append(lang)
    lang.set(qn("w:val"), "en-GB")

    normal = styles["Normal"]
    _set_font(normal, 11)
    _british(normal.element)
    normal.paragraph_format.space_after = Pt(7)
    normal.paragraph_format.line_spacing = 1.0
    normal.paragraph_format.widow_control = True

    for name, size, before in (("Heading 1", 14, 14), ("Heading 2", 12, 12)):
        style = styles[name]
        _set_font(style, size, bold=True, colour=NAVY)
        style.paragraph_format.space_before = Pt(before)
        style.paragraph_format.space_after = Pt(6)
        style.paragraph_format.keep_with_next = True

    def paragraph_style(name: str, base: str = "Normal") -> ParagraphStyle:
        style = styles.add_style(name, WD_STYLE_TYPE.PARAGRAPH)
        style.base_style = styles[base]
        style.quick_style = True
        assert isinstance(style, ParagraphStyle)
        return style

    organisation = paragraph_style("Organisation")
    _set_font(organisation, 15, bold=True, colour=NAVY)
    organisation.paragraph_format.alignment = WD_ALIGN_PARAGRAPH.RIGHT
    organisation.paragraph_format.line_spacing = 1.0
    organisation.paragraph_format.space_after = Pt(30)

    address = paragraph_style("Recipient")
    address.paragraph_format.space_after = Pt(0)

    for name in ("Date", "Delivery"):
        style = paragraph_style(name)
        style.paragraph_format.space_after = Pt(14)

    signatory = paragraph_style("Signatory")
    signatory.paragraph_format.space_after = Pt(0)
    signatory.paragraph_format.keep_with_next = True

    table_text = paragraph_style("Table text")
    _set_font(table_text, 10)
    table_text.paragraph_format.space_after = Pt(2)
    table_text.paragraph_format.line_spacing = 1.0

    table_note = paragraph_style("Table note", "Table text")
    _set_font(table_note, 9, colour=GREY)

    table_heading = paragraph_style("Table heading", "Table text")
    _set_font(table_heading, 10, bold=True, colour=NAVY)

    figure = paragraph_style("Table figure", "Table text")
    _set_font(figure, 12, bold=True)

    for name, base in (("Table number", "Table text"), ("Table number heading", "Table heading")):
        number = paragraph_style(name, base)
        number.paragraph_format.alignment = WD_ALIGN_PARAGRAPH.RIGHT

    note = styles["Table note"]
    note.paragraph_format.space_before = Pt(4)

    footer = styles["Footer"]
    _set_font(footer, 9, colour=GREY)
    footer.paragraph_format.alignment = WD_ALIGN_PARAGRAPH.CENTER

    link = styles.add_style("Link", WD_STYLE_TYPE.CHARACTER)
    link.font.underline = True
    link.font.color.rgb = RGBColor(0x1F, 0x4E, 0x9A)


def _hyperlink(paragraph: Paragraph, text: str, url: str) -> None:
    """A clickable link; python-docx has no API for one, so it is built from its XML."""
    relation = paragraph.part.relate_to(url, RELATIONSHIP_TYPE.HYPERLINK, is_external=True)
    link = OxmlElement("w:hyperlink")
    link.set(qn("r:id"), relation)
    run = OxmlElement("w:r")
    r_pr = OxmlElement("w:rPr")
    style = OxmlElement("w:rStyle")
    style.set(qn("w:val"), "Link")
    r_pr.append(style)
    run.append(r_pr)
    text_element = OxmlElement("w:t")
    text_element.text = text
    text_element.set(qn("xml:space"), "preserve")
    run.append(text_element)
    link.append(run)
    paragraph._p.append(link)


def _paragraph(
    document: WordDocument, *parts: str | tuple[str, str], style: str = "Normal"
) -> Paragraph:
    """A paragraph of text runs; a ("link text", url) part becomes a hyperlink."""
    paragraph = document.add_paragraph(style=style)
    for part in parts:
        if isinstance(part, tuple):
            _hyperlink(paragraph, *part)
        else:
            paragraph.add_run(part)
    return paragraph


def _lead_in(document: WordDocument, bold: str, rest: str) -> None:
    paragraph = document.add_paragraph()
    paragraph.add_run(bold).bold = True
    paragraph.add_run(rest)


def _letter(document: WordDocument) -> None:
    organisation = document.add_paragraph(style="Organisation")
    for number, line in enumerate(("Local Government &", "Social Care", "OMBUDSMAN")):
        run = organisation.add_run(line)
        if number < 2:
            run.add_break(WD_BREAK.LINE)
    _paragraph(document, "{{ letter_date }}", style="Date")
    _paragraph(document, "By email", style="Delivery")
    for field in ("{{ salutation }}", "{{ job_title }}", "{{ authority }}"):
        _paragraph(document, field, style="Recipient")
    _paragraph(document, "")
    _paragraph(document, "Dear {{ salutation }}")
    document.add_paragraph("Annual Review letter {{ year }}", style="Heading 1")
    _paragraph(
        document,
        "I write to you with our annual summary of statistics on the decisions made by the Local "
        "Government and Social Care Ombudsman about your authority for the year ending "
        "{{ period_end }}. Given the exceptional pressures under which local authorities have been "
        "working over recent months, I thought carefully about whether it was still appropriate to "
        "send you this annual update. However, now, more than ever, I believe that it is essential "
        "that the public experience of local services is at the heart of our thinking. So, I hope "
        "that this feedback, which provides unique insight into the lived experience of your "
        "Council's services, will be useful as you continue to deal with the current situation and "
        "plan for the future.",
    )
    document.add_paragraph("Complaint statistics", style="Heading 2")
    _paragraph(
        document,
        "This year, we continue to place our focus on the outcomes of complaints and what can be "
        "learned from them. We want to provide you with the most insightful information we can and "
        "have made several changes over recent years to improve the data we capture and report. We "
        "focus our statistics on these three key areas:",
    )
    _lead_in(
        document,
        "Complaints upheld",
        " - We uphold complaints when we find some form of fault in an authority's actions, "
        "including where the authority accepted fault before we investigated. A focus on how often "
        "things go wrong, rather than simple volumes of complaints provides a clearer indicator of "
        "performance.",
    )
    _lead_in(
        document,
        "Compliance with recommendations",
        " - We recommend ways for authorities to put things right when faults have caused "
        "injustice. Our recommendations try to put people back in the position they were before the "
        "fault and we monitor authorities to ensure they comply with our recommendations. Failure to "
        "comply with our recommendations is rare. An authority with a compliance rate below 100% "
        "should scrutinise those complaints where it failed to comply and identify any learning.",
    )
    _lead_in(
        document,
        "Satisfactory remedies provided by the authority",
        " - We want to encourage the early resolution of complaints and to credit authorities that "
        "have a positive and open approach to resolving complaints. We recognise cases where an "
        "authority has taken steps to put things right before the complaint came to us. The "
        "authority upheld the complaint and we agreed with how it offered to put things right.",
    )
    _paragraph(
        document,
        "Finally, we compare the three key annual statistics for your authority with similar types "
        "of authorities to work out an average level of performance. We do this for County "
        "Councils, District Councils, Metropolitan Boroughs, Unitary Councils, and London Boroughs.",
    )
    _statistics_table(document)
    _paragraph(
        document,
        "This data will be uploaded to our interactive map, ",
        ("Your council's performance", PERFORMANCE_URL),
        ", along with a copy of this letter on {{ publication_date }}, and our Review of Local "
        "Government Complaints. For further information on how to interpret our statistics, please "
        "visit our ",
        ("website", WEBSITE_URL),
        ".",
    )
    document.add_paragraph("Resources to help you get it right", style="Heading 2")
    _paragraph(
        document,
        "There are a range of resources available that can support you to place the learning from "
        "complaints, about your authority and others, at the heart of your system of corporate "
        "governance. ",
        ("Your council's performance", PERFORMANCE_URL),
        " launched last year and puts our data and information about councils in one place. Again, "
        "the emphasis is on learning, not numbers. You can find the decisions we have made, public "
        "reports we have issued, and the service improvements your Council has agreed to make as a "
        "result of our investigations, as well as previous annual review letters.",
    )
    _paragraph(
        document,
        "I would encourage you to share the tool with colleagues and elected members; the "
        "information can provide valuable insights into service areas, early warning signs of "
        "problems and is a key source of information for governance, audit, risk and scrutiny "
        "functions.",
    )
    _paragraph(
        document,
        "Earlier this year, we held our link officer seminars in London, Bristol, Leeds and "
        "Birmingham. Attended by 178 delegates from 143 local authorities, we focused on maximising "
        "the impact of complaints, making sure the right person is involved with complaints at the "
        "right time, and how to overcome common challenges.",
    )
    _paragraph(
        document,
        "We have a well-established and successful training programme supporting local authorities "
        "and independent care providers to help improve local complaint handling. During the year, "
        "we delivered 118 courses, training more than 1,400 people. This is 47 more courses than we "
        "delivered last year and included more training to adult social care providers than ever "
        "before. To find out more visit ",
        ("www.lgo.org.uk/training", TRAINING_URL),
        ".",
    )
    closing = _paragraph(document, "Yours sincerely,")
    closing.paragraph_format.keep_with_next = True
    closing.paragraph_format.space_after = Pt(34)  # room for a signature
    name = document.add_paragraph(style="Signatory")
    name.add_run("Michael King").bold = True
    document.add_paragraph("Local Government and Social Care Ombudsman", style="Signatory")
    document.add_paragraph(
        "Chair, Commission for Local Administration in England", style="Signatory"
    )


def _cell(cell: _Cell, *lines: str, style: str = "Table text", fill: str | None = None) -> None:
    cell.paragraphs[0].style = cell.part.document.styles[style]  # type: ignore[attr-defined]
    cell.paragraphs[0].add_run(lines[0])
    for line in lines[1:]:
        note = cell.add_paragraph(style="Table note")
        note.add_run(line)
    if fill:
        shading = OxmlElement("w:shd")
        shading.set(qn("w:val"), "clear")
        shading.set(qn("w:color"), "auto")
        shading.set(qn("w:fill"), fill)
        cell._tc.get_or_add_tcPr().append(shading)


def _table(document: WordDocument, rows: int, widths: tuple[float, ...]) -> Table:
    table: Table = document.add_table(rows=rows, cols=len(widths))
    table.style = document.styles["Table Grid"]
    table.alignment = WD_TABLE_ALIGNMENT.CENTER
    table.autofit = False
    for column, width in zip(table.columns, widths, strict=True):
        column.width = Cm(width)  # the grid Word and LibreOffice lay out from
    for row in table.rows:
        for cell, width in zip(row.cells, widths, strict=True):
            cell.width = Cm(width)
    _repeat_header(table)
    return table


def _repeat_header(table: Table) -> None:
    properties = table.rows[0]._tr.get_or_add_trPr()
    header = OxmlElement("w:tblHeader")
    properties.append(header)
    for row in table.rows:  # a row never breaks across pages
        row._tr.get_or_add_trPr().append(OxmlElement("w:cantSplit"))


def _statistics_table(document: WordDocument) -> None:
    caption = _paragraph(
        document,
        "Our figures for your authority, for the year ending {{ period_end }}, with the average for "
        "similar authorities ({{ authority_type }}s):",
    )
    caption.paragraph_format.keep_with_next = True
    table = _table(document, 4, (5.6, 6.0, 4.4))
    _cell(table.cell(0, 0), "Key statistic", style="Table heading", fill=HEADER_FILL)
    _cell(table.cell(0, 1), "{{ authority }}", style="Table heading", fill=HEADER_FILL)
    _cell(
        table.cell(0, 2), "Average for similar authorities", style="Table heading", fill=HEADER_FILL
    )
    rows = (
        (
            "Complaints upheld",
            "{% if upheld_rate is none %}Not applicable{% else %}{{ upheld_rate }}%{% endif %}",
            "{% if upheld_rate is none %}We did not investigate any complaints in detail."
            "{% else %}{{ upheld }} of {{ detailed_investigations }} detailed investigations "
            "upheld{% endif %}",
            "upheld_rate_average",
        ),
        (
            "Compliance with recommendations",
            "{% if compliance_rate is none %}Not applicable{% else %}{{ compliance_rate }}%"
            "{% endif %}",
            "{% if compliance_rate is none %}No recommendations were due for compliance."
            "{% else %}complied with in {{ complied }} of {{ compliance_outcomes }} cases"
            "{% endif %}",
            "compliance_rate_average",
        ),
        (
            "Satisfactory remedies provided by the authority",
            "{% if remedy_rate is none %}Not applicable{% else %}{{ remedy_rate }}%{% endif %}",
            "{% if remedy_rate is none %}We upheld no complaints, so there were none to remedy."
            "{% else %}{{ satisfactory_remedies }} of {{ upheld }} upheld complaints remedied "
            "before they came to us{% endif %}",
            "remedy_rate_average",
        ),
    )
    for number, (label, figure, counts, average) in enumerate(rows, start=1):
        _cell(table.cell(number, 0), label)
        _cell(table.cell(number, 1), figure, counts, style="Table figure")
        _cell(
            table.cell(number, 2),
            f"{{% if {average} is none %}}Not applicable{{% else %}}{{{{ {average} }}}}%{{% endif %}}",
            style="Table figure",
        )
    # The chart: the same figures as bars (drawn per letter; see letter_merge/chart.py)
    picture = _paragraph(document, "{{ chart }}")
    picture.alignment = WD_ALIGN_PARAGRAPH.CENTER
    picture.paragraph_format.space_before = Pt(8)
    picture.paragraph_format.space_after = Pt(6)


def _count_table(document: WordDocument, heading: str, items: str, label: str, empty: str) -> None:
    document.add_paragraph(heading, style="Heading 2")
    _paragraph(document, f"{{%p if {items} %}}")
    table = _table(document, 4, (11.0, 5.0))
    _cell(table.cell(0, 0), label, style="Table heading", fill=HEADER_FILL)
    _cell(table.cell(0, 1), "Number", style="Table number heading", fill=HEADER_FILL)
    _cell(table.cell(1, 0), f"{{%tr for row in {items} %}}")
    _cell(table.cell(2, 0), "{{ row.label }}")
    _cell(table.cell(2, 1), "{{ row.count }}", style="Table number")
    _cell(table.cell(3, 0), "{%tr endfor %}")
    total = table.add_row()  # type: ignore[no-untyped-call]
    _cell(total.cells[0], "Total", style="Table heading")
    _cell(total.cells[1], f"{{{{ {items}|sum(attribute='count') }}}}", style="Table number heading")
    for cell, width in zip(total.cells, (11.0, 5.0), strict=True):
        cell.width = Cm(width)
    _paragraph(document, "{%p else %}")
    _paragraph(document, empty)
    _paragraph(document, "{%p endif %}")


def _appendix(document: WordDocument) -> None:
    heading = document.add_paragraph("Appendix: {{ authority }}", style="Heading 1")
    heading.paragraph_format.page_break_before = True
    _paragraph(document, "Our figures for {{ period_start }} to {{ period_end }}.")
    _count_table(
        document,
        "Complaints and enquiries received",
        "received",
        "Category",
        "We received no complaints or enquiries about your authority.",
    )
    _count_table(
        document,
        "Decisions made",
        "decisions",
        "Outcome",
        "We made no decisions about your authority.",
    )
    _paragraph(
        document,
        "Complaints and enquiries received may not match decisions made in the same year, as a "
        "complaint received in one year may be decided in the next.",
        style="Table note",
    )


def _footer(document: WordDocument) -> None:
    """'Page N' in the footer, as a field so Word and LibreOffice count the pages themselves."""
    paragraph = document.sections[0].footer.paragraphs[0]
    paragraph.style = document.styles["Footer"]
    paragraph.add_run("Page ")
    run = paragraph.add_run()
    for kind, text in (
        ("begin", None),
        (None, " PAGE "),
        ("separate", None),
        (None, "1"),
        ("end", None),
    ):
        if kind:
            character = OxmlElement("w:fldChar")
            character.set(qn("w:fldCharType"), kind)
            run._r.append(character)
        elif text == " PAGE ":
            instruction = OxmlElement("w:instrText")
            instruction.set(qn("xml:space"), "preserve")
            instruction.text = text
            run._r.append(instruction)
        else:
            value = OxmlElement("w:t")
            value.text = text
            run._r.append(value)


if __name__ == "__main__":
    main()
