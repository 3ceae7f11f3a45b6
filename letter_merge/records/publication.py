"""Publication day as the records say it: for each council, the letter it last received (the PDF
attached to its last message sent, read back from that message's own .eml and checked against
the ledger's SHA-256 of it) and the figures that letter states; which councils cannot be
published, why, and what to do; and when each council's letter was published."""

from __future__ import annotations

import email.policy
import hashlib
from dataclasses import dataclass
from email import message_from_bytes
from email.message import EmailMessage

from letter_merge.errors import LetterMergeError
from letter_merge.records.join import Records
from letter_merge.records.ledger import SENT, Message, open_ledger
from letter_merge.records.standing import Standing
from letter_merge.steps import Blocker, Next

PUBLISHED = "published"  # the event: the letter of this message was put in the publish folder


@dataclass(frozen=True)
class Received:
    """One council's letter as it last received it, and what that letter states."""

    authority: str
    authority_type: str
    gss_code: str
    message: Message  # the last message sent to it: the first, a correction, or a re-send
    pdf: bytes  # its attachment, byte for byte
    figures: dict[str, int | None]  # the figures the letter states, as recorded when queued

    @property
    def sent_on(self) -> str:
        """The day it was sent, '2020-07-22'."""
        return self.message.sent_at[:10]

    @property
    def corrected(self) -> bool:
        return bool(self.message.correction)


@dataclass(frozen=True)
class Publication:
    received: tuple[Received, ...]  # the councils whose letter can be published, in order
    left_out: tuple[tuple[str, Blocker], ...]  # the others: why, and what to do


def publication(records: Records) -> Publication:
    """Every council's letter as it last received it, or why it cannot be published: never sent,
    or its last letter bounced, went to an old address, or would now differ and is not yet
    corrected (any state but sent). A copy whose bytes are not the ones the ledger recorded as
    sent is an error naming the council."""
    received, left_out = [], []
    for standing in records.standings():
        blocker = _blocker(standing)
        last = standing.sent_last
        if blocker is not None or last is None:
            left_out.append((standing.authority, blocker or Blocker("never sent", Next.SEND)))
            continue
        pdf = _attachment(records, standing.authority, last)
        if isinstance(pdf, Blocker):
            left_out.append((standing.authority, pdf))
            continue
        figures = _figures(records, last)
        if figures is None:
            left_out.append(
                (
                    standing.authority,
                    Blocker(
                        "sent before letter-merge kept what a letter states, and its letter "
                        "has been built again since, so its figures are not known",
                        Next.NOTHING,
                    ),
                )
            )
            continue
        letter = records.letters.get(standing.authority)
        built = standing.record
        gss = (
            letter.council.gss_code
            if letter
            else str((built.fields if built else {}).get("gss_code", ""))
        )
        received.append(
            Received(standing.authority, standing.authority_type, gss or "", last, pdf, figures)
        )
    return Publication(tuple(received), tuple(left_out))


def _blocker(standing: Standing) -> Blocker | None:
    """Why this council's letter cannot be published now (None: it can)."""
    if standing.state == SENT:
        return None
    if not standing.sent:
        return Blocker(f"never sent ({standing.state})", standing.next_step)
    why = f"{standing.state}: {standing.why or standing.meaning}"
    return Blocker(
        f"the letter it last received is not the one to publish ({why})", standing.next_step
    )


def _attachment(records: Records, authority: str, message: Message) -> bytes | Blocker:
    """The PDF attached to `message`, from its .eml; a Blocker when the .eml is gone."""
    paths = records.settings.paths
    try:
        data = paths.absolute(message.eml_path).read_bytes()
    except OSError:
        return Blocker(
            f"the message sent, {message.eml_path}, is missing: restore the outbox folder from "
            "a backup",
            Next.NOTHING,
        )
    parsed = message_from_bytes(data, policy=email.policy.default)
    assert isinstance(parsed, EmailMessage)
    pdfs = [
        part.get_payload(decode=True)
        for part in parsed.iter_attachments()
        if part.get_content_type() == "application/pdf"
    ]
    found = [pdf for pdf in pdfs if isinstance(pdf, bytes)]
    if len(found) != 1 or hashlib.sha256(found[0]).hexdigest() != message.pdf_sha256:
        raise LetterMergeError(
            f"{authority}: the PDF attached to {message.eml_path} is not the letter the ledger "
            f"recorded as sent (SHA-256 {message.pdf_sha256[:12]}…); the outbox has been "
            "changed by hand. Restore it from a backup; nothing was published for it."
        )
    return found[0]


def _figures(records: Records, message: Message) -> dict[str, int | None] | None:
    """What the letter of `message` states, as recorded when it was queued (or, for a message
    queued before that was kept, as the build recorded that very PDF)."""
    if message.figures is not None:
        return dict(message.figures)
    built = records.built.get(message.authority)
    if built is not None and built.pdf is not None and built.pdf.sha256 == message.pdf_sha256:
        return dict(built.figures)
    return None


def published_dates(records: Records) -> dict[str, str]:
    """When the letter each council last received was put in the publish folder, by authority
    (councils whose letter last sent has not been published are left out)."""
    first: dict[str, str] = {}
    for event in records.events:
        if event.event == PUBLISHED:
            first.setdefault(event.message_id, event.at)
    dates = {}
    for standing in records.standings():
        last = standing.sent_last
        if last is not None and last.message_id in first:
            dates[standing.authority] = first[last.message_id]
    return dates


def record_published(records: Records, published: list[tuple[Received, str]]) -> int:
    """Record, once per message, that its letter was published (as the file named): an event in
    the council's history. Returns how many were new."""
    done = {e.message_id for e in records.events if e.event == PUBLISHED}
    new = [(item, name) for item, name in published if item.message.message_id not in done]
    if not new:
        return 0
    with open_ledger(records.settings.paths) as ledger:
        for item, name in new:
            ledger.record(
                item.authority, PUBLISHED, f"as {name}", message_id=item.message.message_id
            )
    return len(new)
