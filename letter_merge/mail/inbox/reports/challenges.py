"""Challenge-responses: a filter in front of the recipient's mailbox (Boxbe, Bluebottle, a
"confirm you are a person" service) holds our message until the sender confirms it, and says so
in words that ask the sender to add themselves to a list or to follow a link. Neither a failure
(nothing was refused for good) nor a delay (no server is retrying) nor the person's reply."""

from __future__ import annotations

import re
from email.message import Message

from letter_merge.mail.inbox.reports import mime
from letter_merge.mail.inbox.reports.bounces import returned_original
from letter_merge.mail.inbox.reports.dsn import STATUS_TYPES, is_address, status_blocks
from letter_merge.mail.inbox.reports.kinds import CHALLENGE, Finding, Report, make_report
from letter_merge.mail.inbox.reports.server_words import quoted_message_ids


def _phrases(*phrases: str) -> re.Pattern[str]:
    return re.compile("|".join(p.replace(" ", r"\s+") for p in phrases), re.IGNORECASE)


# What such a filter asks of the sender, in its own words.
_ASKS_TO_CONFIRM = _phrases(
    r"add yourself to (?:my|the|our|the recipient's) (?:[\w-]+ )?"
    r"(?:guest|allowed|approved|safe|white|sender) ?list",
    r"(?:listed|added) (?:on|to) (?:my|the recipient's|our) (?:[\w-]+ )?"
    r"(?:guest|allowed|approved|safe|white) ?list",
    r"have your address added to",
    r"(?:has been|was|is being) waitlisted",
    r"sender not pre-?approved",
    r"challenge[- ]response",
    r"(?:verify|confirm) (?:that )?(?:you are|you're) (?:a (?:real )?(?:person|human)|human|"
    r"not a (?:robot|spammer|computer))",
    r"(?:click|follow|visit|open) (?:on )?the (?:link|url) below to (?:be added|verify|confirm)",
)
# A permanent refusal's code: a server that refused our message for good (and, say, asks for
# its sending server to be confirmed) sent a failure, not a challenge.
_PERMANENT = re.compile(r"(?<![\w.])(?:5\d\d[ -]|status:\s*5\.\d)", re.IGNORECASE)


def read_challenge(
    message: Message, leaves: list[Message], said: str, problems: list[str]
) -> Report | None:
    """The challenge-response this message is, or None when it asks nothing of the sender."""
    asked = _ASKS_TO_CONFIRM.search(said)
    if asked is None:
        return None
    blocks = [
        block
        for part in leaves
        if mime.content_type(part) in STATUS_TYPES
        for block in status_blocks(part, problems)
    ]
    fields = " ".join(f"{name}: {value}" for block in blocks for name, value in block.items())
    if _PERMANENT.search(fields) or _PERMANENT.search(said):
        return None
    # The address the filter guards: the one our message went to.
    named = [
        block.get("final-recipient", "").partition(";")[2] or block.get("final-recipient", "")
        for block in blocks
    ]
    named += [mime.header(message, "Reply-To"), mime.header(message, "From")]
    guarded = next(
        (a for a in mime.addresses([n.strip() for n in named if n.strip()]) if is_address(a)), ""
    )
    words = mime.one_line(said[max(0, asked.start() - 80) : asked.end() + 80], 300)
    findings = (Finding(guarded, CHALLENGE, "", words),) if guarded else ()
    ids = []
    returned = returned_original(leaves, problems)
    if returned is not None:
        ids += mime.message_ids(mime.header(returned, "Message-ID"))
    ids += mime.reply_ids(message)
    ids += quoted_message_ids(said)
    return make_report(message, CHALLENGE, ids, problems, findings=findings)
