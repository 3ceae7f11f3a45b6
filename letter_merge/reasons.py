"""Why a letter did not arrive, in words office staff use, and what they do about it: each
failure's status code and the server's words sorted into the reasons a well-known bounce parser
(sisimai) tells apart, folded into the few that call for a different next step."""

from __future__ import annotations

import re
from dataclasses import dataclass


@dataclass(frozen=True)
class Reason:
    """One reason a message did not arrive, and the next step for it."""

    name: str  # short, for status and the ledger: "address unknown"
    next_step: str  # what staff do, in words (naming no command: both front ends show it)
    # The address itself is sound: the letter may go to it again (later, or once the cause is
    # fixed). False where only another address can help.
    address_works: bool = True


ADDRESS_UNKNOWN = Reason(
    "address unknown",
    "Correct the address in Contacts (ask the council for the right one), then send the letter "
    "again to it.",
    address_works=False,
)
HOST_UNKNOWN = Reason(
    "domain not found",
    "Check the part after @ for a typing mistake, correct the address in Contacts, then send the "
    "letter again to it.",
    address_works=False,
)
MAILBOX_DISABLED = Reason(
    "mailbox closed",
    "Ask the council for a current address, correct it in Contacts, then send the letter again "
    "to it.",
    address_works=False,
)
MAILBOX_FULL = Reason(
    "mailbox full",
    "Send the letter again later; if it bounces again, ask the council for another address.",
)
TOO_BIG = Reason(
    "message too big",
    "Make the letter's PDF smaller (pictures), or ask the council's IT to accept larger "
    "messages; then send again.",
)
SENDER_NOT_TRUSTED = Reason(
    "sender not authenticated",
    "Ask your own IT to check the sending domain's SPF, DKIM and DMARC records; then send again.",
)
REFUSED = Reason(
    "refused as spam or by policy",
    "Ask the council's IT to allow the sender's address; then send again.",
)
EXPIRED = Reason(
    "expired after retries",
    "Send the letter again later; if it fails again, ask the council's IT.",
)
SERVER_TROUBLE = Reason(
    "server or network trouble",
    "Send the letter again later.",
)
STILL_TRYING = Reason(
    "delayed: still being tried",
    "Nothing yet: the servers keep trying, and a later report says whether it arrived.",
)
COMPLAINED = Reason(
    "marked as junk by the recipient",
    "Do not send to this address again before asking the council whether the letter is wanted.",
)
CHALLENGED = Reason(
    "asks the sender to confirm",
    "A filter holds the letter until the sender confirms it: open the link in its message from "
    "the sending mailbox (or ask the council to let the sender's address through); nothing need "
    "be sent again.",
)
OTHER = Reason(
    "other",
    "Read the server's words under the report; if unclear, ask the council's IT.",
)

REASONS = (
    ADDRESS_UNKNOWN,
    HOST_UNKNOWN,
    MAILBOX_DISABLED,
    MAILBOX_FULL,
    TOO_BIG,
    SENDER_NOT_TRUSTED,
    REFUSED,
    EXPIRED,
    SERVER_TROUBLE,
    STILL_TRYING,
    COMPLAINED,
    CHALLENGED,
    OTHER,
)
BY_NAME = {reason.name: reason for reason in REASONS}


def _words(*phrases: str) -> re.Pattern[str]:
    return re.compile("|".join(p.replace(" ", r"\s+") for p in phrases), re.IGNORECASE)


# The server's words, most telling first: a 5.7.1 that says "user unknown" is an unknown address.
_BY_WORDS: tuple[tuple[re.Pattern[str], Reason], ...] = (
    (
        _words(
            "retry time(?:out)? (?:not reached|exceeded)",
            "message expired",
            "expired after",
            "have been failing for a long time",
            "could not be delivered (?:within|for)",
            "(?:cannot|could not) send message for \\d+",
            "for (?:past )?\\d+ (?:days|hours)",
            "did not accept our requests to connect",
            "too long in (?:the )?queue",
        ),
        EXPIRED,
    ),
    (
        _words(
            "mailbox (?:is )?full",
            "over ?quota",
            "quota (?:exceeded|full)",
            "exceed(?:ed|s)? (?:the )?(?:storage|quota|mailbox)",
            "mailbox size limit",
            "insufficient (?:disk )?space",
            "out of storage",
            "full mailbox",
            "mailbox has exceeded",
        ),
        MAILBOX_FULL,
    ),
    (
        _words(
            "message (?:is )?too (?:big|large)",
            "message size exceeds",
            "size (?:limit )?exceed",
            "exceeds (?:the )?(?:maximum )?(?:message )?size",
            "message length exceeds",
            "too much mail data",
        ),
        TOO_BIG,
    ),
    (
        _words(
            "dmarc",
            "spf",
            "dkim",
            "unauthenticated",
            "not authenticated",
            "authentication (?:failed|required)",
            "reverse dns",
            "ptr record",
            "no ptr",
            "rdns",
        ),
        SENDER_NOT_TRUSTED,
    ),
    (
        _words(
            "disabled",
            "deactivated",
            "inactive",
            "suspended",
            "account (?:is )?(?:closed|locked|expired)",
            "no longer (?:active|available|in use)",
        ),
        MAILBOX_DISABLED,
    ),
    (
        _words(
            "user ?unknown",
            "unknown (?:user|recipient|address|mailbox|local)",
            "no such (?:user|recipient|mailbox|address|person|account)",
            "(?:user|recipient|mailbox|address|account)(?: \\S+)? (?:does not|doesn't) exist",
            "does not exist",
            "doesn't exist",
            "not exist",
            "invalid (?:recipient|address|mailbox|user)",
            "recipient not found",
            "user not found",
            "address not found",
            "addressee unknown",
            "not a valid (?:user|mailbox|recipient)",
            "no mailbox",
            "mailbox not found",
            "resolver\\.adr\\.recipientnotfound",
            "recipientnotfound",
            "unrouteable address",
            "not listed in",
            "bad destination mailbox",
            "unknown or illegal alias",
            "user (?:is )?not (?:here|found|local)",
            "no longer (?:exists|registered)",
            "has moved",
            "unknown recipient",
            "mailbox unavailable",
        ),
        ADDRESS_UNKNOWN,
    ),
    (
        _words(
            "mailer error",
            "internal (?:system |server )?error",
            "not accepting network messages",
            "not found, try again",
            "unexpected name server reply",
            "connection (?:refused|reset|timed out|lost|closed)",
            "timed out",
            "too many (?:connections|recipients|messages|concurrent)",
            "rate limit",
            "insufficient (?:system )?resources",
            "system (?:error|full)",
            "server (?:busy|error)",
            "lost connection",
            "loop",
        ),
        SERVER_TROUBLE,
    ),
    (
        _words(
            "host (?:or domain name )?not found",
            "domain (?:name )?not found",
            "unknown (?:host|domain)",
            "no mx",
            "name or service not known",
            "host unknown",
            "nxdomain",
            "unrouteable mail domain",
            "domain (?:does not|doesn't) exist",
            "no route to host",
            "nodename nor servname",
            "hostname lookup failed",
            "domain is not reachable",
        ),
        HOST_UNKNOWN,
    ),
    (
        _words(
            "spam",
            "junk",
            "blacklist",
            "blocklist",
            "block ?listed",
            "black ?listed",
            "blocked",
            "reputation",
            "policy",
            "not allowed",
            "relay(?:ing)? (?:denied|not permitted|access denied)",
            "access denied",
            "refused(?! to talk)",
            "rejected",
            "virus",
            "content",
            "banned",
            "prohibited",
            "filtered",
            "not accepted",
            "after mail from",
        ),
        REFUSED,
    ),
    (_words("try again", "temporar(?:y|ily)", "later"), SERVER_TROUBLE),
)
# Enhanced status codes (RFC 3463) where the words said nothing telling.
_BY_STATUS = {
    "5.1.1": ADDRESS_UNKNOWN,
    "5.1.0": ADDRESS_UNKNOWN,
    "5.1.3": ADDRESS_UNKNOWN,
    "5.1.6": ADDRESS_UNKNOWN,
    "5.1.10": ADDRESS_UNKNOWN,
    "5.1.2": HOST_UNKNOWN,
    "5.4.4": HOST_UNKNOWN,
    "5.2.1": MAILBOX_DISABLED,
    "5.2.2": MAILBOX_FULL,
    "4.2.2": MAILBOX_FULL,
    "5.2.3": TOO_BIG,
    "5.3.4": TOO_BIG,
    "5.7.23": SENDER_NOT_TRUSTED,
    "5.7.25": SENDER_NOT_TRUSTED,
    "5.7.26": SENDER_NOT_TRUSTED,
    "5.7.27": SENDER_NOT_TRUSTED,
    "4.4.7": EXPIRED,
    "5.4.7": EXPIRED,
}


def classify(kind: str, status: str, diagnostic: str) -> Reason:
    """The reason for one recipient's failure (kind "bounced"), delay ("delayed") or complaint
    ("complaint"), or a challenge-response ("challenge"), from its status code and the server's
    words."""
    if kind == "complaint":
        return COMPLAINED
    if kind == "challenge":
        return CHALLENGED
    if kind == "delayed":
        return STILL_TRYING
    said = next((reason for pattern, reason in _BY_WORDS if pattern.search(diagnostic)), OTHER)
    if kind == "bounced" and status.startswith("4.") and said in (SERVER_TROUBLE, OTHER):
        return EXPIRED  # a temporary failure, given up on: retried until the message expired
    if said is not OTHER:
        return said
    exact = _BY_STATUS.get(status)
    if exact is not None:
        return exact
    if status.startswith(("5.7.", "4.7.")):
        return REFUSED
    if status.startswith(("5.4.", "4.4.", "5.3.", "4.3.", "4.")):
        return SERVER_TROUBLE
    if status.startswith("5.1."):
        return ADDRESS_UNKNOWN
    return OTHER
