"""Where each letter stands, and why: the one answer every command and the desk give.

The manifest (what was built, from what), the proof's results, the ledger (approvals, messages,
events), the decisions about averages and the inputs as they are now are read once, here, and
joined per letter into a `Standing`: built from the current inputs or out of date (and exactly
why), its PDF intact, proofed (against which PDF, with what result), approved (by whom, for which
PDF, still holding), queued, sent, failed, in doubt; its corrections. A state has one name, used
by the commands, `status --csv` and the desk alike.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Iterable
from dataclasses import dataclass

from letter_merge.decisions import KEEP, AverageDecision, WordingDecision
from letter_merge.figures import FIGURE_FIELDS, RATE_LABELS
from letter_merge.paths import OutputPaths
from letter_merge.pdf.reading import names, pdf_text
from letter_merge.reasons import BY_NAME, OTHER
from letter_merge.records.ledger import (
    FAILED,
    QUEUED,
    SENDING,
    SENT,
    Approval,
    Delivery,
    Message,
)
from letter_merge.records.manifest import (
    LetterRecord,
    approval_is_current,
)
from letter_merge.records.proofs import ProofResult
from letter_merge.records.sources import Change
from letter_merge.steps import Blocker, Next
from letter_merge.words import counted, percent, plural

ADDRESS_CHANGED = "sent to an old address"
AVERAGES = tuple(name for name in FIGURE_FIELDS if name.endswith("_average"))

# Every state, in the order a letter moves through them: what it means, and the next step (each
# front end words it: a command, or the desk's own button).
STATES: dict[str, tuple[str, Next]] = {
    "not built": ("in the workbook, never built", Next.BUILD),
    "out of date": ("built from inputs that have changed since", Next.BUILD),
    "build failed": ("the last build could not make it", Next.FIX_BUILD),
    "built (.docx only)": ("built without its PDF", Next.BUILD_PDF),
    "PDF changed": (
        "its PDF is missing, or not the one built (edited or replaced by hand)",
        Next.BUILD,
    ),
    "built": ("built, not proofed since", Next.PROOF),
    "proof failed": ("the proof found a problem in it", Next.FIX_OR_APPROVE_DESPITE),
    "proofed": ("passed the proof, not approved", Next.APPROVE),
    "approval void": ("approved, then rebuilt: the approval was for another PDF", Next.PROOF),
    "approved": ("approved, not queued", Next.QUEUE),
    QUEUED: ("waiting to be sent", Next.SEND),
    "in doubt": ("a send was cut off mid-message: it may have arrived", Next.SETTLE),
    FAILED: ("refused by the mail server (see its reply)", Next.RETRY),
    SENT: ("accepted by the mail server", Next.NOTHING),
    "bounced": (
        "sent, but a delivery report says it did not arrive (an address that no longer works)",
        Next.RESEND,
    ),
    ADDRESS_CHANGED: (
        "sent; the workbook now gives the council another address",
        Next.RESEND_NEW_ADDRESS,
    ),
    "changed since sent": ("sent; its letter would be different now", Next.CORRECT),
    "correction approved": ("sent; its changed letter is approved", Next.QUEUE_CORRECTION),
}


@dataclass(frozen=True)
class Standing:
    """One letter: where it stands, why, and what it rests on."""

    authority: str
    authority_type: str
    state: str
    why: str  # in words: "its row: Upheld 9 → 3"; "failed the proof (...)"
    record: LetterRecord | None
    changes: tuple[Change, ...] = ()  # why it is out of date (empty: current, or unknown)
    pdf_intact: bool = False
    proof: ProofResult | None = None  # the last proof of this letter, whatever PDF it saw
    approval: Approval | None = None  # its current approval, whatever PDF it was for
    messages: tuple[Message, ...] = ()  # not withdrawn, oldest first
    decision: AverageDecision | None = None  # the office chose to correct letters it reaches
    deliveries: tuple[Delivery, ...] = ()  # what came back to the mailbox about its messages
    # Its To and Cc as the workbook gives them now, case folded (None: the inputs are unknown).
    addresses: frozenset[str] | None = None
    # Undecided averages it states that moved under letters already sent: it waits for them.
    awaiting: tuple[MovedAverage, ...] = ()
    mailbox_read: bool = False  # the sending mailbox has been read since letters were sent
    inputs_known: bool = True  # the workbook and template could be read
    # Sent, then its template reworded: the paragraphs that read otherwise (as sent, as now),
    # and the office's decision about it that holds (None: not made yet).
    reworded: tuple[tuple[str, str], ...] = ()
    wording: WordingDecision | None = None
    gone: bool = False  # sent, then taken out of the workbook: its letter stays as sent

    @property
    def wording_changed(self) -> bool:
        """Sent, then built again from an edited template, and what it states differs in
        words only: its figures are those sent. The office decides whether it stays as sent."""
        last, record = self.sent_last, self.record
        return (
            last is not None
            and record is not None
            and not self.out_of_date
            and bool(last.template)
            and last.template != record.template
            and bool(last.statement and record.statement)
            and last.statement != record.statement
            and (last.figures is None or dict(last.figures) == dict(record.figures))
            and bool(self.reworded)
        )

    @property
    def awaiting_wording(self) -> bool:
        """Its wording changed since it was sent, and the office has not decided about it."""
        return self.wording_changed and self.wording is None

    @property
    def kept_as_sent(self) -> bool:
        """Its wording changed since it was sent, and the office decided it stays as sent."""
        return self.wording_changed and self.wording is not None and self.wording.choice == KEEP

    @property
    def pdf_path(self) -> str:
        """Its letter's PDF as built, else (a council taken out of the workbook since) the PDF
        approved for the letter last sent ("" when there is neither)."""
        if self.record is not None and self.record.pdf is not None:
            return self.record.pdf.path
        last, approval = self.sent_last, self.approval
        if last is not None and approval is not None and approval.pdf_sha256 == last.pdf_sha256:
            return approval.pdf_path
        return ""

    @property
    def email(self) -> str:
        """Where its letter goes: the address it was built for, else the one it last went to."""
        if self.record is not None:
            return self.record.recipient.email
        last = self.sent_last
        return last.recipients[0] if last is not None and last.recipients else ""

    @property
    def reworded_in_words(self) -> str:
        """The paragraphs that read otherwise since it was sent, in words."""
        return reworded_in_words(self.reworded)

    @property
    def currency_known(self) -> bool:
        """Whether the letter is current can be told: the inputs could be read."""
        return self.inputs_known

    @property
    def meaning(self) -> str:
        return STATES[self.state][0]

    @property
    def next_step(self) -> Next:
        """The one next step: the state's, unless the inputs cannot be read (fix them first:
        nothing can be said to be done), a decision about an average comes first, or what came
        back has not been read yet."""
        step = STATES[self.state][1]
        if not self.currency_known and self.record is not None:
            return Next.FIX_INPUTS
        if self.gone:
            return Next.NOTHING
        if self.awaiting_wording and step in (Next.CORRECT, Next.QUEUE_CORRECTION):
            return Next.DECIDE_WORDING
        if self.awaiting and step in (Next.BUILD, Next.CORRECT, Next.PROOF, Next.APPROVE):
            return Next.DECIDE_AVERAGE
        if step == Next.CORRECT and not self.out_of_date:  # built again already: on from there
            built = self._built_blocker()
            if built is not None:
                return Next.FIX_BUILD if self.record and self.record.error else built.next
            return Next.APPROVE if self.proof_passed else Next.PROOF
        if step == Next.NOTHING and self.sent and not self.mailbox_read:
            return Next.READ_MAILBOX
        return step

    @property
    def sent_last(self) -> Message | None:
        """Its last message that went."""
        sent = self.sent
        return sent[-1] if sent else None

    @property
    def went_to(self) -> tuple[str, ...]:
        """The addresses its letter last went to (none before it is sent)."""
        last = self.sent_last
        return last.recipients if last is not None else ()

    @property
    def went_to_before(self) -> tuple[str, ...]:
        """The addresses an earlier copy of its letter went to, when the last went elsewhere (a
        re-send to a corrected address, or a correction to a new one); none otherwise."""
        now = folded(self.went_to)
        for message in reversed(self.sent[:-1]):
            if folded(message.recipients) != now:
                return message.recipients
        return ()

    @property
    def unchanged_since_sent(self) -> bool:
        """It was sent, and the letter as built from the inputs now states what the letter
        sent stated: its words, figures and pictures, whatever the PDF's bytes."""
        last, record = self.sent_last, self.record
        if last is None or record is None or self.out_of_date:
            return False
        if self.kept_as_sent:
            return True
        if last.statement and record.statement:
            return last.statement == record.statement
        return record.pdf is not None and record.pdf.sha256 == last.pdf_sha256

    @property
    def sent_to_old_address(self) -> bool:
        """Its letter went, unchanged since, to addresses the workbook no longer gives, and no
        message has gone or waits to go to the new ones."""
        last = self.sent_last
        if last is None or self.addresses is None or not self.addressed_elsewhere(last):
            return False
        later = self.messages[self.messages.index(last) + 1 :]
        return not any(not self.addressed_elsewhere(m) for m in later if m.state != FAILED)

    @property
    def out_of_date(self) -> bool:
        return bool(self.changes)

    @property
    def what_changed(self) -> str:
        """Every change since the letter was built, in words, "; " between them."""
        return "; ".join(change.text for change in self.changes)

    @property
    def pdf_sha256(self) -> str:
        return self.record.pdf.sha256 if self.record and self.record.pdf else ""

    @property
    def proof_holds(self) -> bool:
        """The last proof looked at this very PDF."""
        return self.proof is not None and self.proofed(self.proof.pdf_sha256)

    def proofed(self, pdf_sha256: str) -> bool:
        """A proof of the PDF `pdf_sha256` (its result, or its card on the proof page) still
        holds for this letter: that is its PDF, on disk as built."""
        return self.pdf_intact and pdf_sha256 == self.pdf_sha256

    @property
    def proof_passed(self) -> bool:
        return self.proof_holds and self.proof is not None and self.proof.passed

    @property
    def approval_holds(self) -> bool:
        """Its approval is for this very PDF, on disk as built."""
        return (
            self.approval is not None
            and self.pdf_intact
            and self.approval.pdf_sha256 == self.pdf_sha256
        )

    @property
    def last(self) -> Message | None:
        return self.messages[-1] if self.messages else None

    @property
    def sent(self) -> list[Message]:
        return [m for m in self.messages if m.state == SENT]

    @property
    def delivery(self) -> tuple[str, Delivery | None]:
        """What came back about its last sent message (see `delivery_state`)."""
        sent = self.sent
        return delivery_state(list(self.deliveries), sent[-1]) if sent else ("", None)

    @property
    def proof_result(self) -> str:
        """The proof's word on this letter, for status and the desk."""
        if self.proof is None:
            return "not proofed"
        if not self.proof_holds:
            return "proofed an earlier PDF"
        return "passed" if self.proof.passed else "failed: " + "; ".join(self.proof.problems)

    # -- what may go ahead: each step's rules, decided here only --------------------------------

    def _built_blocker(self) -> Blocker | None:
        record = self.record
        if record is None:
            return Blocker("not built", Next.BUILD)
        if self.out_of_date:
            return Blocker(f"built from older inputs ({self.what_changed})", Next.BUILD)
        if record.pdf is None:
            return Blocker("built without its PDF", Next.BUILD_PDF)
        if not self.pdf_intact:
            return Blocker("its PDF is missing or changed since it was built", Next.BUILD)
        return None

    def approve_blocker(self, *, despite_proof: bool = False) -> Blocker | None:
        """Why this letter cannot be approved as it is now (None: it can be). `despite_proof`:
        a reason is given to approve it although its proof failed or is missing."""
        blocker = self._built_blocker()
        if blocker is not None or self.approval_holds or self.proof_passed or despite_proof:
            return blocker
        if not self.proof_holds:
            return Blocker("not proofed since it was built", Next.PROOF)
        assert self.proof is not None
        return Blocker(
            f"failed the proof ({'; '.join(self.proof.problems)})", Next.FIX_OR_APPROVE_DESPITE
        )

    def queue_blocker(self) -> Blocker | None:
        """Why this letter's message cannot be queued as it is now (None: it can be)."""
        blocker = self._built_blocker()
        if blocker is not None:
            return blocker
        if self.awaiting_wording:
            return Blocker(
                f"its wording changed since it was sent ({self.reworded_in_words}): the office "
                "decides first whether it stays as sent or goes as a correction",
                Next.DECIDE_WORDING,
            )
        if self.approval is None:
            return Blocker("not approved", Next.APPROVE if self.proof_passed else Next.PROOF)
        if not self.approval_holds:
            last = self.sent_last
            if last is not None and self.approval.pdf_sha256 == last.pdf_sha256:
                return Blocker(
                    "the letter built since it was sent is not approved yet (the approval was "
                    "for the letter sent)",
                    Next.APPROVE if self.proof_passed else Next.PROOF,
                )
            return Blocker("its PDF changed after it was approved", Next.PROOF)
        return None

    def correction_blocker(self, *, asked: bool) -> Blocker | None:
        """A letter already sent goes again only as a correction, a correction only to a
        council that was sent one (`asked`: queued as a correction), and only when its letter
        would now say something else."""
        last = self.sent_last
        if asked and last is None:
            return Blocker(
                "has not been sent a letter yet, so there is nothing to correct: queue it as "
                "its first letter",
                Next.QUEUE,
            )
        if asked and self.unchanged_since_sent:
            return Blocker(
                "its letter states what the letter sent stated, so there is nothing to correct"
                + (
                    "; to send it to the workbook's new address, send it again there"
                    if self.sent_to_old_address
                    else ""
                ),
                Next.RESEND_NEW_ADDRESS if self.sent_to_old_address else Next.NOTHING,
            )
        if last is not None and not asked and not self.unchanged_since_sent:
            return Blocker(
                f"was sent a letter on {in_words(last.sent_at)}: this changed letter goes only "
                "as a correction, with the reason on the record",
                Next.QUEUE_CORRECTION,
            )
        return None

    def build_blocker(self) -> Blocker | None:
        """Why this letter is not built now (None: it may be): what it states depends on a
        decision about an average that moved under letters already sent."""
        if self.awaiting:
            return Blocker(
                "what it states waits for the office's decision: "
                + "; ".join(map(str, self.awaiting)),
                Next.DECIDE_AVERAGE,
            )
        return None

    def resend_blocker(self) -> Blocker | None:
        """Why the letter sent cannot go again, unchanged, to the address now in the workbook
        (None: it can): after its message bounced, or when the council's address changed."""
        last = self.sent_last
        came_back, said = self.delivery
        bounced = came_back == "bounced" and said is not None
        if last is None:
            return Blocker("it has not been sent yet: queue it as its first letter", Next.QUEUE)
        if not self.unchanged_since_sent:
            return Blocker(
                "its letter has changed since it was sent: it goes as a correction", Next.CORRECT
            )
        if not bounced and not self.sent_to_old_address:
            return Blocker(
                "its message has not bounced, and the workbook gives the address it went to",
                Next.NOTHING,
            )
        # Addresses that bounced for a reason only another address cures (an address unknown,
        # a mailbox closed): the letter goes again only once they are corrected.
        failed = {
            d.recipient.casefold()
            for d in self.deliveries
            if d.message_id == last.message_id
            and d.kind == "bounced"
            and d.recipient
            and not BY_NAME.get(d.reason, OTHER).address_works
        }
        now = self.addresses or frozenset()
        still = sorted(a for a in now if a in failed)
        if still or (failed and now == folded(last.recipients)):
            return Blocker(
                f"{', '.join(still) or 'its address'} bounced and is still in its To or Cc in "
                "the workbook's Contacts sheet",
                Next.RESEND,
            )
        return None

    def send_blocker(self, message: Message, paths: OutputPaths) -> Blocker | None:
        """Why `message` may not go now (None: it may): it must still be exactly what was
        approved for this letter, built from the inputs as they are, to the workbook's address.
        The PDF on disk is read again now, not as loaded: a send at 30 a minute takes a while.
        A re-send carries the letter sent before, unchanged since."""
        if message.resend_of:
            original = next((m for m in self.sent if m.message_id == message.resend_of), None)
            if original is None or original.pdf_sha256 != message.pdf_sha256:
                return Blocker("it does not carry the letter it sends again", Next.RESEND)
            if not self.unchanged_since_sent:
                return Blocker(
                    "its letter has changed since it was sent: it goes as a correction",
                    Next.CORRECT,
                )
            if self.addressed_elsewhere(message):
                return Blocker(
                    "its address changed in the workbook since it was queued", Next.QUEUE
                )
            return None
        approval = self.approval
        if approval is None or approval.pdf_sha256 != message.pdf_sha256:
            return Blocker("its approval has changed since it was queued", Next.QUEUE)
        if self.out_of_date:
            return Blocker(f"its letter is out of date ({self.what_changed})", Next.BUILD)
        if not approval_is_current(self.record, approval.pdf_sha256, paths):
            return Blocker(f"{approval.pdf_path} has changed since it was approved", Next.PROOF)
        if self.addressed_elsewhere(message):
            return Blocker("its address changed in the workbook since it was queued", Next.QUEUE)
        return None

    def addressed_elsewhere(self, message: Message) -> bool:
        """The workbook now gives this letter other addresses than `message` goes to."""
        return self.addresses is not None and self.addresses != folded(message.recipients)

    def outgoing_blocker(
        self, message: Message, email: QueuedEmail, paths: OutputPaths
    ) -> Blocker | None:
        """The whole send gate, asked right before `message` goes (None: it may go): its .eml,
        as read now, carries exactly one PDF, the approved one, which names the council, to the
        addresses it was queued for; and the letter still stands as approved (send_blocker)."""
        if not email.found:
            return Blocker(f"{message.eml_path} is missing", Next.QUEUE)
        if len(email.pdfs) != 1:
            return Blocker("the message does not carry exactly one PDF", Next.QUEUE)
        attached = email.pdfs[0]
        if hashlib.sha256(attached).hexdigest() != message.pdf_sha256:
            return Blocker("its attachment is not the approved PDF", Next.QUEUE)
        blocker = self.send_blocker(message, paths)
        if blocker is not None:
            return blocker
        # What the council will receive names it: the attachment itself is read.
        if not names(pdf_text(attached), message.authority):
            return Blocker(f"its PDF does not name {message.authority}", Next.FIX_BUILD)
        if email.recipients != message.recipients:
            return Blocker("its To and Cc differ from what was queued", Next.QUEUE)
        return None


@dataclass(frozen=True)
class QueuedEmail:
    """A queued message's .eml as read right before it goes: what the send gate looks at."""

    found: bool  # the .eml could be read
    pdfs: tuple[bytes, ...]  # its PDF attachments
    recipients: tuple[str, ...]  # its To and Cc addresses, as the envelope takes them


@dataclass(frozen=True)
class MovedAverage:
    """An average a change moved that letters already sent state: one decision to make."""

    authority_type: str
    field: str
    sent: int | None
    now: int | None
    letters: tuple[str, ...]  # the letters sent that state `sent`
    decision: AverageDecision | None  # the latest decision about it, if any holds for `now`

    @property
    def label(self) -> str:
        return RATE_LABELS.get(self.field.removesuffix("_average"), self.field).lower()

    def __str__(self) -> str:
        count = len(self.letters)
        return (
            f"the {self.authority_type} average for {self.label} moves from "
            f"{percent(self.sent)} to {percent(self.now)}: {counted(count, 'letter')} already "
            f"sent {plural('states', count)} "
            f"{percent(self.sent)}"
        )


def state_of(s: Standing) -> tuple[str, str]:
    """The state's name and why, from what the letter rests on."""
    record = s.record
    assert record is not None
    last = s.last
    if last is not None and last.state == SENDING:
        return "in doubt", in_doubt_why(last)
    if last is not None and last.state == SENT:
        return _sent_state(s, last)
    if s.out_of_date:
        waiting = (
            " (its queued message will not be sent)"
            if last and last.state in (QUEUED, FAILED)
            else ""
        )
        return "out of date", f"{s.what_changed}{waiting}"
    if last is not None and last.state == QUEUED:
        return QUEUED, f"queued on {in_words(last.queued_at)}"
    if last is not None and last.state == FAILED:
        return FAILED, last.last_reply or f"refused on {in_words(last.updated_at)}"
    return _built_state(s, record)


def in_doubt_why(message: Message) -> str:
    """Why a message is in doubt, and whom to ask whether it arrived: the council, at the
    addresses it went to."""
    to = ", ".join(message.recipients)
    return (
        f"message {message.message_id} to {to} was being sent when the run stopped: ask "
        f"{message.authority} at {to} (or look in the mail server's log) whether it arrived"
    )


def _sent_state(s: Standing, last: Message) -> tuple[str, str]:
    """A letter sent (`last`): what came back about it, or how its letter would differ now."""
    sent = f"sent on {in_words(last.sent_at)}"
    if not s.currency_known:
        return (
            SENT,
            f"{sent}; whether it would differ now cannot be told until the inputs can be read",
        )
    if s.unchanged_since_sent:
        return _as_sent(s, last, sent)
    return _changed_since_sent(s, sent)


def _as_sent(s: Standing, last: Message, sent: str) -> tuple[str, str]:
    """A letter sent that would state the same now: bounced, sent to an old address, or sent."""
    came_back, said = s.delivery
    if s.sent_to_old_address:  # a bounce with the address corrected since: send it there
        now = ", ".join(sorted(s.addresses or ()))
        bounce = f"; {said.summary()}" if came_back == "bounced" and said is not None else ""
        return (
            ADDRESS_CHANGED,
            f"{sent} to {', '.join(last.recipients)}{bounce}; the workbook now gives {now}",
        )
    if came_back == "bounced" and said is not None:
        return "bounced", f"{sent}; {said.summary()}"
    before = s.went_to_before
    if before:
        sent = f"{sent} to {', '.join(last.recipients)} (earlier to {', '.join(before)})"
    if s.kept_as_sent:
        assert s.wording is not None
        sent += (
            f"; reworded since ({s.reworded_in_words}), kept as sent by {s.wording.by} on "
            f"{in_words(s.wording.at)}: {s.wording.reason}"
        )
    if said is not None:
        return SENT, f"{sent}; {said.summary()}"
    return SENT, sent if s.mailbox_read else f"{sent}; the mailbox not read yet"


def _changed_since_sent(s: Standing, sent: str) -> tuple[str, str]:
    """A letter sent that would state something else now: why, or its correction approved."""
    record = s.record
    assert record is not None
    if s.approval_holds and not s.out_of_date:
        return "correction approved", f"{sent}; the changed letter is approved"
    if s.out_of_date:
        decided = (
            f" (the office chose to correct every letter it reaches: {s.decision.by}, "
            f"{in_words(s.decision.at)})"
            if s.decision
            else ""
        )
        waiting = (
            "; " + "; ".join(f"waits for the office's decision: {m}" for m in s.awaiting)
            if s.awaiting
            else ""
        )
        return "changed since sent", f"{sent}; since then {s.what_changed}{decided}{waiting}"
    if record.pdf is None:
        rebuilt = (
            f"its build again failed: {record.error}"
            if record.error
            else "built again without its PDF"
        )
        return "changed since sent", f"{sent}; {rebuilt}"
    last = s.sent_last
    if last is not None and last.figures is not None and last.figures != record.figures:
        moved = [
            f"{_figure_label(name)} {percent(last.figures.get(name))} → "
            f"{percent(record.figures.get(name))}"
            for name in record.figures
            if last.figures.get(name) != record.figures.get(name)
        ]
        return "changed since sent", f"{sent}; the letter built since states {'; '.join(moved)}"
    if s.reworded:
        said = f"{sent}; the letter built since reads otherwise: {s.reworded_in_words}"
        if s.awaiting_wording:
            said += "; the office decides whether it stays as sent or goes as a correction"
        elif s.wording is not None:
            said += (
                f" (to be corrected: {s.wording.by}, {in_words(s.wording.at)}: {s.wording.reason})"
            )
        return "changed since sent", said
    return "changed since sent", f"{sent}; the letter built since states something else"


def _figure_label(name: str) -> str:
    """A figure as the letter names it: "complaints upheld", "the average for complaints upheld"."""
    label = RATE_LABELS.get(name.removesuffix("_average"), name).lower()
    return f"the average for {label}" if name.endswith("_average") else label


def reworded_in_words(pairs: Iterable[tuple[str, str]], shown: int = 2) -> str:
    """Paragraphs that read otherwise, in words: '"There are a range…" now reads "There is a
    range…"'; the first `shown`, then how many more."""
    pairs = list(pairs)
    said = []
    for before, after in pairs[:shown]:
        if not before:
            said.append(f'a paragraph added: "{_cut(after)}"')
        elif not after:
            said.append(f'a paragraph taken out: "{_cut(before)}"')
        else:
            was, now = _around_the_change(before, after)
            said.append(f'"{was}" now reads "{now}"')
    more = len(pairs) - shown
    if more > 0:
        said.append(f"and {counted(more, 'paragraph')} more")
    return "; ".join(said)


def _cut(text: str, most: int = 60) -> str:
    return text if len(text) <= most else text[: most - 1].rstrip() + "…"


def _around_the_change(before: str, after: str, context: int = 30) -> tuple[str, str]:
    """The words around where two paragraphs differ, the same on each side."""
    start = 0
    while start < min(len(before), len(after)) and before[start] == after[start]:
        start += 1
    end = 0
    while (
        end < min(len(before), len(after)) - start
        and before[len(before) - 1 - end] == after[len(after) - 1 - end]
    ):
        end += 1
    begin = max(0, start - context)
    if begin:
        space = before.find(" ", begin)
        begin = space + 1 if 0 <= space < start else begin
    tail_before, tail_after = len(before) - end, len(after) - end
    stop = min(end, context)

    def piece(text: str, changed_to: int) -> str:
        finish = changed_to + stop
        if finish < len(text):
            space = text.rfind(" ", changed_to, finish)
            finish = space if space > changed_to else finish
        return ("…" if begin else "") + text[begin:finish] + ("…" if finish < len(text) else "")

    return piece(before, tail_before), piece(after, tail_after)


def _built_state(s: Standing, record: LetterRecord) -> tuple[str, str]:
    """A letter built from the current inputs, not queued or sent: its PDF, and whether it was
    proofed and approved as it is."""
    if record.pdf is None:
        if record.error:
            return "build failed", record.error
        return "built (.docx only)", "built without a PDF"
    if not s.pdf_intact:
        return "PDF changed", f"{record.pdf.path} is missing or not the PDF built"
    if s.approval_holds:
        assert s.approval is not None
        despite = (
            f", despite the proof: {s.approval.despite_proof}" if s.approval.despite_proof else ""
        )
        return (
            "approved",
            f"by {s.approval.approved_by} on {in_words(s.approval.approved_at)}{despite}",
        )
    if not s.proof_holds:
        if s.approval is not None:
            return "approval void", f"approved by {s.approval.approved_by} for an earlier PDF"
        return "built", "not proofed since it was built"
    earlier = (
        f"; its approval by {s.approval.approved_by} was for an earlier PDF" if s.approval else ""
    )
    assert s.proof is not None
    if not s.proof.passed:
        return "proof failed", "; ".join(s.proof.problems) + earlier
    return "proofed", f"passed the proof of {in_words(s.proof.proofed_at)}{earlier}"


def in_words(stamp: str) -> str:
    """An ISO date and time as a date in words: '2020-07-06T09:14:05+00:00' is '6 July 2020'."""
    try:
        day = dt.date.fromisoformat(stamp[:10])
    except ValueError:
        return stamp
    return f"{day.day} {day:%B %Y}"


DELIVERED_AS_FAR_AS_WE_KNOW = "delivered"
WORST_FIRST = ("bounced", "delayed", "complaint", "challenge", "reply", "auto-reply")
ANSWERS = ("complaint", "challenge", "reply", "auto-reply")  # said once, not per recipient


def delivery_state(deliveries: list[Delivery], message: Message) -> tuple[str, Delivery | None]:
    """What came back about `message`, as one word and the finding that says it: "bounced"
    when a recipient's copy did not arrive (and no later report about that recipient says it
    did), "delayed" while a relay is still trying, "complaint" when the recipient marked it as
    junk, "challenge" when a filter asks the sender to confirm, "reply" / "auto-reply" when
    someone answered; "" when nothing came back (delivered, as far as anyone can tell)."""
    about = [d for d in deliveries if d.message_id == message.message_id]
    latest: dict[str, Delivery] = {}
    for delivery in about:  # oldest first: a later report about a recipient replaces an earlier
        if delivery.kind in ("bounced", "delayed", "delivered"):
            latest[delivery.recipient] = delivery
    answers = [d for d in about if d.kind in ANSWERS]
    for kind in WORST_FIRST:
        pool = answers if kind in ANSWERS else list(latest.values())
        chosen = [d for d in pool if d.kind == kind]
        if chosen:
            return kind, chosen[-1]
    return "", None


def folded(addresses: Iterable[str]) -> frozenset[str]:
    """Addresses compared as mail servers do: ignoring case."""
    return frozenset(a.casefold() for a in addresses if a)
