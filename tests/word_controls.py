"""Content controls (w:sdt) added to a template the way Word writes them (Developer tab › Controls:
Plain Text, Rich Text, Check Box, Date Picker, Drop-Down List, Repeating Section), for the shapes
no document in tests/data/content-controls has: a drop-down list, a control in a header, in a
text box and in a footnote, nested controls, a repeating section around a table row with a
control around one of its cells, a run-level control still showing its placeholder text.

The XML is Word 2016's, as it saves each control: w:sdtPr with w:alias (the Title box of
Properties), w:tag, w:id, w:placeholder and the control's kind; w:sdtEndPr; w:sdtContent.
"""

from __future__ import annotations

from pathlib import Path

from tests import word_features as wf

W14 = "http://schemas.microsoft.com/office/word/2010/wordml"
W15 = "http://schemas.microsoft.com/office/word/2012/wordml"
PLACEHOLDER = '<w:placeholder><w:docPart w:val="DefaultPlaceholder_-1854013440"/></w:placeholder>'


def control(kind: str, content: str, *, title: str = "", tag: str = "", number: int = 1) -> str:
    """A content control of a kind ('<w:text/>', '<w:richText/>'-less rich text is '') around
    `content` (runs, paragraphs, rows or cells, as the control's level is)."""
    names = (f'<w:alias w:val="{title}"/>' if title else "") + (
        f'<w:tag w:val="{tag}"/>' if tag else ""
    )
    return (
        f'<w:sdt><w:sdtPr>{names}<w:id w:val="{-1730373129 + number}"/>{PLACEHOLDER}{kind}'
        f"</w:sdtPr><w:sdtEndPr/><w:sdtContent>{content}</w:sdtContent></w:sdt>"
    )


def run(text: str) -> str:
    return wf.text_run(text)


def placeholder_showing(number: int) -> str:
    """A plain text control never typed in: Word's prompt, marked as the placeholder."""
    return (
        f'<w:sdt><w:sdtPr><w:id w:val="{number}"/>{PLACEHOLDER}<w:showingPlcHdr/><w:text/>'
        '</w:sdtPr><w:sdtEndPr/><w:sdtContent><w:r><w:rPr><w:rStyle w:val="PlaceholderText"/>'
        "</w:rPr><w:t>Click or tap here to enter text.</w:t></w:r></w:sdtContent></w:sdt>"
    )


def check_box(number: int) -> str:
    return (
        f'<w:sdt><w:sdtPr><w:id w:val="{number}"/><w14:checkbox><w14:checked w14:val="1"/>'
        '<w14:checkedState w14:val="2612" w14:font="MS Gothic"/>'
        '<w14:uncheckedState w14:val="2610" w14:font="MS Gothic"/></w14:checkbox></w:sdtPr>'
        '<w:sdtEndPr/><w:sdtContent><w:r><w:rPr><w:rFonts w:ascii="MS Gothic" '
        'w:eastAsia="MS Gothic" w:hAnsi="MS Gothic" w:hint="eastAsia"/></w:rPr><w:t>☒</w:t></w:r>'
        "</w:sdtContent></w:sdt>"
    )


DATE = (
    '<w:date w:fullDate="2020-07-22T00:00:00Z"><w:dateFormat w:val="dd MMMM yyyy"/>'
    '<w:lid w:val="en-GB"/><w:storeMappedDataAs w:val="dateTime"/>'
    '<w:calendar w:val="gregorian"/></w:date>'
)
DROP_DOWN = (
    '<w:dropDownList><w:listItem w:value="Choose an item."/>'
    '<w:listItem w:displayText="Chief Executive" w:value="Chief Executive"/>'
    '<w:listItem w:displayText="Monitoring Officer" w:value="Monitoring Officer"/>'
    "</w:dropDownList>"
)
REPEATING = "<w15:repeatingSection/>"
REPEATING_ITEM = "<w15:repeatingSectionItem/>"


def cell(content: str) -> str:
    return f'<w:tc><w:tcPr><w:tcW w:w="4000" w:type="dxa"/></w:tcPr><w:p>{content}</w:p></w:tc>'


def body_controls() -> str:
    """Paragraphs and a table with a control in every place a body has one."""
    table = (
        '<w:tbl><w:tblPr><w:tblW w:w="8000" w:type="dxa"/></w:tblPr><w:tblGrid>'
        '<w:gridCol w:w="4000"/><w:gridCol w:w="4000"/></w:tblGrid>'
        f"<w:tr>{cell(run('Council'))}{cell(run('Type'))}</w:tr>"
        + control(
            REPEATING,
            control(
                REPEATING_ITEM,
                "<w:tr>"
                + control(
                    "<w:text/>",
                    cell(run("{{ authority }}")),
                    title="Council cell",
                    tag="council-cell",
                    number=11,
                )
                + cell(control(DROP_DOWN, run("{{ authority_type }}"), title="Kind", number=12))
                + "</w:tr>",
                number=10,
            ),
            title="Rows",
            number=9,
        )
        + "</w:tbl>"
    )
    return (
        # a rich text control around a paragraph (block level), a plain one in it (nested)
        control(
            "",
            "<w:p>"
            + run("Block: ")
            + control("<w:text/>", run("{{ authority }}"), title="Council", tag="c", number=2)
            + "</w:p>",
            title="Address block",
            number=1,
        )
        # a run-level control, a date picker, a check box and a placeholder still showing
        + "<w:p>"
        + run("Run: ")
        + control("<w:text/>", run("{{ salutation }}"), tag="salutation", number=3)
        + run(" dated ")
        + control(DATE, run("{{ letter_date }}"), title="Date", number=4)
        + run(" ")
        + check_box(5)
        + run(" ")
        + placeholder_showing(6)
        + "</w:p>"
        # a control around a whole table
        + control("", table, title="Figures table", number=8)
        # a text box, with a control in it
        + '<w:p><w:r><w:pict><v:shape id="box1" type="#_x0000_t202" '
        'style="width:300pt;height:24pt"><v:textbox><w:txbxContent><w:p>'
        + run("Box: ")
        + control("<w:text/>", run("{{ authority }}"), title="Box council", number=13)
        + "</w:p></w:txbxContent></v:textbox></v:shape></w:pict></w:r></w:p>"
    )


def in_every_place(template: Path, *, footnote: bool = True) -> None:
    """Controls holding {{ }} fields in the body (around paragraphs, a table, rows, cells and
    runs; nested; a date picker, a drop-down list, a check box; a text box), in a header of its
    own and (unless not `footnote`) in a footnote."""
    with wf.Package(template) as package:
        body = package.body
        if "xmlns:w15=" not in body:
            body = body.replace("<w:document ", f'<w:document xmlns:w15="{W15}" ', 1)
        package.body = body.replace('mc:Ignorable="w14 wp14"', 'mc:Ignorable="w14 w15 wp14"')
        package.after_paragraph("Dear {{ salutation }}", body_controls())
        header = wf.part(
            "hdr",
            '<w:p><w:pPr><w:pStyle w:val="Header"/></w:pPr>'
            + control("<w:text/>", run("{{ authority }}"), title="Header council", number=20)
            + "</w:p>",
        )
        rid = package.add_part("word/header1.xml", header, f"{wf.DOC_TYPE}.header+xml", "header")
        package.body = package.body.replace(
            "<w:footerReference",
            f'<w:headerReference w:type="default" r:id="{rid}"/><w:footerReference',
            1,
        )
    if not footnote:
        return
    wf.notes(template, "footnote", field=False)
    with wf.Package(template) as package:
        footnotes = package.parts["word/footnotes.xml"]
        package.parts["word/footnotes.xml"] = footnotes.replace(
            "The figures.",
            "The figures of </w:t></w:r>"
            + control("<w:text/>", run("{{ authority }}"), title="Note council", number=30)
            + '<w:r><w:t xml:space="preserve">.',
        )
