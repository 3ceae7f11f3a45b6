"""Delivery reports: bounces, delay warnings and delivery notices, read from their RFC 3464 fields
first and from the words servers write for people second; each recipient's address, status, the
server's words, and the original message's Message-IDs."""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterable
from email.message import Message
from email.parser import HeaderParser
from email.policy import compat32

from letter_merge.mail.inbox.reports import mime
from letter_merge.mail.inbox.reports.kinds import (
    BOUNCED,
    DELAYED,
    DELIVERED,
    UNKNOWN,
    Finding,
    Report,
    make_report,
)
from letter_merge.reasons import OTHER, classify

MAX_DIAGNOSTIC = 300
MAX_FINDINGS = 100

STATUS_TYPES = ("message/delivery-status", "message/global-delivery-status")
RETURNED_MESSAGE_TYPES = ("message/rfc822", "message/global")
_RETURNED_HEADER_TYPES = (
    "text/rfc822-headers",
    "message/global-headers",
    "message/rfc822-headers",  # not a registered type, but written
)
_ACTIONS = {
    "failed": BOUNCED,
    "delayed": DELAYED,
    "delivered": DELIVERED,
    "relayed": DELIVERED,
    "expanded": DELIVERED,
}
_WORST = (BOUNCED, DELAYED, DELIVERED)

_LOCAL = r"[^\s<>()\[\]\"',;:@]+"
_DOMAIN = r"[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+"
_ADDRESS = _LOCAL + "@" + _DOMAIN
# "5.1.1", not inside an IP address or a version number.
_BARE_STATUS = re.compile(r"(?<![\w.])([245]\.\d{1,3}\.\d{1,3})(?!\w|\.\d)")
# "550 5.1.1", "550-5.1.1", "#550 5.1.1", "#5.1.1": a status the server gave with its reply.
_REPLY_STATUS = re.compile(r"(?:(?<!\d)[245]\d\d[ -]|#)([245]\.\d{1,3}\.\d{1,3})(?!\w|\.\d)")
_REPLY_CODE = re.compile(r"(?<![\w.])[245]\d\d(?=[ -])")
_FIELD = re.compile(r"[A-Za-z][A-Za-z0-9-]*")

# Where a report stops speaking and quotes the original: Exim, Exchange, Gmail, qmail, sendmail.
_QUOTE_START = re.compile(
    r"^[ \t]*(?:-+ *This is a copy of the message.*"
    r"|Original message headers:?"
    r"|-* *Original message *-*:?"
    r"|-+ *Below this line is a copy of the message\.?"
    r"|-+ *(?:Unsent|Original) message follows *-*"
    r"|-* *This is a copy of your message.*"
    r"|Message headers follow\.?"
    r"|-+ *(?:The )?(?:original|returned) (?:message|mail|headers?).*-+"
    r"|-+ *Original message header.*"
    r"|Below (?:are|is) the (?:original|header).*"
    r"|-+ *(?:Message|Headers?) of the original.*"
    r"|-* *START OF RETURNED MESSAGE *-*"
    r"|Original message (?:follows|as received).*"
    r"|Your message reads.*"
    r"|Here is a copy of (?:the first part of )?the message.*)[ \t]*$",
    re.IGNORECASE | re.MULTILINE,
)


def _phrases(*phrases: str) -> re.Pattern[str]:
    """Any of the phrases, case aside and with any run of whitespace (a line break included)
    between their words, as servers wrap their text."""
    return re.compile("|".join(p.replace(" ", r"\s+") for p in phrases), re.IGNORECASE)


_DELAY_WORDS = _phrases(
    "this is a warning only",
    "has not yet been delivered",
    "not (?:been )?delivered yet",
    "hasn't been delivered yet",
    "still being retried",
    "delivery (?:is |has been )?delayed",
    "delivery incomplete",
    "temporary problem delivering",
    "will (?:be )?retr(?:y|ied)",
    "will (?:continue|keep) (?:to be attempted|trying)",
    "message is delayed",
    "only a temporary failure",
    "(?:do not|don't) need to re-?send",
    "will be retried",
)
_FAILURE_WORDS = _phrases(
    "(?:could not|couldn't) be delivered",
    "wasn't delivered",
    "was not delivered",
    "failed permanently",
    "permanent (?:error|failure|fatal)",
    "delivery has failed",
    "cannot be reached",
    "did not reach",
    "undeliverable",
    "address(?:\\(es\\)|es)? failed",
    "returned to sender",
    "unrouteable address",
    "delivery failed",
    "(?:error|trouble|problem) delivering",
    "(?:unable|failed) to deliver",
    "(?:could not|couldn't|cannot|can't) deliver",
    "(?:could|can|will) not be delivered",
    "not delivered to",
    "delivery (?:to the following recipients? )?(?:has )?failed",
    "failure notice",
    "(?:rejected|refused) (?:your message|the message|recipient|by)",
    "returned mail",
    "non-?delivery",
    "delivery failure",
    "permanently (?:rejected|failed|undeliverable)",
    "(?:invalid|unknown) (?:user|recipient|address|mailbox)",
    "no such (?:user|recipient|mailbox|address)",
    "user unknown",
    "mailbox (?:is )?(?:full|unavailable)",
    "message (?:was )?(?:rejected|refused|bounced|blocked)",
    "(?:hat|konnte) nicht zugestellt",
    "unzustellbar",
    "non (?:remis|recapitato)",
)
# A subject that says what a report is, when its text does not (in Japanese, say).
_FAILURE_SUBJECT = _phrases(
    "undeliver",
    "undelivered",
    "returned mail",
    "failure",
    "failed",
    "delivery status notification \\(failure\\)",
    "not delivered",
    "non-?delivery",
    "error",
    "rejected",
    "bounce",
    "not (?:a )?member",
    "loop alert",
)
_DELAY_SUBJECT = _phrases("delay", "warning", "not yet delivered", "still trying")
# Lines that name one recipient: Postfix and qmail ("<x@y>: why"), Exim ("  x@y"), Exchange
# ("Name (x@y)", "x@y<mailto:x@y>", and Exchange 2003's "x@y on 01/07/2020 13:00").
_ANGLE_LINE = re.compile(
    rf"^(?:<({_ADDRESS})>|\"({_ADDRESS})\"|({_ADDRESS}))"
    rf"(?:\s*\(expanded from <({_ADDRESS})>\))?:\s*(.*)$"
)
# A label, then the address: "Unknown user: x@y" (IMail), "Recipient address: <x@y>".
_LABEL_LINE = re.compile(rf"^([A-Za-z][\w .'-]{{2,40}}):\s*<?({_ADDRESS})>?\.?$")
_ONLY_ADDRESS = re.compile(rf"(?!['|/]){_ADDRESS}")
_ANGLED = re.compile(rf"<({_ADDRESS})>")
_LONE_LINE = re.compile(rf"^<?({_ADDRESS})>?(?:\s*<mailto:[^>]*>)?$")
_NAMED_LINE = re.compile(rf"^[^()<>@\n]{{0,100}}\(({_ADDRESS})\)$")
_DATED_LINE = re.compile(rf"^({_ADDRESS}) on \S.*$")
# An address first, then why: a bullet ("* x@y"), sendmail's "554 <x@y>... why", Zoho's
# "x@y Invalid Address, ...", "x@y [User unknown]".
_LEADING_LINE = re.compile(
    rf"^(?:[*\u2022-]\s*|[45]\d\d[ -](?:[45]\.\d{{1,3}}\.\d{{1,3}}\s)?)?<?({_ADDRESS})>?"
    r"(?:\s*$|\s*\.\.\.\s*|\s+(?=[\[(])|\s+-+\s+|,?\s+(?=[A-Z]))(.*)$"
)
# Header names: "Message-ID: <x@y>" in a quoted original is no recipient.
_HEADER_LABELS = re.compile(
    r"^(?:message-id|from|to|cc|bcc|reply-to|return-path|sender|in-reply-to|references|"
    r"delivered-to|envelope-to|x-[\w-]+|resent-[\w-]+|list-[\w-]+|errors-to)$",
    re.IGNORECASE,
)
# Sentences that give the failed addresses after a colon: "returned permanent errors: x@y."
_ERRORS_FOR = re.compile(
    rf"(?:permanent errors?|failed recipients?|following recipients?[^:]{{0,40}}):\s*<?({_ADDRESS})",
    re.IGNORECASE,
)
# Sentences that name one: Gmail, Exchange Online.
_SENTENCE = re.compile(
    (
        r"(?:message to|delivered to:?|undeliverable to|delivering your (?:message|mail) to"
        r"|delivery to|deliver to|rejected recipient|recipient(?: address)?:?|rcpt to:?"
        r"|address(?:ee)?:|mailbox|original-recipient:|final-recipient:(?: rfc822;)?"
        r"|(?:originally )?addressed(?: to)?,?|message was addressed,|smtp=)"
    ).replace(" ", r"\s+")
    + rf"\s*[<'\"]?({_ADDRESS})[>'\"]?",
    re.IGNORECASE,
)
# Where the server's own words are labelled, not tied to an address line.
_LABELLED = re.compile(
    r"^\s*(?:reported error|diagnostic-code)\s*:\s*(\S.*)$", re.IGNORECASE | re.MULTILINE
)
_RETURNED_WORDS = re.compile(r"remote server (?:at .{0,120}? )?returned '(.+)'", re.IGNORECASE)
_LABEL_ABOVE = re.compile(
    r"^\s*(?:the response (?:from the remote server )?was|technical details of (?:permanent|"
    r"temporary) failure)\s*:\s*$",
    re.IGNORECASE,
)


def read_delivery_report(
    message: Message, leaves: list[Message], status_parts: list[Message], problems: list[str]
) -> Report:
    """A bounce, delay warning or delivery notice: RFC 3464 fields first, its words second."""
    per_message: dict[str, str] = {}
    blocks: list[dict[str, str]] = []
    for part in status_parts:
        for block in status_blocks(part, problems):
            if _names_recipient(block):
                blocks.append(block)
            else:
                for name, value in block.items():
                    per_message.setdefault(name, value)
    text = report_text(leaves, problems)
    said, quoted = split_quoted(text)
    exclude = set(mime.addresses([mime.header(message, "From"), mime.header(message, "To")]))
    listed = mime.addresses(mime.all_headers(message, "X-Failed-Recipients"))
    subject = subject_kind(mime.header(message, "Subject"))
    from_text = _text_findings(said, listed, exclude, text_kind(said) or subject)
    is_report = mime.content_type(message) == "multipart/report" or bool(status_parts)
    structure_lost = (
        mime.content_type(message).startswith("multipart/") and not message.is_multipart()
    )
    if blocks:
        findings = _with_text(
            [_finding(b) for b in blocks[:MAX_FINDINGS]], from_text, len(blocks) == 1
        )
    else:
        salvaged = [b for b in _parse_status_text(text) if _names_recipient(b)]
        findings = [_finding(b) for b in salvaged[:MAX_FINDINGS]] or from_text
        if status_parts:
            problems.append("Its delivery-status part names no recipient; " + _read_from(findings))
        elif structure_lost:
            problems.append("It is a delivery report; " + _read_from(findings))
        elif is_report:
            problems.append(
                "It says it is a delivery report but has no delivery-status part; "
                + _read_from(findings)
            )
    kind = _worst(f.kind for f in findings) or text_kind(said) or subject or UNKNOWN
    if kind == UNKNOWN and not problems:
        problems.append("It looks like a delivery report, but says nothing of what happened.")
    returned = returned_original(leaves, problems)
    quoted_headers = _quoted_headers(quoted)
    ids = []
    if returned is not None:
        ids += mime.message_ids(mime.header(returned, "Message-ID"))
    ids += mime.message_ids(per_message.get("x-original-message-id", ""))
    reply_ids = mime.reply_ids(message)
    ids += reply_ids
    if quoted_headers is not None:
        ids += mime.message_ids(mime.header(quoted_headers, "Message-ID"))
    elif quoted:
        ids += _quoted_message_ids(quoted)
    if structure_lost:
        ids += _salvaged_ids(text)  # the MIME structure is lost: the ids still stand in its text
    if len(ids) == len(reply_ids):
        # Nothing returned or quoted where servers usually put it: a Message-ID line anywhere in
        # its words ("The header of the original message is following", a headers attachment).
        ids += _quoted_message_ids(text)
        # Or as a part's own headers: a returned header block sent as a part without a
        # Content-Type of its own, whose first lines the parser takes for the part's headers.
        ids += [i for p in leaves if p is not message for i in _own_ids(p)][:1]
    if len(ids) == len(reply_ids):
        # Last, anywhere in its body as written: parts a damaged boundary hides are there too.
        ids += _quoted_message_ids(mime.as_text(message).partition("\n\n")[2])
    original = returned if returned is not None else quoted_headers
    recipients = () if original is None else recipients_of(original)
    if kind in (BOUNCED, DELAYED) and not any(f.recipient for f in findings):
        findings = _unnamed(findings, kind, said, recipients, exclude)
    if len(findings) == 1 and classify(kind, findings[0].status, findings[0].diagnostic) == OTHER:
        # The server's words say nothing telling: what the report says around them may.
        reason = classify(findings[0].kind, findings[0].status, said)
        findings = [dataclasses.replace(findings[0], reason=reason.name)]
    return make_report(
        message, kind, ids, problems, findings=tuple(findings), recipients=recipients
    )


def text_kind(text: str) -> str:
    if _DELAY_WORDS.search(text):
        return DELAYED
    if _FAILURE_WORDS.search(text):
        return BOUNCED
    return ""


def subject_kind(subject: str) -> str:
    """What a mail system's subject says it is: a delay warning or a failure."""
    if _DELAY_SUBJECT.search(subject):
        return DELAYED
    if _FAILURE_SUBJECT.search(subject):
        return BOUNCED
    return ""


def _worst(kinds: Iterable[str]) -> str:
    present = set(kinds)
    return next((kind for kind in _WORST if kind in present), "")


# RFC 3464 delivery-status fields.


def status_blocks(part: Message, problems: list[str]) -> list[dict[str, str]]:
    """The field blocks of a delivery-status (or disposition) part. Python parses these as a
    list of header blocks; a part that is encoded, or of a type it does not know, is text."""
    if part.is_multipart():
        subparts = mime.subparts(part)
        blocks = [fields for sub in subparts for fields in _fields(sub)]
        if any(_names_recipient(b) or "original-message-id" in b for b in blocks):
            return blocks
        text = "\n\n".join(mime.as_text(sub) for sub in subparts)
        encoding = mime.header(part, "Content-Transfer-Encoding").lower()
        if encoding in ("base64", "quoted-printable"):
            text = mime.bytes_text(mime.undo_transfer_encoding(text.strip(), encoding))
        return _parse_status_text(text)
    return _parse_status_text(mime.part_text(part, problems))


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
        if name not in _PER_RECIPIENT or not _names_recipient(current):
            return False
        blocks.append(current := {})
    current[name] = value
    return True


def _parse_status_text(text: str) -> list[dict[str, str]]:
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


def _names_recipient(block: dict[str, str]) -> bool:
    return "final-recipient" in block or "original-recipient" in block


def _finding(fields: dict[str, str]) -> Finding:
    original = _dsn_address(fields.get("original-recipient", ""))
    recipient = _dsn_address(fields.get("final-recipient", "")) or original
    diagnostic = clean_diagnostic(fields.get("diagnostic-code", ""))
    status = status_of(fields.get("status", ""), diagnostic)
    action = (fields.get("action", "").lower().split() or [""])[0]
    kind = _ACTIONS.get(action) or _kind_of_status(status) or BOUNCED
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
    found = _BARE_STATUS.search(field)
    said = _status_in(diagnostic)
    if found is None:
        return said
    status = found.group(1)
    if status.endswith(".0.0") and said[:1] == status[:1] and not said.endswith(".0.0"):
        return said
    return status


def _status_in(text: str) -> str:
    found = _REPLY_STATUS.search(text) or _BARE_STATUS.search(text)
    return found.group(1) if found else ""


def _kind_of_status(status: str) -> str:
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


def _with_text(findings: list[Finding], said: list[Finding], single: bool) -> list[Finding]:
    """Fill what the fields leave out (Exim gives no Diagnostic-Code for some failures) from
    what the report's text says of the same address, or of its only address."""
    by_address = {f.recipient: f for f in said}
    filled = []
    for finding in findings:
        words = by_address.get(finding.recipient) or (
            said[0] if single and len(said) == 1 else None
        )
        if words is not None and not finding.diagnostic:
            finding = Finding(
                recipient=finding.recipient or words.recipient,
                kind=finding.kind,
                status=status_of(finding.status, words.diagnostic),
                diagnostic=words.diagnostic,
            )
        filled.append(finding)
    return filled


def _read_from(findings: list[Finding]) -> str:
    if findings:
        return "what it says was read from its text."
    return "its text names no recipient."


# Reports in words: what servers write for people.


def _text_findings(said: str, listed: list[str], exclude: set[str], kind: str) -> list[Finding]:
    """Recipients named in a report's words, each with the lines that follow it; `kind` is what
    the report says happened to them all, when it says."""
    lines, indents = _lines(said)
    named: dict[str, list[str]] = {}
    expanded: dict[str, str] = {}  # Postfix's "x@y (expanded from <alias@y>)"

    def note(address: str, explanation: list[str], *, in_passing: bool = False) -> None:
        address = address.lower()
        if (in_passing and address in exclude) or len(named) >= MAX_FINDINGS:
            return
        if not is_address(address):
            return
        known = named.setdefault(address, [])
        if explanation and (not known or (not _has_code(known) and _has_code(explanation))):
            named[address] = explanation

    for address in listed:
        note(address, [])
    for number, line in enumerate(lines):
        angle = _ANGLE_LINE.match(line)
        if angle:
            address = angle.group(1) or angle.group(2) or angle.group(3)
            note(address, [angle.group(5), *_following(lines, indents, number)])
            if angle.group(4):
                expanded[address.lower()] = angle.group(4).lower()
            continue
        labelled_line = _LABEL_LINE.match(line)
        if labelled_line and _HEADER_LABELS.match(labelled_line.group(1).strip()):
            continue
        if labelled_line:
            explanation = [labelled_line.group(1), *_following(lines, indents, number)]
            note(labelled_line.group(2), explanation, in_passing=True)
            continue
        alone = _LONE_LINE.match(line) or _NAMED_LINE.match(line) or _DATED_LINE.match(line)
        if alone:
            note(alone.group(1), _following(lines, indents, number))
            continue
        leading = _LEADING_LINE.match(line)
        if leading:
            note(leading.group(1), [leading.group(2), *_following(lines, indents, number)])
            continue
        for errors_for in _ERRORS_FOR.finditer(line):
            note(errors_for.group(1), [line[errors_for.end() :]])
        for sentence in _SENTENCE.finditer(line):
            note(sentence.group(1), [], in_passing=True)
    labelled = _labelled_diagnostic(said, lines, indents)
    findings = []
    for address, explanation in named.items():
        diagnostic = _clean_text_diagnostic(" ".join(explanation))
        if labelled and (len(named) == 1 or not diagnostic) and not _has_code([diagnostic]):
            diagnostic = labelled
        status = _status_in(diagnostic)
        found_kind = kind if kind else (_kind_of_status(status) or BOUNCED)
        original = expanded.get(address, "")
        findings.append(Finding(address, found_kind, status, diagnostic, "", original))
    return findings


def _following(lines: list[str], indents: list[int], above: int) -> list[str]:
    """The lines that explain the line `above`: up to a blank line, or the next address no
    further indented (Exim lists failed addresses without a blank line between them; Postfix
    may wrap a line so that the next starts with the address, indented)."""
    taken = []
    for number in range(above + 1, min(above + 13, len(lines))):
        line = lines[number]
        if not line:
            break
        if indents[number] <= indents[above] and (
            _ANGLE_LINE.match(line) or _LONE_LINE.match(line)
        ):
            break
        taken.append(line)
    return taken


def _lines(text: str) -> tuple[list[str], list[int]]:
    """The lines, stripped, and how far each was indented."""
    raw_lines = text.split("\n")
    return [line.strip() for line in raw_lines], [len(x) - len(x.lstrip()) for x in raw_lines]


def _labelled_diagnostic(said: str, lines: list[str], indents: list[int]) -> str:
    """The server's words where a report labels them once, for all its recipients."""
    returned = _RETURNED_WORDS.search(said)
    if returned:
        return _clean_text_diagnostic(returned.group(1))
    labelled = _LABELLED.search(said)
    if labelled:
        return clean_diagnostic(labelled.group(1))
    for number, line in enumerate(lines):
        if _LABEL_ABOVE.match(line):
            start = number + 1
            while start < len(lines) and not lines[start]:
                start += 1
            return _clean_text_diagnostic(" ".join(_following(lines, indents, start - 1)))
    # Unlabelled: the first lines that carry an SMTP reply ("did not like our final DATA:
    # 550-5.7.26 ..."), up to a blank line.
    for number, line in enumerate(lines):
        if _REPLY_CODE.search(line) and _has_code([line]):
            return clean_diagnostic(" ".join([line, *_following(lines, indents, number)]))
    return ""


def _clean_text_diagnostic(text: str) -> str:
    """Exchange wraps the server's words in "#" and "##rfc822;x@y", sendmail in "(reason: )"."""
    text = re.sub(r"\s##.*$", "", " ".join(text.split())).lstrip("#").strip()
    reason = re.fullmatch(r"\(reason: (.*)\)", text, re.IGNORECASE)
    return mime.one_line(reason.group(1) if reason else text, MAX_DIAGNOSTIC)


def _has_code(lines: list[str]) -> bool:
    text = " ".join(lines)
    return bool(_REPLY_CODE.search(text) or _BARE_STATUS.search(text))


def report_text(leaves: list[Message], problems: list[str]) -> str:
    """The words a report says to people: its plain-text parts, else its HTML as text. A
    multipart part whose parts cannot be told apart is read as the text it is."""
    plain, html = [], []
    for part in leaves:
        kind = mime.content_type(part)
        if kind == "text/plain" or (kind.startswith("multipart/") and not part.is_multipart()):
            plain.append(mime.part_text(part, problems))
        elif kind == "text/html":
            html.append(mime.html_text(mime.part_text(part, problems), drop_quotes=False))
        if sum(len(t) for t in plain) > mime.MAX_TEXT:
            break
    return "\n\n".join(plain or html)[: mime.MAX_TEXT]


def split_quoted(text: str) -> tuple[str, str]:
    """A report's own words, and what it quotes of the original (after Exim's "This is a copy
    of the message", Exchange's "Original message headers" and the like)."""
    start = _QUOTE_START.search(text)
    if start is None:
        return text, ""
    return text[: start.start()], text[start.end() :]


def _quoted_headers(quoted: str) -> Message | None:
    """The original's headers where a report quotes them in its text."""
    body = quoted.lstrip("\n")
    while body.startswith("------"):  # Exim's "------ The body of the message is ... long"
        body = body.partition("\n")[2].lstrip("\n")
    if not body:
        return None
    headers = HeaderParser(policy=compat32).parsestr(body[: mime.MAX_TEXT], headersonly=True)
    names = {name.lower() for name in headers}
    return headers if names & {"message-id", "from", "to", "subject", "received"} else None


def _quoted_message_ids(quoted: str) -> list[str]:
    found = re.search(r"^[ \t>]*Message-ID:\s*(<[^<>\s]+>)", quoted[: mime.MAX_TEXT], re.I | re.M)
    return mime.message_ids(found.group(1)) if found else []


def _unnamed(
    findings: list[Finding], kind: str, said: str, recipients: tuple[str, ...], exclude: set[str]
) -> list[Finding]:
    """A report that names no recipient where servers name them: the one address its words
    give in <brackets>, else the returned original's only recipient."""
    angled = [a.lower() for a in _ANGLED.findall(said) if a.lower() not in exclude]
    candidates = mime.unique(angled) or list(recipients)
    if len(candidates) != 1 or not is_address(candidates[0]):
        return findings
    first = findings[0] if findings else None
    status = first.status if first else _status_in(said)
    diagnostic = first.diagnostic if first else _labelled_diagnostic(said, *_lines(said))
    return [Finding(candidates[0], first.kind if first else kind, status, diagnostic)]


def _own_ids(part: Message) -> list[str]:
    return mime.message_ids(mime.header(part, "Message-ID"))


def _salvaged_ids(text: str) -> list[str]:
    """Message-IDs in the body of a report whose parts cannot be told apart: only those after a
    returned message's Content-Type, which is where the original's headers start."""
    start = re.search(r"^Content-Type:\s*(?:message/rfc822|text/rfc822-headers)", text, re.I | re.M)
    return [] if start is None else _quoted_message_ids(text[start.end() :])


def returned_original(leaves: list[Message], problems: list[str]) -> Message | None:
    """The original as the report returns it: whole, or its headers only."""
    for part in leaves:
        kind = mime.content_type(part)
        if kind in RETURNED_MESSAGE_TYPES:
            subparts = mime.subparts(part)
            if subparts:
                inner = subparts[0]
                if any(True for _ in inner.raw_items()):
                    return inner
                # Encoded, which RFC 2046 forbids for message/rfc822 but servers do.
                encoding = mime.header(part, "Content-Transfer-Encoding").lower()
                text = mime.as_text(inner)
                if encoding in ("base64", "quoted-printable"):
                    text = mime.bytes_text(mime.undo_transfer_encoding(text.strip(), encoding))
            else:
                text = mime.part_text(part, problems)
            return HeaderParser(policy=compat32).parsestr(text.lstrip("\n")[: mime.MAX_TEXT], True)
        if kind in _RETURNED_HEADER_TYPES:
            text = mime.part_text(part, problems).lstrip("\n")
            return HeaderParser(policy=compat32).parsestr(text[: mime.MAX_TEXT], headersonly=True)
    return None


def recipients_of(original: Message) -> tuple[str, ...]:
    return tuple(
        mime.unique(
            mime.addresses(mime.all_headers(original, "To") + mime.all_headers(original, "Cc"))
        )
    )
