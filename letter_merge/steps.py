"""The next steps a letter can need, as codes, and what stops a step: the records layer decides
which applies (records/standing.py), an error may name one (errors.py); each front end words it
its own way (the command line as a command, the desk as its own step), so no decision is made
twice and no desk message names a command."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum


class Next(StrEnum):
    """One next step for a letter."""

    BUILD = "build"  # build it (again), then proof and approve it
    BUILD_PDF = "build-pdf"  # built without its PDF: build again with one
    FIX_BUILD = "fix-build"  # the build could not make it: fix what it said, build again
    PROOF = "proof"  # proof it and look through it
    FIX_OR_APPROVE_DESPITE = "fix-or-approve-despite"  # the proof failed
    APPROVE = "approve"
    QUEUE = "queue"
    SEND = "send"
    SETTLE = "settle"  # a send was cut off: did it arrive?
    RETRY = "retry"  # the server refused it: fix the cause, send again
    CORRECT = "correct"  # sent, and the letter would now differ: build, proof, approve again
    QUEUE_CORRECTION = "queue-correction"  # its changed letter is approved: queue it as one
    DECIDE_AVERAGE = "decide-average"  # an average it states moved under letters sent
    DECIDE_WORDING = "decide-wording"  # its template reworded since it was sent: keep or correct
    RESEND = "resend"  # bounced: correct the address in Contacts, then re-send
    RESEND_NEW_ADDRESS = "resend-new-address"  # the workbook has a new address: send it there
    READ_MAILBOX = "read-mailbox"  # sent: read the mailbox for what came back
    FIX_INPUTS = "fix-inputs"  # the workbook or template has problems
    SIGN_IN = "sign-in"  # sending (or reading the mailbox) needs a sign-in
    NOTHING = "nothing"


# Next steps a person can take at once, from the step they are at (a word more, as a
# correction or a re-send): lists of blocked letters show these first.
AT_ONCE = frozenset({Next.QUEUE_CORRECTION, Next.RESEND_NEW_ADDRESS, Next.RESEND, Next.SETTLE})


def actionable_first(items: Iterable[tuple[str, Blocker]]) -> list[tuple[str, Blocker]]:
    """Letters a step could not go ahead for: those one more word sends first, then those that
    wait for something else, each group in its own order."""
    return sorted(items, key=lambda item: item[1].next not in AT_ONCE)


@dataclass(frozen=True)
class Blocker:
    """Why a step cannot go ahead for a letter (in words naming no command), and what to do."""

    why: str
    next: Next

    def __str__(self) -> str:
        return self.why
