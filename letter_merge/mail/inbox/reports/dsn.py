"""A delivery report's standard fields (RFC 3464, message/delivery-status): for each recipient
its address, what happened (Action), its status code and the server's words (Diagnostic-Code),
read even when the part is encoded, mislabelled or written as plain text."""

from __future__ import annotations

import re
from email.message import Message

from letter_merge.mail.inbox.reports import mime
from letter_merge.mail.inbox.reports.kinds import (
    BOUNCED,
    DELAYED,
    DELIVERED,
    Finding,
)

MAX_DIAGNOSTIC = 300
MAX_FINDINGS = 100
STATUS_TYPES = ("message/delivery-status", "message/global-delivery-status")
_ACTIONS = {
    "failed": BOUNCED,
    "delayed": DELAYED,
    "delivered": DELIVERED,
    "relayed": DELIVERED,
    "expanded": DELIVERED,
}
_LOCAL = r"[^\s<>()\[\]\"',;:@]+"
_DOMAIN = r"[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+"
ADDRESS = _LOCAL + "@" + _DOMAIN
# "5.1.1", not inside an IP address or a version number.
BARE_STATUS = re.compile(r"(?<![\w.])([245]\.\d{1,3}\.\d{1,3})(?!\w|\.\d)")
# "550 5.1.1", "550-5.1.1", "#550 5.1.1", "#5.1.1": a status the server gave with its reply.
_REPLY_STATUS = re.compile(r"(?:(?<!\d)[245]\d\d[ -]|#)([245]\.\d{1,3}\.\d{1,3})(?!\w|\.\d)")
_FIELD = re.compile(r"[A-Za-z][A-Za-z0-9-]*")
_ONLY_ADDRESS = re.compile(rf"(?!['|/]){ADDRESS}")


def status_blocks(part: Message, problems: list[str]) -> list[dict[str, str]]:
    """The field blocks of a delivery-status (or disposition) part. Python parses these as a
    list of header blocks; a part that is encoded, or of a type it does not know, is text."""
    if part.is_multipart():
        subparts = mime.subparts(part)
        blocks = [fields for sub in subparts for fields in _fields(sub)]
        if any(names_recipient(b) or "original-message-id" in b for b in blocks):
            return blocks
        text = "\n\n".join(mime.as_text(sub) for sub in subparts)
        encoding = mime.header(part, "Content-Transfer-Encoding").lower()
        if encoding in ("base64", "quoted-printable"):
            text = mime.bytes_text(mime.undo_transfer_encoding(text.strip(), encoding))
        return parse_status_text(text)
    return parse_status_text(mime.part_text(part, problems))


def _fields(block: Message) -> list[dict[str, str]]:
    blocks: list[dict[str, str]] = [{}]
    for name, value in mime.raw_headers(block):
        _add_field(blocks, name.strip().lower(), " ".join(mime.decode_bytes(str(value)).split()))
    return blocks


# A recipient's fields written again without the blank line between recipients (AOL): a new
# recipient's block starts there.
_PER_RECIPIENT = frozenset({"final-recipient", "original-recipient", "action", "status"})


def _add_field(blocks: list[dict[str, str]], name: str, value: str) -> bool:
    """Add one field to the last block, or start the next recipient's; False when a field of
    that name is in the block already and it is not one that starts a recipient."""
    current = blocks[-1]
    if name in current:
        if name not in _PER_RECIPIENT or not names_recipient(current):
            return False
        blocks.append(current := {})
    current[name] = value
    return True


def parse_status_text(text: str) -> list[dict[str, str]]:
    """Blocks of "Name: value" lines, separated by blank lines; folded lines joined."""
    blocks: list[dict[str, str]] = []
    current: dict[str, str] = {}
    last = ""
    for line in text[: mime.MAX_TEXT].split("\n"):
        if not line.strip():
            if current:
                blocks.append(current)
            current, last = {}, ""
        elif line[0] in " \t":
            if last:
                current[last] = f"{current[last]} {line.strip()}"
        else:
            name, colon, value = line.partition(":")
            name = name.strip()
            last = ""
            if colon and _FIELD.fullmatch(name):
                recipients = [current]
                if _add_field(recipients, name.lower(), value.strip()):
                    last = name.lower()
                    blocks += recipients[:-1]
                    current = recipients[-1]
    if current:
        blocks.append(current)
    return blocks


def names_recipient(block: dict[str, str]) -> bool:
    return "final-recipient" in block or "original-recipient" in block


def finding_of(fields: dict[str, str]) -> Finding:
    original = _dsn_address(fields.get("original-recipient", ""))
    recipient = _dsn_address(fields.get("final-recipient", "")) or original
    diagnostic = clean_diagnostic(fields.get("diagnostic-code", ""))
    status = status_of(fields.get("status", ""), diagnostic)
    action = (fields.get("action", "").lower().split() or [""])[0]
    kind = _ACTIONS.get(action) or kind_of_status(status) or BOUNCED
    return Finding(
        recipient=recipient,
        kind=kind,
        status=status,
        diagnostic=diagnostic,
        original_recipient=original if original != recipient else "",
    )


def _dsn_address(value: str) -> str:
    """The address in "rfc822; <x@y>"; a value without an address type is taken as it is."""
    kind, semicolon, address = value.partition(";")
    if not semicolon:
        address = kind
    address = address.strip().strip("<>").strip()
    return address.lower() if is_address(address) else ""


def is_address(value: str) -> bool:
    """Whether this is an address mail can go to: never "@host", a command line or a file."""
    return bool(_ONLY_ADDRESS.fullmatch(value))


def status_of(field: str, diagnostic: str) -> str:
    """The Status field's code; Exim writes 5.0.0 whatever the server said, so a generic x.0.0
    gives way to the server's own, more exact code of the same class."""
    found = BARE_STATUS.search(field)
    said = status_in(diagnostic)
    if found is None:
        return said
    status = found.group(1)
    if status.endswith(".0.0") and said[:1] == status[:1] and not said.endswith(".0.0"):
        return said
    return status


def status_in(text: str) -> str:
    found = _REPLY_STATUS.search(text) or BARE_STATUS.search(text)
    return found.group(1) if found else ""


def kind_of_status(status: str) -> str:
    return {"5": BOUNCED, "4": DELAYED, "2": DELIVERED}.get(status[:1], "")


def clean_diagnostic(value: str) -> str:
    """One line of the server's words: without the "smtp;" type, and a multi-line SMTP reply
    without its code repeated on every line."""
    label, semicolon, rest = value.partition(";")
    if semicolon and _FIELD.fullmatch(label.strip()):
        value = rest
    value = " ".join(value.split())
    first = re.match(r"([245]\d\d)[- ](?:([245]\.\d{1,3}\.\d{1,3}) )?", value)
    if first:
        again = r"\s" + re.escape(first.group(1)) + r"[- ]"
        if first.group(2):
            again += re.escape(first.group(2)) + r"\s"
        head = first.group(1) + " " + (f"{first.group(2)} " if first.group(2) else "")
        value = head + re.sub(again, " ", value[first.end() :])
    return mime.one_line(value, MAX_DIAGNOSTIC)
