"""The email's body as the council sees it: plain text (templates/email.txt, as before), or HTML
made from a Word document staff edit (templates/email.docx) or from an HTML file, with a
plain-text alternative made from that HTML and its pictures (the signature's logo) carried inline.

A Word email is merged exactly as the letter is (template/render.py: the same {{ fields }},
Word merge fields and rules), then converted to clean HTML with mammoth; an HTML email is
rendered in the same sandbox with every value escaped. Either way the HTML is tidied here: a
full document with `lang` set, each picture an inline part (cid:) that must have alt text,
links only to web and email addresses, and light inline styles that email programs keep.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import html
import io
import mimetypes
import re
import zipfile
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from email.message import EmailMessage
from pathlib import Path
from typing import Any, cast

from lxml import etree
from lxml import html as lxml_html

from letter_merge.config import Settings
from letter_merge.errors import InputError, Problem
from letter_merge.fields import EMAIL_FIELDS, email_fields
from letter_merge.template.text import (
    TemplateError,
    check_text_template,
    describe,
    render_limited,
    sandbox,
)
from letter_merge.template.wordxml import BODY_PART, parse, serialise, w
from letter_merge.untrusted import read_text_file

LANGUAGE = "en-GB"  # the office writes in British English: screen readers read it so
WORD_SUFFIXES = (".docx",)
HTML_SUFFIXES = (".html", ".htm")
PICTURE_BYTES = 1024 * 1024  # a logo is some KB; a picture this big would swamp every message
PICTURE_TYPES = ("image/png", "image/jpeg", "image/gif")
SAFE_LINKS = ("https://", "http://", "mailto:")
# Light styles, inline (Outlook ignores most of <style>): readable, close to Word's defaults.
STYLES = {
    "body": "margin:0;padding:16px;font-family:Arial,Helvetica,sans-serif;font-size:11pt;"
    "line-height:1.45;color:#1b1b1b;background:#ffffff",
    "p": "margin:0 0 11pt 0",
    "h1": "font-size:16pt;margin:0 0 11pt 0",
    "h2": "font-size:13pt;margin:0 0 11pt 0",
    "h3": "font-size:11pt;margin:0 0 11pt 0",
    "table": "border-collapse:collapse;margin:0 0 11pt 0",
    "td": "padding:2pt 8pt 2pt 0;vertical-align:top",
    "img": "border:0;max-width:100%;height:auto",
    "a": "color:#0b4f8a",
}


@dataclass(frozen=True)
class InlinePicture:
    """A picture the HTML shows by cid: (the signature's logo), carried in the message."""

    cid: str  # without < >
    data: bytes
    content_type: str
    alt: str


@dataclass(frozen=True)
class EmailBody:
    """One council's email body: its plain text, and (for an HTML email) its HTML document
    and the pictures that document shows."""

    text: str
    html: str = ""
    pictures: tuple[InlinePicture, ...] = ()

    def browser_html(self) -> str:
        """The HTML with each cid: picture written in (data:), for a browser to show as the
        council's email program does."""
        page = self.html
        for picture in self.pictures:
            data = base64.b64encode(picture.data).decode()
            page = page.replace(f"cid:{picture.cid}", f"data:{picture.content_type};base64,{data}")
        return page


def is_rich(path: Path) -> bool:
    """Whether the email template is a Word or HTML document (else plain text)."""
    return path.suffix.lower() in WORD_SUFFIXES + HTML_SUFFIXES


def email_body(
    settings: Settings,
    plain: str,
    fields: Mapping[str, Any],
    *,
    title: str = "",
    correction: bool = False,
    note: str = "",
) -> EmailBody:
    """The body for one council: `plain` (the text template, rendered) for a text email, or the
    Word or HTML email rendered with `fields`; `title` is the HTML's title (the subject)."""
    path = settings.email_template
    if not is_rich(path):
        return EmailBody(plain)
    template = _template(path, path.stat().st_mtime_ns, tuple(sorted(settings.field_map.items())))
    merged = {**fields, **email_fields(correction=correction, note=note)}
    return template.render(merged, title)


def email_problems(settings: Settings, available: Iterable[str]) -> list[Problem]:
    """What stops a Word or HTML email template from being merged: fields that do not exist, a
    syntax error, a picture without alt text, a file that is not there."""
    path = settings.email_template
    try:
        template = _template(
            path, path.stat().st_mtime_ns, tuple(sorted(settings.field_map.items()))
        )
        return template.check(set(available) | EMAIL_FIELDS)
    except FileNotFoundError:
        return [
            Problem(
                str(path),
                "no such email template; check [paths] email_template in letter-merge.toml",
            )
        ]
    except InputError as error:
        return [Problem(path.name, str(error))]


def add_body(message: EmailMessage, body: EmailBody) -> None:
    """The body into `message`: plain text; or text and HTML as alternatives
    (multipart/alternative), the HTML with its pictures (multipart/related)."""
    message.set_content(body.text)
    if not body.html:
        return
    message.add_alternative(body.html, subtype="html")
    if body.pictures:
        html_part = message.get_payload()[1]  # type: ignore[index]
        assert isinstance(html_part, EmailMessage)
        for picture in body.pictures:
            maintype, _, subtype = picture.content_type.partition("/")
            html_part.add_related(
                picture.data,
                maintype=maintype,
                subtype=subtype,
                cid=f"<{picture.cid}>",
                disposition="inline",
            )


def with_test_note(page: str, real_to: str, real_cc: str) -> str:
    """A test copy's HTML: a boxed note at its top saying where the real message goes."""
    note = (
        '<div style="border:2px solid #b00020;padding:8px;margin:0 0 16px 0;'
        'font-family:Arial,sans-serif;font-size:10pt">'
        "<strong>TEST COPY</strong>: this message was not sent to the council. The real one "
        f"goes to To: {html.escape(real_to)}; Cc: {html.escape(real_cc or '(none)')}.</div>"
    )
    return re.sub(r"(<body[^>]*>)", lambda m: m.group(1) + note, page, count=1)


def with_header(body: EmailBody, headers: Sequence[tuple[str, str]]) -> str:
    """A preview page: the email as a browser shows it (pictures written in), below a grey box
    of its headers (From, To, Subject, ...), as an email program shows them. A plain-text email
    is shown as its text, in the same box."""
    rows = "".join(
        f'<tr><th style="text-align:left;padding:2px 12px 2px 0;color:#555;font-weight:normal">'
        f"{html.escape(name)}</th><td>{html.escape(value) or '(none)'}</td></tr>"
        for name, value in headers
    )
    box = (
        '<div style="background:#f2f2f2;border-bottom:1px solid #ccc;padding:10px 16px;'
        'margin:-16px -16px 16px -16px;font-family:Arial,sans-serif;font-size:10pt">'
        f'<table role="presentation">{rows}</table></div>'
    )
    if body.html:
        page = body.browser_html()
    else:
        page = (
            f'<!DOCTYPE html>\n<html lang="{LANGUAGE}"><head><meta charset="utf-8"><title>'
            f"{html.escape(headers[-2][1] if len(headers) > 1 else '')}</title></head>"
            f'<body style="{STYLES["body"]}"><pre style="font-family:inherit;white-space:pre-wrap">'
            f"{html.escape(body.text)}</pre></body></html>\n"
        )
    return re.sub(r"(<body[^>]*>)", lambda m: m.group(1) + box, page, count=1)


# The templates


class _WordEmail:
    """templates/email.docx: merged as the letter is, then made HTML by mammoth."""

    def __init__(self, path: Path, field_map: Mapping[str, str]) -> None:
        from letter_merge.template.render import LetterTemplate

        self.path = path
        self.template = LetterTemplate(path, field_map=field_map)

    def check(self, available: set[str]) -> list[Problem]:
        problem = self.template.syntax_problem()
        problems = [problem] if problem else self.template.check_fields(available)
        if not problems:  # the pictures, as they are in the template
            _, missing = _mammoth_html(self.path.read_bytes())
            problems += [Problem(self.path.name, m) for m in missing]
        return problems

    def render(self, fields: Mapping[str, Any], title: str) -> EmailBody:
        fragment, missing = _mammoth_html(self.template.render(fields))
        if missing:
            raise TemplateError(self.path.name, missing[0])
        return _finished(fragment, title, self.path.name, pictures_from=None)


class _HtmlEmail:
    """An HTML email template: rendered in the sandbox, every value escaped; its pictures are
    files beside it (src="logo.png")."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.source = read_text_file(path, "email template", "[paths] email_template")
        self.compiled = sandbox(autoescape=True).from_string(self.source)

    def check(self, available: set[str]) -> list[Problem]:
        problems = check_text_template(self.source, available, self.path.name)
        if not problems:
            try:
                _finished(self.source, "", self.path.name, pictures_from=self.path.parent)
            except TemplateError as error:
                problems.append(Problem(self.path.name, error.what))
        return problems

    def render(self, fields: Mapping[str, Any], title: str) -> EmailBody:
        try:
            page = render_limited(self.compiled, fields)
        except Exception as error:
            raise TemplateError(self.path.name, describe(error)) from None
        return _finished(page, title, self.path.name, pictures_from=self.path.parent)


@functools.lru_cache(maxsize=4)
def _template(
    path: Path, modified: int, field_map: tuple[tuple[str, str], ...]
) -> _WordEmail | _HtmlEmail:
    """Compiled once per file version: the same template serves every council."""
    if path.suffix.lower() in WORD_SUFFIXES:
        return _WordEmail(path, dict(field_map))
    return _HtmlEmail(path)


def _mammoth_html(docx: bytes) -> tuple[str, list[str]]:
    """Word's document as an HTML fragment (pictures as data: for now), and what is wrong with
    its pictures."""
    import mammoth  # type: ignore[import-untyped]

    missing: list[str] = []

    def picture(image: Any) -> dict[str, str]:
        with image.open() as handle:
            data = handle.read()
        if not (image.alt_text or "").strip():
            missing.append(
                "a picture has no alt text, which screen readers read instead of it: in Word, "
                "right-click it › View Alt Text, and describe it (e.g. the office's logo)"
            )
        encoded = base64.b64encode(data).decode()
        return {"src": f"data:{image.content_type};base64,{encoded}"}

    result = mammoth.convert_to_html(
        io.BytesIO(_slim(docx)), convert_image=mammoth.images.img_element(picture)
    )
    return str(result.value), missing


STYLE_USE = re.compile(rb'<w:(?:pStyle|rStyle|tblStyle) w:val="([^"]+)"')


def _slim(docx: bytes) -> bytes:
    """The document with only what mammoth reads, and its styles cut to those it uses: Word's
    styles.xml (hundreds of KB of styles and latent styles the email never uses) took mammoth
    nearly a second a message to parse."""
    with zipfile.ZipFile(io.BytesIO(docx)) as package:
        names = package.namelist()
        body = package.read(BODY_PART)
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w", zipfile.ZIP_STORED) as slim:
            for name in names:
                if name in ("word/stylesWithEffects.xml", "docProps/thumbnail.jpeg"):
                    continue
                data = package.read(name)
                if name == "word/styles.xml":
                    data = _used_styles(data, frozenset(STYLE_USE.findall(body)))
                slim.writestr(name, data)
    return buffer.getvalue()


@functools.lru_cache(maxsize=8)
def _used_styles(styles: bytes, used: frozenset[bytes]) -> bytes:
    """styles.xml with the styles `used` (by id) and the defaults, without latent styles."""
    root = parse(styles)
    for child in list(root):
        if child.tag == w("latentStyles"):
            root.remove(child)
        elif child.tag == w("style"):
            kept = (
                child.get(w("default")) == "1" or (child.get(w("styleId")) or "").encode() in used
            )
            if not kept:
                root.remove(child)
    return serialise(root)


def _finished(page: str, title: str, where: str, *, pictures_from: Path | None) -> EmailBody:
    """The HTML as sent: a whole document, `lang` set, styled inline, pictures inline (cid:)
    with alt text, only safe links; and its plain-text alternative."""
    root = lxml_html.document_fromstring(page or "<p></p>")
    body = root.find("body")
    assert body is not None
    for name in ("script", "style", "iframe", "object", "embed", "form"):
        for bad in list(root.iter(name)):
            cast(lxml_html.HtmlElement, bad).drop_tree()
    pictures: dict[str, InlinePicture] = {}
    for image in body.iter("img"):
        alt = (image.get("alt") or "").strip()
        if not alt:
            raise TemplateError(where, 'a picture has no alt text (alt="..."): describe it')
        data, kind = _picture(image.get("src", ""), where, pictures_from)
        cid = f"{hashlib.sha256(data).hexdigest()[:16]}@letter-merge"
        pictures.setdefault(cid, InlinePicture(cid, data, kind, alt))
        image.set("src", f"cid:{cid}")
        if not image.get("width"):
            image.set("width", str(_display_width(data)))
    for link in body.iter("a"):
        href = (link.get("href") or "").strip()
        if href and not href.lower().startswith(SAFE_LINKS):
            del link.attrib["href"]
    for element in body.iter():
        if not isinstance(element.tag, str):
            continue
        for attribute in [str(a) for a in element.attrib if str(a).lower().startswith("on")]:
            del element.attrib[attribute]
        tag = "td" if element.tag == "th" else element.tag
        style = STYLES.get(tag)
        if style and element is not body:
            element.set("style", ";".join(filter(None, (style, element.get("style", "")))))
    text = plain_text(body)
    inner = html.escape(body.text or "") + "".join(
        etree.tostring(child, encoding="unicode", method="html") for child in body
    )
    document = (
        "<!DOCTYPE html>\n"
        f'<html lang="{LANGUAGE}">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{html.escape(title)}</title>\n</head>\n"
        f'<body style="{STYLES["body"]}">\n{inner}\n</body>\n</html>\n'
    )
    return EmailBody(text, document, tuple(pictures.values()))


def _picture(src: str, where: str, folder: Path | None) -> tuple[bytes, str]:
    """A picture's bytes and type: from a data: address (Word's, via mammoth) or a file beside
    the HTML template; nothing from the web, which the council's email program would block."""
    if src.startswith("data:"):
        kind, _, encoded = src[5:].partition(";base64,")
        data = base64.b64decode(encoded)
    elif folder is not None and src and not re.match(r"^[a-z][a-z0-9+.-]*:", src, re.I):
        file = (folder / src).resolve()
        if folder.resolve() not in file.parents:
            raise TemplateError(where, f"the picture {src!r} is not in the template's folder")
        try:
            data = file.read_bytes()
        except OSError:
            raise TemplateError(
                where, f"the picture {src!r} is not there, beside the template"
            ) from None
        kind = mimetypes.guess_type(file.name)[0] or ""
    else:
        raise TemplateError(
            where,
            f"the picture {src[:60]!r} is not a file beside the template: email programs do not "
            "show pictures from the web until the reader allows it",
        )
    if kind not in PICTURE_TYPES:
        raise TemplateError(where, f"a picture is {kind or 'of an unknown kind'}: use PNG or JPEG")
    if len(data) > PICTURE_BYTES:
        raise TemplateError(
            where, f"a picture is {len(data) / 1e6:.1f} MB: make it smaller (a logo is some KB)"
        )
    return data, kind


def _display_width(data: bytes) -> int:
    """The width to show a picture at, in CSS pixels: as Word sizes it, from its resolution (a
    logo saved at 192 dpi for sharp screens shows at half its pixels)."""
    from PIL import Image

    with Image.open(io.BytesIO(data)) as picture:
        dpi = picture.info.get("dpi", (96, 96))[0] or 96
        return max(1, round(picture.width * 96 / float(dpi)))


# The plain-text alternative

_BLOCKS = {"p", "div", "h1", "h2", "h3", "h4", "h5", "h6", "table", "ul", "ol", "blockquote"}


def plain_text(body: Any) -> str:
    """The HTML as plain text that reads as the email does: paragraphs apart, line breaks kept,
    list items marked, links with their address, pictures left out (the text says it all)."""
    lines: list[str] = []
    _text_of(body, lines)
    text = "".join(lines)
    text = re.sub(r"[ \t]+\n", "\n", text)
    text = re.sub(r"\n{3,}", "\n\n", text)
    return text.strip() + "\n"


def _text_of(element: Any, out: list[str]) -> None:
    tag = element.tag if isinstance(element.tag, str) else ""
    if tag in ("script", "style", "head", "title"):
        return
    if tag in _BLOCKS:
        out.append("\n\n")
    if tag == "br":
        out.append("\n")
    if tag == "li":
        parent = element.getparent()
        number = (
            [c for c in parent if c.tag == "li"].index(element) + 1 if parent is not None else 1
        )
        out.append("\n" + (f"{number}. " if parent is not None and parent.tag == "ol" else "- "))
    if tag == "tr":
        out.append("\n")
    if tag in ("td", "th") and element.getprevious() is not None:
        out.append("  ")
    if element.text and tag != "img":
        out.append(_squeezed(element.text))
    for child in element:
        _text_of(child, out)
        if child.tail:
            out.append(_squeezed(child.tail))
    if tag == "a":
        href = (element.get("href") or "").strip()
        label = element.text_content().strip()
        if href and href.removeprefix("mailto:") != label:
            out.append(f" ({href.removeprefix('mailto:')})")
    if tag in _BLOCKS:
        out.append("\n\n")


def _squeezed(text: str) -> str:
    return re.sub(r"\s+", " ", text)
