"""Reading mail as it arrives, damaged or not: a message's parts, its headers decoded, a text
part's content in its character set, HTML as text, addresses, Message-IDs and dates. Nothing here
raises on a malformed header, part or encoding; what cannot be read is left out or said."""

from __future__ import annotations

import base64
import binascii
import contextlib
import datetime as dt
import itertools
import quopri
import re
from collections.abc import Iterable, Iterator
from email import errors
from email.header import decode_header, make_header
from email.message import Message
from email.policy import compat32
from email.utils import getaddresses, parsedate_to_datetime
from html.parser import HTMLParser

# Beyond these, the rest is not read: no report or reply needs more, and a huge message must not
# make reading a mailbox crawl.
MAX_BYTES = 50 * 1024 * 1024
MAX_TEXT = 200_000  # characters of one text part
MAX_PARTS = 500
MAX_HEADERS = 2000  # of one message or part; real ones have a few hundred at most
ID = re.compile(r"<([^<>\s]+)>")


class HtmlText(HTMLParser):
    """HTML as the lines a reader would see; blockquotes (quoted mail) left out on request."""

    BLOCKS = frozenset(
        "p div br tr td th li ul ol table h1 h2 h3 h4 h5 h6 hr pre blockquote".split()
    )
    HIDDEN = frozenset({"style", "script", "title"})

    def __init__(self, drop_quotes: bool) -> None:
        super().__init__(convert_charrefs=True)
        self.drop_quotes = drop_quotes
        self.pieces: list[str] = []
        self.hidden = self.quoted = self.pre = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self._count(tag, 1)
        if tag in self.BLOCKS:
            self.pieces.append("\n")

    def handle_endtag(self, tag: str) -> None:
        self._count(tag, -1)
        if tag in self.BLOCKS:
            self.pieces.append("\n")

    def handle_data(self, data: str) -> None:
        if self.hidden or (self.quoted and self.drop_quotes):
            return
        self.pieces.append(data if self.pre else re.sub(r"\s+", " ", data))

    def _count(self, tag: str, step: int) -> None:
        if tag in self.HIDDEN:
            self.hidden = max(0, self.hidden + step)
        elif tag == "blockquote":
            self.quoted = max(0, self.quoted + step)
        elif tag == "pre":
            self.pre = max(0, self.pre + step)


def html_text(html: str, *, drop_quotes: bool) -> str:
    reader = HtmlText(drop_quotes)
    with contextlib.suppress(Exception):  # html.parser may give up on broken markup: keep the rest
        reader.feed(html)
        reader.close()
    lines = (line.strip() for line in "".join(reader.pieces).split("\n"))
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()


def leaves(message: Message) -> Iterator[Message]:
    """Every part that is not a multipart container, in order, without going into an attached
    or returned message (its text is not the report's, nor the reply's)."""
    stack = [message]
    seen = 0
    while stack and seen < MAX_PARTS:
        part = stack.pop()
        seen += 1
        if content_type(part).startswith("multipart/") and part.is_multipart():
            stack.extend(reversed(subparts(part)))
        else:
            yield part


def damage(message: Message) -> list[str]:
    """What is wrong with the MIME structure, in words, outside any returned message."""
    said = {
        errors.NoBoundaryInMultipartDefect: "it says it has several parts but gives no boundary "
        "between them",
        errors.StartBoundaryNotFoundDefect: "the boundary it gives between its parts never "
        "appears, so they cannot be told apart",
        errors.CloseBoundaryNotFoundDefect: "it ends before its last part is closed, so it may "
        "have been cut off",
    }
    found: list[str] = []
    stack = [message]
    seen = 0
    while stack and seen < MAX_PARTS:
        part = stack.pop()
        seen += 1
        for defect in part.defects:
            for kind, words in said.items():
                if isinstance(defect, kind) and words not in found:
                    found.append(words)
        if content_type(part).startswith("multipart/") and part.is_multipart():
            stack.extend(subparts(part))
    if not found:
        return []
    return [f"Its MIME structure is damaged: {'; '.join(found)}. What could be read is shown."]


def subparts(part: Message) -> list[Message]:
    """The parts of a multipart, or the message inside a message/* part. Asked only of a part
    whose payload is a list: get_payload() decodes any other with its charset, and may raise."""
    if not part.is_multipart():
        return []
    payload = part.get_payload()
    return [p for p in payload if isinstance(p, Message)] if isinstance(payload, list) else []


_TYPE = re.compile(r"[\w.+-]+/[\w.+-]+")


def content_type(part: Message) -> str:
    try:
        written = part.get_content_type().lower()
    except Exception:  # a Content-Type no parser can read is plain text (RFC 2045)
        return "text/plain"
    # "text/plain\n charset=..." (a ';' left out): the type is what stands first.
    found = _TYPE.match(written.strip())
    return found.group(0) if found else "text/plain"


def param(part: Message, name: str) -> str:
    try:
        value = part.get_param(name)
    except Exception:  # a malformed parameter list
        return ""
    return value if isinstance(value, str) else ""


def is_attachment(part: Message) -> bool:
    return header(part, "Content-Disposition").lower().startswith("attachment")


def has_header(message: Message, name: str) -> bool:
    wanted = name.lower()
    return any(key.lower() == wanted for key, _ in raw_headers(message))


def all_headers(message: Message, name: str) -> list[str]:
    """Every value of a header, decoded, each on one line. Read raw, so that a malformed value
    never raises (policy.default parses a header when it is asked for, and may refuse it)."""
    wanted = name.lower()
    return [decode_words(str(v)) for key, v in raw_headers(message) if key.lower() == wanted]


def raw_headers(message: Message) -> Iterator[tuple[str, object]]:
    return itertools.islice(message.raw_items(), MAX_HEADERS)


def header(message: Message, name: str) -> str:
    return first(all_headers(message, name))


def decode_words(value: str) -> str:
    value = decode_bytes(value)
    # An encoded word that does not decode is kept as written.
    with contextlib.suppress(LookupError, UnicodeError, ValueError, errors.HeaderParseError):
        value = str(make_header(decode_header(value))) if "=?" in value else value
    return " ".join(value.split())


def decode_bytes(value: str) -> str:
    """Raw 8-bit bytes in a header (the parser keeps them as surrogates), read as UTF-8 or
    Windows-1252."""
    if not any("\udc80" <= c <= "\udcff" for c in value):
        return value
    return bytes_text(value.encode("utf-8", "surrogateescape"))


def bytes_text(data: bytes) -> str:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as error:
        if error.start >= len(data) - 3:  # a character cut off by the end: still UTF-8
            return data.decode("utf-8", "replace")
        return data.decode("cp1252", "replace")


def part_text(part: Message, problems: list[str]) -> str:
    """A text part's content as text: transfer encoding undone, its charset decoded."""
    try:
        payload = part.get_payload(decode=True)
    except Exception:  # a payload the decoder cannot take
        problems.append("A part of it could not be decoded.")
        return ""
    if not isinstance(payload, bytes):
        return ""
    if any(
        isinstance(d, errors.InvalidBase64CharactersDefect | errors.InvalidBase64PaddingDefect)
        for d in part.defects
    ):
        problems.append("A part's base64 encoding is damaged, so some of its text may be lost.")
    payload = payload[: MAX_TEXT * 4]
    try:
        charset = (part.get_content_charset() or "").strip().lower()
    except Exception:  # a charset parameter no parser can read
        charset = ""
    if charset in ("", "us-ascii", "ascii", "utf-8", "utf8"):
        text = bytes_text(payload)  # 8-bit text is often sent as "us-ascii", or unlabelled
    else:
        if charset in ("iso-8859-1", "latin-1", "latin1"):
            charset = "cp1252"  # as mail programs read it: Windows' curly quotes and pound signs
        try:
            text = payload.decode(charset, "replace")
        except (LookupError, UnicodeError, ValueError, TypeError):  # unknown, or not for text
            problems.append(f"A part is in an unknown character set ({charset}); read as UTF-8.")
            text = bytes_text(payload)
        else:
            if "\ufffd" in text:  # labelled wrongly: often UTF-8 under an older label
                with contextlib.suppress(UnicodeDecodeError):
                    text = payload.decode("utf-8")
    return text.replace("\r\n", "\n").replace("\r", "\n")


def as_text(message: Message) -> str:
    try:
        return message.as_string(policy=compat32)
    except Exception:  # a part that cannot be written out again
        return ""


def undo_transfer_encoding(text: str, encoding: str) -> bytes:
    data = text.encode("ascii", "replace")
    if encoding == "quoted-printable":
        return quopri.decodestring(data)
    try:
        return base64.b64decode(b"".join(data.split()), validate=False)
    except (binascii.Error, ValueError):
        return data


def iso_date(value: str) -> str:
    if not value:
        return ""
    try:
        when = parsedate_to_datetime(value)
        if when.tzinfo is None:  # "-0000": UTC, of unknown local time (RFC 5322)
            when = when.replace(tzinfo=dt.UTC)
        return when.astimezone(dt.UTC).isoformat(timespec="seconds")
    except (TypeError, ValueError, IndexError, OverflowError):
        return ""


def first_pair(value: str) -> tuple[str, str]:
    try:
        pairs = getaddresses([value])
    except Exception:  # a header getaddresses cannot take apart
        return "", ""
    return pairs[0] if pairs else ("", "")


def addresses(values: list[str]) -> list[str]:
    try:
        pairs = getaddresses(values)
    except Exception:  # a header getaddresses cannot take apart
        return []
    return [address.lower() for _, address in pairs if "@" in address]


def message_ids(value: str) -> list[str]:
    """ "<x@y>" each, from a header that may hold several, comments, or ids without brackets."""
    found = [f"<{i}>" for i in ID.findall(value)]
    if not found:
        bare = (token.strip(",;") for token in value.split())
        found = [f"<{t}>" for t in bare if "@" in t and not set(t) & set('<>()"')]
    return found


def reply_ids(message: Message) -> list[str]:
    """In-Reply-To, then References nearest first, then Exchange's note of the parent."""
    references = message_ids(" ".join(all_headers(message, "References")))
    return [
        *message_ids(" ".join(all_headers(message, "In-Reply-To"))),
        *reversed(references),
        *message_ids(header(message, "X-MS-Exchange-Parent-Message-Id")),
    ]


def bare(value: str) -> str:
    """A header's token without comments or parameters: "auto-replied (vacation)" ->
    "auto-replied"."""
    return re.split(r"[;(\s]", value.strip().lower(), maxsplit=1)[0] if value.strip() else ""


def one_line(text: str, limit: int) -> str:
    return shorten(" ".join(text.split()), limit)


def shorten(text: str, limit: int) -> str:
    if len(text) <= limit:
        return text
    cut = text[: limit - 1]
    space = cut.rfind(" ")
    return (cut[:space] if space > limit // 2 else cut).rstrip() + "…"


def first(values: list[str]) -> str:
    return values[0] if values else ""


def unique(values: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(v for v in values if v))
