"""Accessible (tagged, PDF/UA-1) and archival (PDF/A-2b) letters: the export options LibreOffice is
given, what its PDF export gets wrong and is mended afterwards, and the checks the proof makes.

LibreOffice 7.4's own PDF/UA + PDF/A-2b output has two defects a validator finds: pages with links
lack the name `/Tabs /S` (reading order for the keyboard), and its XMP declares `pdfuaid:part`
without the PDF/A extension schema that PDF/A-2 requires for any property it does not predefine.
"""

from __future__ import annotations

import hashlib
import io
import json
import re
import zlib
from dataclasses import dataclass
from pathlib import Path

import pikepdf
from lxml import etree

from letter_merge.config import PdfSettings
from letter_merge.pdf import pictures
from letter_merge.words import counted

RDF = "http://www.w3.org/1999/02/22-rdf-syntax-ns#"
DC = "http://purl.org/dc/elements/1.1/"
PDFAID = "http://www.aiim.org/pdfa/ns/id/"
PDFUAID = "http://www.aiim.org/pdfua/ns/id/"
PDFA_EXTENSION = "http://www.aiim.org/pdfa/ns/extension/"
PDFA_SCHEMA = "http://www.aiim.org/pdfa/ns/schema#"
PDFA_PROPERTY = "http://www.aiim.org/pdfa/ns/property#"
XML_LANG = "{http://www.w3.org/XML/1998/namespace}lang"
XMP = "http://ns.adobe.com/xap/1.0/"

# The extension schema PDF/A-2 asks for before an XMP packet may use pdfuaid:part (ISO 14289-1).
PDFUA_EXTENSION_SCHEMA = f"""\
<rdf:Description xmlns:rdf="{RDF}" rdf:about=""
    xmlns:pdfaExtension="{PDFA_EXTENSION}" xmlns:pdfaSchema="{PDFA_SCHEMA}"
    xmlns:pdfaProperty="{PDFA_PROPERTY}">
  <pdfaExtension:schemas>
    <rdf:Bag>
      <rdf:li rdf:parseType="Resource">
        <pdfaSchema:schema>PDF/UA Universal Accessibility Schema</pdfaSchema:schema>
        <pdfaSchema:namespaceURI>{PDFUAID}</pdfaSchema:namespaceURI>
        <pdfaSchema:prefix>pdfuaid</pdfaSchema:prefix>
        <pdfaSchema:property>
          <rdf:Seq>
            <rdf:li rdf:parseType="Resource">
              <pdfaProperty:name>part</pdfaProperty:name>
              <pdfaProperty:valueType>Integer</pdfaProperty:valueType>
              <pdfaProperty:category>internal</pdfaProperty:category>
              <pdfaProperty:description>Indicates which part of ISO 14289 standard is followed</pdfaProperty:description>
            </rdf:li>
          </rdf:Seq>
        </pdfaSchema:property>
      </rdf:li>
    </rdf:Bag>
  </pdfaExtension:schemas>
</rdf:Description>"""


def export_options(settings: PdfSettings, *, destinations: bool = False) -> dict[str, bool | int]:
    """LibreOffice's PDF export options for letters (its filter data), by name.

    Pictures stay lossless (by default LibreOffice makes some of them JPEG, blurring a chart's
    text); `destinations` exports bookmarks as named destinations, which mark where each letter of
    a combined document starts."""
    options: dict[str, bool | int] = {"UseLosslessCompression": True}
    if destinations:
        options["ExportBookmarksToPDFDestination"] = True
    if settings.accessible:
        options["UseTaggedPDF"] = True
        options["PDFUACompliance"] = True
    if settings.pdfa:
        options["SelectPdfVersion"] = 2  # 2: PDF/A-2b
    return options


def export_filter(settings: PdfSettings, *, destinations: bool = False) -> str:
    """The same options as soffice's --convert-to target (JSON: LibreOffice 7.4 or later)."""
    body = {
        name: (
            {"type": "boolean", "value": "true" if value else "false"}
            if isinstance(value, bool)
            else {"type": "long", "value": str(value)}
        )
        for name, value in export_options(settings, destinations=destinations).items()
    }
    return "pdf:writer_pdf_Export:" + json.dumps(body, separators=(",", ":"))


def mend(pdf: pikepdf.Pdf, settings: PdfSettings, title: str) -> None:
    """Make a letter's PDF what the settings promise, after LibreOffice: its own title (shown as
    the window title), tab order by structure, and XMP metadata PDF/A accepts."""
    if settings.accessible:
        for page in pdf.pages:
            page.obj[pikepdf.Name.Tabs] = pikepdf.Name.S
        preferences = pdf.Root.get("/ViewerPreferences")
        if not isinstance(preferences, pikepdf.Dictionary):
            preferences = pikepdf.Dictionary()
        preferences[pikepdf.Name.DisplayDocTitle] = True
        pdf.Root[pikepdf.Name.ViewerPreferences] = preferences
    if title:
        pdf.docinfo[pikepdf.Name.Title] = title
    if settings.made_at:
        _set_dates(pdf, settings.made_at)
    metadata = pdf.Root.get("/Metadata")
    if isinstance(metadata, pikepdf.Stream):
        xmp = mended_xmp(metadata.read_bytes(), title, pdfa=settings.pdfa, made_at=settings.made_at)
        pdf.Root[pikepdf.Name.Metadata] = pdf.make_stream(
            xmp, {"/Type": pikepdf.Name.Metadata, "/Subtype": pikepdf.Name.XML}
        )


def _set_dates(pdf: pikepdf.Pdf, made_at: str) -> None:
    """The document's dates (when made, when changed) set to `made_at` ("2020-07-22T00:00:00Z")
    in place of the moment LibreOffice wrote it, in the form the converter used: the same letter
    then gives the same bytes."""
    digits = re.sub(r"\D", "", made_at)[:14]
    for key in (pikepdf.Name.CreationDate, pikepdf.Name.ModDate):
        if key in pdf.docinfo:
            written = str(pdf.docinfo[key])
            pdf.docinfo[key] = re.sub(r"^D:\d{1,14}", f"D:{digits}", written) or f"D:{digits}Z"
    for intent in pdf.Root.get("/OutputIntents", pikepdf.Array()):
        profile = (
            intent.get("/DestOutputProfile") if isinstance(intent, pikepdf.Dictionary) else None
        )
        if isinstance(profile, pikepdf.Stream):
            _date_profile(profile, digits)


def _date_profile(profile: pikepdf.Stream, digits: str) -> None:
    """The colour profile PDF/A embeds, dated as the document (LibreOffice makes it anew, dated
    now, for every PDF): its header's date (ICC.1 7.2.8) and, where it has one, its profile ID,
    the MD5 of the profile with the ID, flags and rendering intent zeroed (7.2.18)."""
    data = bytearray(profile.read_bytes())
    if len(data) < 128 or data[36:40] != b"acsp":
        return
    numbers = (digits[0:4], digits[4:6], digits[6:8], digits[8:10], digits[10:12], digits[12:14])
    data[24:36] = b"".join(int(n).to_bytes(2, "big") for n in numbers)
    if any(data[84:100]):
        blank = bytearray(data)
        blank[44:48] = blank[64:68] = bytes(4)
        blank[84:100] = bytes(16)
        data[84:100] = hashlib.md5(bytes(blank), usedforsecurity=False).digest()
    packed = zlib.compress(bytes(data), 9)
    if packed.endswith(b"\r"):  # see _no_stream_ends_in_cr
        packed = zlib.compress(bytes(data), 6)
    profile.write(packed, filter=pikepdf.Name.FlateDecode)


def mended_xmp(packet: bytes, title: str, *, pdfa: bool, made_at: str = "") -> bytes:
    """The XMP packet with `title` as dc:title, its dates set to `made_at` (if given) and, for
    PDF/A, the extension schema for pdfuaid."""
    parser = etree.XMLParser(resolve_entities=False, no_network=True, remove_blank_text=True)
    root = etree.fromstring(packet, parser)
    rdf = root if root.tag == f"{{{RDF}}}RDF" else root.find(f"{{{RDF}}}RDF")
    if rdf is None:
        return packet
    if title:
        _set_title(rdf, title)
    if made_at:
        for name in ("CreateDate", "ModifyDate", "MetadataDate"):
            for element in rdf.iter(f"{{{XMP}}}{name}"):
                element.text = made_at
    declares_ua = next(rdf.iter(f"{{{PDFUAID}}}part"), None) is not None
    has_extension = next(rdf.iter(f"{{{PDFA_EXTENSION}}}schemas"), None) is not None
    if pdfa and declares_ua and not has_extension:
        rdf.append(etree.fromstring(PDFUA_EXTENSION_SCHEMA, parser))
    body = etree.tostring(root, encoding="utf-8")
    return (
        b'<?xpacket begin="\xef\xbb\xbf" id="W5M0MpCehiHzreSzNTczkc9d"?>\n'
        + body
        + b'\n<?xpacket end="w"?>'
    )


def _set_title(rdf: etree._Element, title: str) -> None:
    """dc:title, as one x-default alternative: the one there changed, or one added."""
    element = next(rdf.iter(f"{{{DC}}}title"), None)
    if element is None:
        description = etree.SubElement(rdf, f"{{{RDF}}}Description", nsmap={"dc": DC})
        description.set(f"{{{RDF}}}about", "")
        element = etree.SubElement(description, f"{{{DC}}}title")
    for child in list(element):
        element.remove(child)
    item = etree.SubElement(etree.SubElement(element, f"{{{RDF}}}Alt"), f"{{{RDF}}}li")
    item.set(XML_LANG, "x-default")
    item.text = title


def finish_pdf(path: Path, settings: PdfSettings, title: str, chart: bytes | None = None) -> bytes:
    """A letter converted on its own, mended (see `mend`), as bytes to write in its place; with
    `chart`, converted from a copy with the chart's stand-in, which the chart replaces."""
    with pikepdf.open(path) as pdf:
        if chart is not None and not pictures.put_in(pdf, chart):
            raise ValueError("its chart's stand-in is not in the PDF")
        mend(pdf, settings, title)
        return save(pdf)


def save(pdf: pikepdf.Pdf) -> bytes:
    """A letter's PDF as bytes: the same letter gives the same bytes, and no stream's data ends
    in a carriage return (see _no_stream_ends_in_cr)."""
    _no_stream_ends_in_cr(pdf)
    data = _saved(pdf, pikepdf.ObjectStreamMode.generate)
    if b"\r\nendstream" in data:
        # An object stream qpdf made ends in CR (see _no_stream_ends_in_cr): do without them.
        data = _saved(pdf, pikepdf.ObjectStreamMode.disable)
    return data


def _saved(pdf: pikepdf.Pdf, object_streams: pikepdf.ObjectStreamMode) -> bytes:
    buffer = io.BytesIO()
    pdf.save(
        buffer,
        # a file ID from the content: the same letter gives the same bytes
        deterministic_id=True,
        object_stream_mode=object_streams,
        # stream data as it is: by default qpdf would decompress and compress it again, undoing
        # the mend of _no_stream_ends_in_cr (and costing time)
        stream_decode_level=pikepdf.StreamDecodeLevel.none,
        # the XMP's PDF version is LibreOffice's and stays true: not parsed again for each letter
        fix_metadata_version=False,
    )
    return buffer.getvalue()


def _no_stream_ends_in_cr(pdf: pikepdf.Pdf) -> None:
    """Rewrite any compressed stream whose data ends in a carriage return.

    Before `endstream` comes an end of line; data ending in CR followed by that LF reads as a
    CR LF end of line, so a reader (and a PDF/A validator) takes the data to be a byte shorter
    than its /Length says. About one letter in 35 had such a stream. Compressing again does not
    help (a zlib stream ends with the checksum of what it holds), so a page's drawing
    instructions get a harmless newline at their end, and a picture PNG row filters. (Other
    streams, fonts and colour profiles, have not been seen to end so, and are left as they are.)
    """
    drawings = set()
    for page in pdf.pages:
        contents = page.obj.get("/Contents")
        for stream in contents if isinstance(contents, pikepdf.Array) else [contents]:
            if isinstance(stream, pikepdf.Stream):
                drawings.add(stream.objgen)
    for stream in pdf.objects:
        if (
            not isinstance(stream, pikepdf.Stream)
            or stream.get("/Filter") != pikepdf.Name.FlateDecode
        ):
            continue
        drawing = stream.objgen in drawings
        if not drawing and stream.get("/Subtype") != pikepdf.Name.Image:
            continue  # fonts and colour profiles: left as they are, and not read
        if "/DecodeParms" in stream or not stream.read_raw_bytes().endswith(b"\r"):
            continue
        data = stream.read_bytes()
        if drawing:
            stream.write(zlib.compress(data + b"\n"), filter=pikepdf.Name.FlateDecode)
        else:
            _with_row_filters(stream, data)


def _with_row_filters(image: pikepdf.Stream, data: bytes) -> None:
    """The same picture compressed with PNG row filters: the first row marked 'up' (from a row of
    zeros: its bytes stay as they are), the rest 'none'. The filter bytes change the checksum
    at the end of the compressed data (a sum of the bytes: a zero would not); no pixel changes."""
    try:
        width, bits = int(image.Width), int(image.get("/BitsPerComponent", 8))
        colours = {"/DeviceRGB": 3, "/DeviceGray": 1, "/DeviceCMYK": 4}[str(image.ColorSpace)]
    except (AttributeError, KeyError, ValueError, TypeError):
        return  # an indexed or ICC colour space, a mask: left as it is
    row = (width * colours * bits + 7) // 8
    if not row or len(data) % row:
        return
    filtered = b"".join(
        (b"\x02" if i == 0 else b"\x00") + data[i : i + row] for i in range(0, len(data), row)
    )
    packed = zlib.compress(filtered)
    if packed.endswith(b"\r"):
        return
    parameters = pikepdf.Dictionary(
        Predictor=15, Colors=colours, BitsPerComponent=bits, Columns=width
    )
    image.write(packed, filter=pikepdf.Name.FlateDecode, decode_parms=parameters)


@dataclass(frozen=True)
class Conformance:
    """What a letter's PDF is, as a reader of it can tell: the proof's accessibility checks."""

    tagged: bool
    language: str
    title: str
    shows_title: bool
    pdfa: str  # "2B", or "" when it does not claim PDF/A
    pdfua: str  # "1", or ""
    unembedded_fonts: tuple[str, ...]
    figures_without_alt: int
    tables_without_headers: int
    links_without_text: int

    def problems(self, settings: PdfSettings) -> list[str]:
        """What is missing, in words, against what the settings promise (fonts apart: the proof
        checks those for every letter)."""
        found: list[str] = []
        if settings.accessible:
            if not self.tagged:
                found.append("not tagged: a screen reader gets no headings, tables or order")
            if not self.language:
                found.append("no document language")
            if not self.title or not self.shows_title:
                found.append("no title shown as the window title")
            if self.pdfua != "1":
                found.append("no PDF/UA-1 identification in its metadata")
            if self.figures_without_alt:
                found.append(
                    f"{counted(self.figures_without_alt, 'picture')} without alternative text"
                )
            if self.tables_without_headers:
                found.append(
                    f"{counted(self.tables_without_headers, 'table')} without header cells"
                )
            if self.links_without_text:
                found.append(f"{counted(self.links_without_text, 'link')} without readable text")
        if settings.pdfa and self.pdfa != "2B":
            found.append("not marked PDF/A-2b")
        return found


def read_conformance(path: Path) -> Conformance:
    with pikepdf.open(path) as pdf:
        root = pdf.Root
        mark = root.get("/MarkInfo")
        tagged = bool(
            isinstance(mark, pikepdf.Dictionary)
            and bool(mark.get("/Marked", False))
            and "/StructTreeRoot" in root
        )
        preferences = root.get("/ViewerPreferences")
        shows_title = bool(
            isinstance(preferences, pikepdf.Dictionary)
            and bool(preferences.get("/DisplayDocTitle", False))
        )
        pdfa = pdfua = ""
        metadata = root.get("/Metadata")
        if isinstance(metadata, pikepdf.Stream):
            pdfa, pdfua = _identification(metadata.read_bytes())
        figures = tables = 0
        if tagged:
            figures, tables = _structure_gaps(root.StructTreeRoot)
        links = sum(
            1
            for page in pdf.pages
            for annotation in page.obj.get("/Annots", pikepdf.Array())
            if annotation.get("/Subtype") == pikepdf.Name.Link
            and not str(annotation.get("/Contents", "")).strip()
        )
        return Conformance(
            tagged=tagged,
            language=str(root.get("/Lang", "")),
            title=str(pdf.docinfo.get("/Title", "")),
            shows_title=shows_title,
            pdfa=pdfa,
            pdfua=pdfua,
            unembedded_fonts=_unembedded_fonts(pdf),
            figures_without_alt=figures,
            tables_without_headers=tables,
            links_without_text=links,
        )


def _identification(packet: bytes) -> tuple[str, str]:
    parser = etree.XMLParser(resolve_entities=False, no_network=True)
    try:
        root = etree.fromstring(packet, parser)
    except etree.XMLSyntaxError:
        return "", ""

    def value(namespace: str, name: str) -> str:
        element = next(root.iter(f"{{{namespace}}}{name}"), None)
        if element is not None:
            return (element.text or "").strip()
        # Also written as an attribute of rdf:Description.
        for description in root.iter(f"{{{RDF}}}Description"):
            if f"{{{namespace}}}{name}" in description.attrib:
                return str(description.attrib[f"{{{namespace}}}{name}"]).strip()
        return ""

    part = value(PDFAID, "part")
    pdfa = part + value(PDFAID, "conformance").upper() if part else ""
    return pdfa, value(PDFUAID, "part")


def _structure_gaps(tree_root: pikepdf.Object) -> tuple[int, int]:
    """Figures with no alternative text, and tables with no header cell, in a structure tree."""
    role_map = tree_root.get("/RoleMap", pikepdf.Dictionary())
    figures = tables = 0
    stack = list(kids(tree_root))
    while stack:
        element = stack.pop()
        if not is_element(element):
            continue
        role = str(element.get("/S", ""))
        role = str(role_map.get(role, role))
        if role == "/Figure" and not str(element.get("/Alt", "")).strip():
            figures += 1
        if role == "/Table" and not _has_header_cell(element, role_map):
            tables += 1
        stack.extend(kids(element))
    return figures, tables


def _has_header_cell(table: pikepdf.Object, role_map: pikepdf.Object) -> bool:
    stack = list(kids(table))
    while stack:
        element = stack.pop()
        if is_element(element):
            role = str(element.get("/S", ""))
            if str(role_map.get(role, role)) == "/TH":
                return True
            stack.extend(kids(element))
    return False


def is_element(kid: pikepdf.Object) -> bool:
    """A structure element, as opposed to a marked-content id or a reference to content."""
    return isinstance(kid, pikepdf.Dictionary) and kid.get("/Type") not in (
        pikepdf.Name.MCR,
        pikepdf.Name.OBJR,
    )


def kids(element: pikepdf.Object) -> list[pikepdf.Object]:
    """A structure element's /K as a list (it may be one kid or an array)."""
    value = element.get("/K")
    if value is None:
        return []
    if isinstance(value, pikepdf.Array):
        return list(value)
    return [value]


def _unembedded_fonts(pdf: pikepdf.Pdf) -> tuple[str, ...]:
    missing: set[str] = set()
    seen: set[tuple[int, int]] = set()
    for page in pdf.pages:
        resources = page.obj.get("/Resources", pikepdf.Dictionary())
        fonts = resources.get("/Font", pikepdf.Dictionary())
        for font in fonts.values():
            if font.is_indirect:
                if font.objgen in seen:
                    continue
                seen.add(font.objgen)
            if not _embedded(font):
                missing.add(str(font.get("/BaseFont", "?")).lstrip("/"))
    return tuple(sorted(missing))


def _embedded(font: pikepdf.Object) -> bool:
    if font.get("/Subtype") == pikepdf.Name.Type3:
        return True  # drawn by the PDF itself
    descendants = font.get("/DescendantFonts")
    if isinstance(descendants, pikepdf.Array) and len(descendants):
        font = descendants[0]
    descriptor = font.get("/FontDescriptor")
    if not isinstance(descriptor, pikepdf.Dictionary):
        return False
    return any(key in descriptor for key in ("/FontFile", "/FontFile2", "/FontFile3"))
