"""Word features added to a template the way Word itself writes them, for the tests that check
that a letter converted with others is the letter converted alone.

Each function edits a .docx in place, as a person would with Word's ribbon: Insert › Page Number
› Page X of Y (PAGE and NUMPAGES complex fields, their instructions split over runs, inside a
building block's content control), the numbering button (numbering.xml with w:abstractNum and
w:num, and "Restart at 1"), Insert Footnote and Insert Endnote (footnotes.xml, endnotes.xml and
their separators), Insert › Quick Parts › Document Property › Title (a content control bound to
the core properties) and the TITLE field, Insert Caption (SEQ with a bookmark) and
Cross-reference (REF and PAGEREF), and a header of its own (headerN.xml).
"""

from __future__ import annotations

import re
import zipfile
from pathlib import Path

W_NS = "http://schemas.openxmlformats.org/wordprocessingml/2006/main"
R_NS = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
DOC_TYPE = "application/vnd.openxmlformats-officedocument.wordprocessingml"
REL_TYPE = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"


class Package:
    """A .docx read into memory, edited part by part, and written back."""

    def __init__(self, path: Path) -> None:
        self.path = path
        with zipfile.ZipFile(path) as source:
            raw = {info.filename: source.read(info) for info in source.infolist()}
        # XML parts as text to edit; pictures and the like as they are
        self.parts = {n: d.decode("utf-8") for n, d in raw.items() if n.endswith((".xml", ".rels"))}
        self.binary = {n: d for n, d in raw.items() if n not in self.parts}

    def __enter__(self) -> Package:
        return self

    def __exit__(self, *exc: object) -> None:
        if exc[0] is None:
            with zipfile.ZipFile(self.path, "w", zipfile.ZIP_DEFLATED) as target:
                for name, text in self.parts.items():
                    target.writestr(name, text.encode("utf-8"))
                for name, data in self.binary.items():
                    target.writestr(name, data)

    @property
    def body(self) -> str:
        return self.parts["word/document.xml"]

    @body.setter
    def body(self, xml: str) -> None:
        self.parts["word/document.xml"] = xml

    def add_part(self, name: str, xml: str, content_type: str, relationship: str) -> str:
        """Add a part the body refers to; its relationship id."""
        self.parts[name] = xml
        types = self.parts["[Content_Types].xml"]
        self.parts["[Content_Types].xml"] = types.replace(
            "</Types>", f'<Override PartName="/{name}" ContentType="{content_type}"/></Types>'
        )
        rels = self.parts["word/_rels/document.xml.rels"]
        number = 100 + rels.count("<Relationship ")
        rid = f"rId{number}"
        self.parts["word/_rels/document.xml.rels"] = rels.replace(
            "</Relationships>",
            f'<Relationship Id="{rid}" Type="{REL_TYPE}/{relationship}" '
            f'Target="{name.removeprefix("word/")}"/></Relationships>',
        )
        return rid

    def after_paragraph(self, containing: str, paragraphs: str) -> None:
        """Insert `paragraphs` after the body paragraph whose text contains `containing`."""
        body = self.body
        at = body.index(containing)
        end = body.index("</w:p>", at) + len("</w:p>")
        self.body = body[:end] + paragraphs + body[end:]

    def in_paragraph(self, containing: str, runs: str) -> None:
        """Append `runs` at the end of the body paragraph whose text contains `containing`."""
        body = self.body
        at = body.index(containing)
        end = body.index("</w:p>", at)
        self.body = body[:end] + runs + body[end:]

    def section(self, change: str) -> None:
        """Add `change` to the body's (last) section properties, before its columns."""
        body = self.body
        at = body.rindex("<w:cols")
        self.body = body[:at] + change + body[at:]


def part(root: str, content: str) -> str:
    return (
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
        f'<w:{root} xmlns:w="{W_NS}" xmlns:r="{R_NS}">{content}</w:{root}>'
    )


def complex_field(instruction: str, result: str, properties: str = "") -> str:
    """A field as Word writes it: begin, the instruction split over runs, separate, its last
    result, end."""
    pieces = [p for p in re.split(r"(?<= )(?=\\)", f" {instruction} ") if p]
    runs = f'<w:r>{properties}<w:fldChar w:fldCharType="begin"/></w:r>'
    for piece in pieces:
        runs += f'<w:r>{properties}<w:instrText xml:space="preserve">{piece}</w:instrText></w:r>'
    runs += f'<w:r>{properties}<w:fldChar w:fldCharType="separate"/></w:r>'
    runs += f"<w:r>{properties}<w:rPr><w:noProof/></w:rPr><w:t>{result}</w:t></w:r>"
    runs += f'<w:r>{properties}<w:fldChar w:fldCharType="end"/></w:r>'
    return runs.replace("<w:rPr></w:rPr>", "")


def text_run(text: str) -> str:
    return f'<w:r><w:t xml:space="preserve">{text}</w:t></w:r>'


def page_x_of_y_footer(template: Path, *, at_end: bool = False) -> None:
    """Insert › Page Number › Bottom of Page › Page X of Y (Bold Numbers): a new footer holding
    the gallery's content control with PAGE and NUMPAGES (with `at_end`, › Current Position at
    the end of the footer there is)."""
    bold = "<w:rPr><w:b/><w:bCs/></w:rPr>"
    footer = part(
        "ftr",
        '<w:sdt><w:sdtPr><w:id w:val="-1318336367"/><w:docPartObj>'
        '<w:docPartGallery w:val="Page Numbers (Bottom of Page)"/><w:docPartUnique/>'
        '</w:docPartObj></w:sdtPr><w:sdtContent><w:sdt><w:sdtPr><w:id w:val="-1769616900"/>'
        '<w:docPartObj><w:docPartGallery w:val="Page Numbers (Top of Page)"/><w:docPartUnique/>'
        "</w:docPartObj></w:sdtPr><w:sdtContent>"
        '<w:p><w:pPr><w:pStyle w:val="Footer"/><w:jc w:val="center"/></w:pPr>'
        + text_run("Page ")
        + complex_field("PAGE  \\* Arabic  \\* MERGEFORMAT", "2", bold)
        + text_run(" of ")
        + complex_field("NUMPAGES  \\* Arabic  \\* MERGEFORMAT", "2", bold)
        + "</w:p></w:sdtContent></w:sdt></w:sdtContent></w:sdt>"
        '<w:p><w:pPr><w:pStyle w:val="Footer"/></w:pPr></w:p>',
    )
    with Package(template) as package:
        if at_end:
            content = footer[footer.index("<w:sdt>") : footer.rindex("</w:ftr>")]
            existing = package.parts["word/footer1.xml"]
            footer = existing.replace("</w:ftr>", content + "</w:ftr>")
        package.parts["word/footer1.xml"] = footer


def numbered_list(template: Path, after: str = "We focus our statistics") -> None:
    """Three numbered points after a paragraph (the numbering button), then a second list
    restarted at 1 (right-click › Restart at 1)."""
    levels = "".join(
        f'<w:lvl w:ilvl="{level}" w:tplc="0809000F"><w:start w:val="1"/>'
        f'<w:numFmt w:val="{"decimal" if level % 3 == 0 else "lowerLetter" if level % 3 == 1 else "lowerRoman"}"/>'
        f'<w:lvlText w:val="%{level + 1}."/><w:lvlJc w:val="left"/>'
        f'<w:pPr><w:ind w:left="{720 * (level + 1)}" w:hanging="360"/></w:pPr></w:lvl>'
        for level in range(9)
    )
    definitions = (
        f'<w:abstractNum w:abstractNumId="90"><w:nsid w:val="1B2C3D4E"/>'
        f'<w:multiLevelType w:val="hybridMultilevel"/><w:tmpl w:val="0809000F"/>{levels}'
        "</w:abstractNum>"
    )
    nums = (
        '<w:num w:numId="91"><w:abstractNumId w:val="90"/></w:num>'
        '<w:num w:numId="92"><w:abstractNumId w:val="90"/><w:lvlOverride w:ilvl="0">'
        '<w:startOverride w:val="1"/></w:lvlOverride></w:num>'
    )

    def item(num: int, text: str, level: int = 0) -> str:
        return (
            '<w:p><w:pPr><w:pStyle w:val="ListParagraph"/><w:numPr>'
            f'<w:ilvl w:val="{level}"/><w:numId w:val="{num}"/></w:numPr></w:pPr>'
            f"{text_run(text)}</w:p>"
        )

    with Package(template) as package:
        numbering = package.parts["word/numbering.xml"]
        first_num = numbering.index("<w:num ")
        numbering = numbering[:first_num] + definitions + numbering[first_num:]
        package.parts["word/numbering.xml"] = numbering.replace(
            "</w:numbering>", nums + "</w:numbering>"
        )
        package.after_paragraph(
            after,
            item(91, "Complaints upheld")
            + item(91, "how often things go wrong", 1)
            + item(91, "Compliance with recommendations")
            + item(91, "Satisfactory remedies"),
        )
        package.after_paragraph(
            "Finally, we compare",
            item(92, "County Councils") + item(92, "District Councils"),
        )


def _notes(kind: str) -> str:
    """footnotes.xml or endnotes.xml with Word's two separators."""
    return part(
        f"{kind}s",
        f'<w:{kind} w:type="separator" w:id="-1"><w:p><w:pPr><w:spacing w:after="0" '
        f'w:line="240" w:lineRule="auto"/></w:pPr><w:r><w:separator/></w:r></w:p></w:{kind}>'
        f'<w:{kind} w:type="continuationSeparator" w:id="0"><w:p><w:pPr><w:spacing w:after="0" '
        f'w:line="240" w:lineRule="auto"/></w:pPr><w:r><w:continuationSeparator/></w:r></w:p>'
        f"</w:{kind}>",
    )


def _note(kind: str, number: int, text: str) -> str:
    style = "FootnoteText" if kind == "footnote" else "EndnoteText"
    reference = "FootnoteReference" if kind == "footnote" else "EndnoteReference"
    return (
        f'<w:{kind} w:id="{number}"><w:p><w:pPr><w:pStyle w:val="{style}"/></w:pPr>'
        f'<w:r><w:rPr><w:rStyle w:val="{reference}"/></w:rPr><w:{kind}Ref/></w:r>'
        f"{text_run(' ' + text)}</w:p></w:{kind}>"
    )


def _reference(kind: str, number: int) -> str:
    style = "FootnoteReference" if kind == "footnote" else "EndnoteReference"
    return (
        f'<w:r><w:rPr><w:rStyle w:val="{style}"/></w:rPr><w:{kind}Reference w:id="{number}"/></w:r>'
    )


def notes(template: Path, kind: str = "footnote", field: bool = True) -> None:
    """Two footnotes (or endnotes), one of them naming the council (a field in a note) unless
    not `field`."""
    with Package(template) as package:
        content = _notes(kind)
        content = content.replace(
            f"</w:{kind}s>",
            _note(kind, 1, "As decided by the Ombudsman.")
            + _note(kind, 2, "The figures of {{ authority }}." if field else "The figures.")
            + f"</w:{kind}s>",
        )
        content_type = f"{DOC_TYPE}.{kind}s+xml"
        package.add_part(f"word/{kind}s.xml", content, content_type, f"{kind}s")
        settings = package.parts["word/settings.xml"]
        properties = f'<w:{kind}Pr><w:{kind} w:id="-1"/><w:{kind} w:id="0"/></w:{kind}Pr>'
        package.parts["word/settings.xml"] = settings.replace(
            "<w:compat>", properties + "<w:compat>", 1
        )
        package.in_paragraph("We focus our statistics", _reference(kind, 1))
        package.in_paragraph("Finally, we compare", _reference(kind, 2))


def title_in_footer(template: Path) -> None:
    """The document's title in the footer twice: Insert › Quick Parts › Document Property ›
    Title (a content control bound to the core properties) and Insert › Field › Title."""
    binding = (
        '<w:sdt><w:sdtPr><w:alias w:val="Title"/><w:tag w:val=""/><w:id w:val="1470012345"/>'
        '<w:placeholder><w:docPart w:val="4A1E2B3C4D5E6F708192A3B4C5D6E7F8"/></w:placeholder>'
        "<w:dataBinding w:prefixMappings=\"xmlns:ns0='http://purl.org/dc/elements/1.1/' "
        "xmlns:ns1='http://schemas.openxmlformats.org/package/2006/metadata/core-properties' \" "
        'w:xpath="/ns1:coreProperties[1]/ns0:title[1]" '
        'w:storeItemID="{6C3C8BC8-F283-45AE-878A-BAB7291924A1}"/><w:text/></w:sdtPr>'
        "<w:sdtContent><w:r><w:t>Annual Review letter</w:t></w:r></w:sdtContent></w:sdt>"
    )
    footer = part(
        "ftr",
        '<w:p><w:pPr><w:pStyle w:val="Footer"/></w:pPr>'
        + binding
        + "</w:p>"
        + '<w:p><w:pPr><w:pStyle w:val="Footer"/></w:pPr>'
        + text_run("Title: ")
        + complex_field("TITLE  \\* MERGEFORMAT", "Annual Review letter")
        + text_run(" – page ")
        + complex_field("PAGE", "1")
        + "</w:p>",
    )
    with Package(template) as package:
        package.parts["word/footer1.xml"] = footer


def caption_and_cross_reference(template: Path) -> None:
    """A caption above the statistics table (Insert Caption: "Table {SEQ Table}" with a
    bookmark), and a cross-reference to it (REF for its label and number, PAGEREF for its page)."""
    caption = (
        '<w:p><w:pPr><w:pStyle w:val="Caption"/><w:keepNext/></w:pPr>'
        '<w:bookmarkStart w:id="51" w:name="_Ref45001234"/>'
        + text_run("Table ")
        + complex_field("SEQ Table \\* ARABIC", "1")
        + '<w:bookmarkEnd w:id="51"/>'
        + text_run(": key statistics")
        + "</w:p>"
    )
    second = (
        '<w:p><w:pPr><w:pStyle w:val="Caption"/></w:pPr>'
        + text_run("Table ")
        + complex_field("SEQ Table \\* ARABIC", "2")
        + text_run(": received")
        + "</w:p>"
    )
    reference = (
        text_run(" (see ")
        + complex_field("REF _Ref45001234 \\h", "Table 1")
        + text_run(" on page ")
        + complex_field("PAGEREF _Ref45001234 \\h", "2")
        + text_run(")")
    )
    with Package(template) as package:
        body = package.body
        at = body.index("<w:tbl>")
        package.body = body[:at] + caption + body[at:]
        package.in_paragraph("Finally, we compare", reference)
        body = package.body
        at = body.index("<w:tbl>", body.index("<w:tbl>") + 1)
        package.body = body[:at] + second + body[at:]


def simple_field(instruction: str, result: str) -> str:
    """A field as w:fldSimple, as Word writes some fields it inserts."""
    return f'<w:fldSimple w:instr=" {instruction} "><w:r><w:t>{result}</w:t></w:r></w:fldSimple>'


def header_naming_the_council(template: Path) -> None:
    """A header of its own (header1.xml) naming the council (`{{ authority }}`), with its page
    and page count as w:fldSimple fields."""
    header = part(
        "hdr",
        '<w:p><w:pPr><w:pStyle w:val="Header"/><w:jc w:val="right"/></w:pPr>'
        + text_run("{{ authority }} – {{ letter_date }} – ")
        + simple_field("PAGE", "1")
        + text_run("/")
        + simple_field("NUMPAGES", "3")
        + "</w:p>",
    )
    with Package(template) as package:
        rid = package.add_part("word/header1.xml", header, f"{DOC_TYPE}.header+xml", "header")
        body = package.body
        package.body = body.replace(
            "<w:footerReference",
            f'<w:headerReference w:type="default" r:id="{rid}"/><w:footerReference',
            1,
        )


def line_numbers(template: Path) -> None:
    """Layout › Line Numbers › Continuous: numbered from 1 in each letter of a document of several
    (its first section restarts them)."""
    with Package(template) as package:
        package.section('<w:lnNumType w:countBy="1" w:restart="continuous"/>')


def line_numbers_after_a_section_break(template: Path) -> None:
    """Layout › Breaks › Continuous after the greeting, then Line Numbers › Continuous for the
    second section only: a letter's lines are numbered from 1 there, but in a document of several
    letters the count runs on from the letter before; a feature letter-merge leaves to the guard."""
    with Package(template) as package:
        body = package.body
        last = body[body.rindex("<w:sectPr") : body.rindex("</w:sectPr>") + len("</w:sectPr>")]
        first = last.replace("<w:pgSz", '<w:type w:val="continuous"/><w:pgSz', 1)
        package.after_paragraph("Dear {{ salutation }}", f"<w:p><w:pPr>{first}</w:pPr></w:p>")
        package.section('<w:lnNumType w:countBy="1" w:restart="continuous"/>')


def plain_footnotes(template: Path) -> None:
    notes(template, "footnote", field=False)


def plain_endnotes(template: Path) -> None:
    notes(template, "endnote", field=False)


def endnotes(template: Path) -> None:
    notes(template, "endnote")


def merge_field(name: str, switches: str = "", properties: str = "") -> str:
    """Insert Merge Field as Word writes it: a complex field showing «Name» until merged."""
    quoted = f'"{name}"' if " " in name else name
    instruction = f"MERGEFIELD {quoted} {switches}".rstrip() + " \\* MERGEFORMAT"
    return complex_field(instruction, f"«{name}»", properties)


def if_rule(condition: str, if_so: str, if_not: str, properties: str = "") -> str:
    """Rules › If…Then…Else as Word writes it: IF, a merge field nested in the condition, and
    the two texts in quotes (which may hold fields too). `condition` is 'Field op value'."""
    field_name, operator, value = condition.split(" ", 2)
    run = f"<w:r>{properties}"
    out = f'{run}<w:fldChar w:fldCharType="begin"/></w:r>'
    out += f'{run}<w:instrText xml:space="preserve"> IF </w:instrText></w:r>'
    out += merge_field(field_name, properties=properties)
    out += f'{run}<w:instrText xml:space="preserve"> {operator} "{value}" "</w:instrText></w:r>'
    out += if_so
    out += f'{run}<w:instrText xml:space="preserve">" "</w:instrText></w:r>'
    out += if_not
    out += f'{run}<w:instrText xml:space="preserve">" </w:instrText></w:r>'
    out += f'{run}<w:fldChar w:fldCharType="separate"/></w:r>'
    out += f"{run}<w:rPr><w:noProof/></w:rPr><w:t>…</w:t></w:r>"
    out += f'{run}<w:fldChar w:fldCharType="end"/></w:r>'
    return out.replace("<w:r></w:r>", "").replace("<w:r><w:rPr></w:rPr>", "<w:r>")


def instruction_text(text: str, properties: str = "") -> str:
    """Text typed inside a rule's quotes, as Word stores it: as part of the instruction."""
    return f'<w:r>{properties}<w:instrText xml:space="preserve">{text}</w:instrText></w:r>'


def attach_data_source(
    template: Path, workbook: str = "C:\\\\Users\\\\staff\\\\councils.xlsx"
) -> None:
    """Mailings › Select Recipients › Use an Existing List: the settings Word saves with it."""
    settings = (
        '<w:mailMerge><w:mainDocumentType w:val="formLetters"/><w:linkToQuery/>'
        '<w:dataType w:val="native"/><w:connectString w:val="Provider=Microsoft.ACE.OLEDB.12.0;'
        f'User ID=Admin;Data Source={workbook};Mode=Read"/>'
        '<w:query w:val="SELECT * FROM `Contacts$` "/><w:dataSource r:id="rId1"/>'
        '<w:viewMergedData/><w:odso><w:udl w:val="Provider=Microsoft.ACE.OLEDB.12.0"/>'
        '<w:table w:val="Contacts$"/><w:src r:id="rId2"/><w:colDelim w:val="9"/>'
        '<w:type w:val="database"/><w:fHdr/></w:odso></w:mailMerge>'
    )
    link = f"file:///{workbook.replace(chr(92), '/')}"
    relationships = (
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
        '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
        f'<Relationship Id="rId2" Type="{REL_TYPE}/mailMergeSource" Target="{link}" '
        'TargetMode="External"/>'
        f'<Relationship Id="rId1" Type="{REL_TYPE}/mailMergeSource" Target="{link}" '
        'TargetMode="External"/></Relationships>'
    )
    with Package(template) as package:
        text = package.parts["word/settings.xml"]
        if 'xmlns:r="' not in text[: text.index(">", text.index("<w:settings"))]:
            text = text.replace("<w:settings ", f'<w:settings xmlns:r="{R_NS}" ', 1)
        package.parts["word/settings.xml"] = text.replace(
            "<w:defaultTabStop", settings + "<w:defaultTabStop", 1
        )
        package.parts["word/_rels/settings.xml.rels"] = relationships
