"""A delivery report's words, as servers write them for people (Postfix, Exim, Exchange, Gmail,
qmail, sendmail...): what they say happened, to which recipients and why, where the report stops
speaking and quotes the original; read when the standard fields say nothing, or to fill them in."""

from __future__ import annotations

import re
from email.message import Message
from email.parser import HeaderParser
from email.policy import compat32

from letter_merge.mail.inbox.reports import mime
from letter_merge.mail.inbox.reports.dsn import (
    ADDRESS,
    BARE_STATUS,
    MAX_DIAGNOSTIC,
    MAX_FINDINGS,
    clean_diagnostic,
    is_address,
    kind_of_status,
    status_in,
)
from letter_merge.mail.inbox.reports.kinds import (
    BOUNCED,
    DELAYED,
    Finding,
)

_REPLY_CODE = re.compile(r"(?<![\w.])[245]\d\d(?=[ -])")
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
    r"|Here is a copy of (?:the first part of )?the message.*"
    r"|-* *(?:Unsent|Returned) (?:message|mail) (?:below|follows).*"
    r"|-+ *Returned Mail *-+"
    r"|The first \d+ lines of your original message follow.*"
    r"|-+ *The header and (?:top|first) .* follows? *-*)[ \t]*$",
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
    "delivery attempts will continue",
    "will continue to (?:try|attempt)",
    "(?:has been |was )?postponed",
    "(?:do not|don't) resend your (?:original )?message",
)
_FAILURE_WORDS = _phrases(
    "(?:could not|couldn't|cannot|can't) be delivered",
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
    "failed recipients?",
    "(?:is )?not a valid (?:user|recipient|address|mailbox)",
    "(?:delivery|message|mail|e-?mail)[\\s\\S]{0,80}?has failed",
    "n'a pas pu (?:être|etre) (?:délivré|delivre|remis)",
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
    "non remis",
    "mail delivery problem",
)
_DELAY_SUBJECT = _phrases("delay", "warning", "not yet delivered", "still trying")
# Lines that name one recipient: Postfix and qmail ("<x@y>: why"), Exim ("  x@y"), Exchange
# ("Name (x@y)", "x@y<mailto:x@y>", and Exchange 2003's "x@y on 01/07/2020 13:00").
_ANGLE_LINE = re.compile(
    rf"^(?:<({ADDRESS})>|\"({ADDRESS})\"|({ADDRESS}))"
    rf"(?:\s*\(expanded from <({ADDRESS})>\))?:\s*(.*)$"
)
# A label, then the address: "Unknown user: x@y" (IMail), "Recipient address: <x@y>".
_LABEL_LINE = re.compile(rf"^([A-Za-z][\w .'-]{{2,40}}):\s*<?({ADDRESS})>?\.?$")
_EXPANDED_FROM = re.compile(rf"^\(expanded from:?\s*<?({ADDRESS})>?\)$", re.IGNORECASE)
_ANGLED = re.compile(rf"<({ADDRESS})>")
_LONE_LINE = re.compile(
    rf"^(?:<|\"|\[SMTP:)?({ADDRESS})(?:>|\"|\])?(?:\s*<mailto:[^>]*>)?$", re.IGNORECASE
)
_NAMED_LINE = re.compile(rf"^[^()<>@\n]{{0,100}}\(({ADDRESS})\)$")
_DATED_LINE = re.compile(rf"^({ADDRESS}) on \S.*$")
# An address first, then why: a bullet ("* x@y"), sendmail's "554 <x@y>... why", Zoho's
# "x@y Invalid Address, ...", "x@y [User unknown]".
_LEADING_LINE = re.compile(
    rf"^(?:[*\u2022]\s*|-{{1,2}}\s*|[45]\d\d[ -](?:[45]\.\d{{1,3}}\.\d{{1,3}}\s)?)?[<\"]?({ADDRESS})[>\"]?"
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
    rf"(?:permanent errors?|failed recipients?|following recipients?[^:]{{0,40}}):\s*<?({ADDRESS})",
    re.IGNORECASE,
)
# Sentences that name one: Gmail, Exchange Online.
_SENTENCE = re.compile(
    (
        r"(?:message to|delivered to:?|undeliverable to|delivering your (?:message|mail) to"
        r"|delivery to|deliver to|rejected recipient|recipient(?: address)?:?|rcpt to:?"
        r"|address(?:ee)?:|mailbox|original-recipient:|final-recipient:(?: rfc822;)?"
        r"|(?:originally )?addressed(?: to)?,?|message was addressed,|smtp=|\[smtp:"
        r"|you sent (?:mail|a message|an e-?mail) to|failed recipients?:)"
    ).replace(" ", r"\s+")
    + rf"\s*[<'\"]?({ADDRESS})[>'\"]?",
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


def text_findings(said: str, listed: list[str], exclude: set[str], kind: str) -> list[Finding]:
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
            following = _following(lines, indents, number)
            note(alone.group(1), following)
            # sendmail's "x@y" then "(expanded from: alias@y)": the address our message gave.
            given = _EXPANDED_FROM.match(following[0]) if following else None
            if given:
                expanded[alone.group(1).lower()] = given.group(1).lower()
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
        status = status_in(diagnostic)
        found_kind = kind if kind else (kind_of_status(status) or BOUNCED)
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
    return bool(_REPLY_CODE.search(text) or BARE_STATUS.search(text))


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


def quoted_header_block(quoted: str) -> Message | None:
    """The original's headers where a report quotes them in its text."""
    body = quoted.lstrip("\n")
    while body.startswith("------"):  # Exim's "------ The body of the message is ... long"
        body = body.partition("\n")[2].lstrip("\n")
    if not body:
        return None
    headers = HeaderParser(policy=compat32).parsestr(body[: mime.MAX_TEXT], headersonly=True)
    names = {name.lower() for name in headers}
    return headers if names & {"message-id", "from", "to", "subject", "received"} else None


def quoted_message_ids(quoted: str) -> list[str]:
    found = re.search(r"^[ \t>]*Message-ID:\s*(<[^<>\s]+>)", quoted[: mime.MAX_TEXT], re.I | re.M)
    return mime.message_ids(found.group(1)) if found else []


def unnamed(
    findings: list[Finding], kind: str, said: str, recipients: tuple[str, ...], exclude: set[str]
) -> list[Finding]:
    """A report that names no recipient where servers name them: the one address its words
    give in <brackets>, else the returned original's only recipient."""
    angled = [a.lower() for a in _ANGLED.findall(said) if a.lower() not in exclude]
    candidates = mime.unique(angled) or list(recipients)
    if len(candidates) != 1 or not is_address(candidates[0]):
        return findings
    first = findings[0] if findings else None
    status = first.status if first else status_in(said)
    diagnostic = first.diagnostic if first else _labelled_diagnostic(said, *_lines(said))
    return [Finding(candidates[0], first.kind if first else kind, status, diagnostic)]


def salvaged_ids(text: str) -> list[str]:
    """Message-IDs in the body of a report whose parts cannot be told apart: only those after a
    returned message's Content-Type, which is where the original's headers start."""
    start = re.search(r"^Content-Type:\s*(?:message/rfc822|text/rfc822-headers)", text, re.I | re.M)
    return [] if start is None else quoted_message_ids(text[start.end() :])


# A list of the recipients that failed, under a sentence that introduces it ("... could not be
# delivered to the following recipients:", "Message not delivered to the following:").
_LIST_INTRO = re.compile(
    r"(?:following (?:recipients?|addresses|address\(es\)|users?)[^\n]{0,80}|"
    r"not delivered to the following)[^\n]{0,80}:[ \t]*$",
    re.IGNORECASE | re.MULTILINE,
)
_BARE_NAME = re.compile(r"^[ \t]*([A-Za-z0-9][\w.+-]{0,63})(?:[ \t]{2,}(\S.*))?$")


def bare_names(said: str, text: str, domain: str, kind: str) -> list[Finding]:
    """Recipients a report lists by their local part alone (AOL's screen names, a directory's
    "thomas.dtankengine  No matches"): each made whole by an address with that local part the
    report carries anywhere (the original's "for <x@y>"), else by the reporting server's domain
    `domain` ('' when there is none to trust)."""
    found = []
    for intro in _LIST_INTRO.finditer(said):
        for line in said[intro.end() :].lstrip("\n").split("\n"):
            name = _BARE_NAME.match(line)
            if name is None or not line.strip():
                break
            local = name.group(1)
            whole = re.search(rf"(?<![\w.+-]){re.escape(local)}@{_DOMAIN_TEXT}", text, re.I)
            address = whole.group(0) if whole else (f"{local}@{domain}" if domain else "")
            if is_address(address):
                words = mime.one_line(name.group(2) or "", MAX_DIAGNOSTIC)
                found.append(Finding(address.lower(), kind, status_in(words), words))
        if found:
            break
    return found[:MAX_FINDINGS]


_DOMAIN_TEXT = r"[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+"
# Where a report names the sender of the message it returns: ours, never a failed recipient.
_SENT_BY = re.compile(rf"(?:message sent by|sender:)\s*<?({ADDRESS})>?", re.IGNORECASE)


def senders_named(said: str) -> list[str]:
    return [a.lower() for a in _SENT_BY.findall(said)]
