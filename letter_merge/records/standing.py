"""Where each letter stands, and why: the one answer every command and the desk give.

The manifest (what was built, from what), the proof's results, the ledger (approvals, messages,
events), the decisions about averages and the inputs as they are now are read once, here, and
joined per letter into a `Standing`: built from the current inputs or out of date (and exactly
why), its PDF intact, proofed (against which PDF, with what result), approved (by whom, for which
PDF, still holding), queued, sent, failed, in doubt; its corrections. A state has one name, used
by the commands, `status --csv` and the desk alike.
"""

from __future__ import annotations

import dataclasses
import functools
from collections import Counter
from dataclasses import dataclass, field

from letter_merge.batch import Batch, PlannedLetter
from letter_merge.config import Settings
from letter_merge.decisions import CORRECT, AverageDecision, latest, read_decisions
from letter_merge.errors import InputError
from letter_merge.figures import RATE_LABELS
from letter_merge.records.ledger import (
    FAILED,
    QUEUED,
    SENDING,
    SENT,
    WITHDRAWN,
    Approval,
    Delivery,
    Event,
    Message,
    open_ledger,
)
from letter_merge.records.manifest import LetterRecord, Manifest, read_manifest
from letter_merge.records.proofs import ProofResult, read_results
from letter_merge.records.sources import Change, changes, template_identity
from letter_merge.words import counted, plural

# Every state, in the order a letter moves through them: what it means, and what to do next.
STATES: dict[str, tuple[str, str]] = {
    "not built": ("in the workbook, never built", "letter-merge build"),
    "out of date": (
        "built from inputs that have changed since",
        "build, proof and approve it again",
    ),
    "build failed": ("the last build could not make it", "fix what the build said; build again"),
    "built (.docx only)": ("built without its PDF (--no-pdf)", "build again to make the PDF"),
    "PDF changed": (
        "its PDF is missing, or not the one built (edited or replaced by hand)",
        "build again: letter-merge build makes it anew",
    ),
    "built": ("built, not proofed since", "letter-merge proof, and look through it"),
    "proof failed": ("the proof found a problem in it", "fix it and build again, or approve it "
                     'with --despite-proof "why"'),
    "proofed": ("passed the proof, not approved", "letter-merge approve --by NAME"),
    "approval void": (
        "approved, then rebuilt: the approval was for another PDF",
        "proof it and approve it again",
    ),
    "approved": ("approved, not queued", "letter-merge queue"),
    QUEUED: ("waiting to be sent", "letter-merge send"),
    "in doubt": (
        "a send was cut off mid-message: it may have arrived",
        "check, then letter-merge send --resolve sent (or retry)",
    ),
    FAILED: ("refused by the mail server (see its reply)", "fix the cause; send --retry-failed"),
    SENT: ("accepted by the mail server", "nothing (later: letter-merge delivery)"),
    "bounced": (
        "sent, but a delivery report says it did not arrive (an address that no longer works)",
        "correct the address in the workbook's Contacts, then letter-merge queue --resend NAME "
        "and send",
    ),
    "changed since sent": (
        "sent; its letter would be different now",
        "build, proof and approve it, then queue it as a correction",
    ),
    "correction approved": (
        "sent; its changed letter is approved",
        'letter-merge queue --correction NAME --reason "why"',
    ),
}  # fmt: skip


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

    @property
    def meaning(self) -> str:
        return STATES[self.state][0]

    @property
    def next_step(self) -> str:
        return STATES[self.state][1]

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
        return (
            self.proof is not None and self.pdf_intact and self.proof.pdf_sha256 == self.pdf_sha256
        )

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
            f"{_percent(self.sent)} to {_percent(self.now)}: {counted(count, 'letter')} already "
            f"sent {plural('states', count)} "
            f"{_percent(self.sent)}"
        )


@dataclass
class Records:
    """Everything recorded about a year's batch, read once, and the inputs as they are now."""

    settings: Settings
    manifest: Manifest | None
    proofs: dict[str, ProofResult]
    approvals: dict[str, Approval]
    approval_history: list[Approval]
    messages: list[Message]  # all of them, withdrawn too, oldest first
    events: list[Event]
    deliveries: list[Delivery]
    decisions: list[AverageDecision]
    batch: Batch | None  # None: the inputs cannot be read now, so currency is unknown
    _standing: dict[str, Standing] = field(default_factory=dict, repr=False)

    @classmethod
    def load(cls, settings: Settings, batch: Batch | None = None) -> Records:
        """Read the manifest, the proof's results, the ledger and the decisions once. Without
        `batch`, which letters are out of date is not known."""
        paths = settings.paths
        manifest = read_manifest(paths.manifest)
        if manifest is not None and manifest.year != paths.year:
            manifest = None
        with open_ledger(paths, read_only=True) as ledger:
            approvals = ledger.approvals()
            history = ledger.approval_history()
            messages = ledger.messages()
            events = ledger.events()
            deliveries = ledger.deliveries()
        return cls(
            settings,
            manifest,
            read_results(paths.proof_results),
            approvals,
            history,
            messages,
            events,
            deliveries,
            read_decisions(paths),
            batch,
        )

    @property
    def built(self) -> dict[str, LetterRecord]:
        return self.manifest.by_authority() if self.manifest else {}

    def require_built(self) -> None:
        """Stop, saying so, when nothing has been built for the year yet."""
        if not self.built:
            raise InputError(
                f"No letters have been built for {self.settings.year}; run 'letter-merge build' "
                "first."
            )

    @property
    def knows_currency(self) -> bool:
        return self.batch is not None

    def standings(self) -> list[Standing]:
        """Every letter of the batch (the workbook's, in its order, then any built letter no
        longer in it)."""
        names = list(self.letters) + [a for a in self.built if a not in self.letters]
        return [self.standing(name) for name in names]

    def standing(self, authority: str) -> Standing:
        if authority not in self._standing:
            self._standing[authority] = self._work_out(authority)
        return self._standing[authority]

    def counts(self) -> Counter[str]:
        return Counter(s.state for s in self.standings())

    def delivery_counts(self) -> Counter[str]:
        """Of the letters sent: how many came back bounced, delayed, answered, and how many
        nothing came back about ("delivered as far as we know")."""
        counted_: Counter[str] = Counter()
        for standing in self.standings():
            if standing.sent:
                counted_[standing.delivery[0] or DELIVERED_AS_FAR_AS_WE_KNOW] += 1
        return counted_

    def delivery_summary(self) -> str:
        """'341 delivered as far as we know, 2 bounced, 1 delayed, 1 reply' ('' before any
        letter is sent)."""
        counts = self.delivery_counts()
        order = [
            DELIVERED_AS_FAR_AS_WE_KNOW,
            "bounced",
            "delayed",
            "complaint",
            "reply",
            "auto-reply",
        ]
        words = {
            DELIVERED_AS_FAR_AS_WE_KNOW: "delivered as far as we know",
            "bounced": "bounced",
            "delayed": "delayed",
            "complaint": "marked as junk",
            "reply": "reply",
            "auto-reply": "automatic reply",
        }
        parts = []
        for kind in order:
            if counts[kind]:
                noun = words[kind]
                if kind in ("reply", "auto-reply"):
                    parts.append(counted(counts[kind], noun))
                else:
                    parts.append(f"{counts[kind]} {noun}")
        return ", ".join(parts)

    def moved_averages(self) -> list[MovedAverage]:
        """Averages that changes moved and that letters already sent state, each once, with the
        decision that holds for it (None while the office has not chosen)."""
        groups: dict[tuple[str, str, object, object], list[str]] = {}
        for standing in self.standings():
            if not standing.sent:
                continue
            for change in standing.changes:
                if change.kind == "average":
                    key = (change.authority_type, change.field, change.before, change.after)
                    groups.setdefault(key, []).append(standing.authority)
        holding = latest(self.decisions)
        moved = []
        for (kind, name, before, after), letters in groups.items():
            decision = holding.get((kind, name))
            if decision is not None and decision.now != after:
                decision = None  # about an earlier move
            moved.append(
                MovedAverage(kind, name, _int(before), _int(after), tuple(letters), decision)
            )
        return moved

    # -- the join ------------------------------------------------------------------------------

    @functools.cached_property
    def letters(self) -> dict[str, PlannedLetter]:
        """The letters as the inputs make them now, by authority (none when unknown)."""
        return {p.council.authority: p for p in self.batch.letters()} if self.batch else {}

    @functools.cached_property
    def _template_hash(self) -> str:
        return template_identity(self.batch) if self.batch else ""

    def _work_out(self, authority: str) -> Standing:
        record = self.built.get(authority)
        letter = self.letters.get(authority)
        kind = letter.council.authority_type if letter else record.authority_type if record else ""
        messages = tuple(
            m for m in self.messages if m.authority == authority and m.state != WITHDRAWN
        )
        deliveries = tuple(d for d in self.deliveries if d.authority == authority)
        approval = self.approvals.get(authority)
        proof = self.proofs.get(authority)
        if record is None:
            return Standing(authority, kind, "not built", STATES["not built"][0], None,
                            messages=messages, approval=approval, proof=proof,
                            deliveries=deliveries)  # fmt: skip
        found: tuple[Change, ...] = ()
        if letter is not None and self.batch is not None:
            found = tuple(changes(record, letter, self._template_hash, self.batch.workbook.headers))
        elif self.batch is not None:
            found = (Change("row", "it is no longer in the workbook"),)
        intact = record.pdf is not None and record.pdf.matches(self.settings.paths)
        decision = self._correcting(found)
        standing = Standing(
            authority,
            kind,
            "",
            "",
            record,
            found,
            intact,
            proof,
            approval,
            messages,
            decision,
            deliveries,
        )
        state, why = _state(standing)
        return dataclasses.replace(standing, state=state, why=why)

    def _correcting(self, found: tuple[Change, ...]) -> AverageDecision | None:
        holding = latest(self.decisions)
        for change in found:
            decision = holding.get((change.authority_type, change.field))
            if (
                change.kind == "average"
                and decision is not None
                and decision.choice == CORRECT
                and decision.now == change.after
            ):
                return decision
        return None


def _state(s: Standing) -> tuple[str, str]:
    """The state's name and why, from what the letter rests on."""
    record = s.record
    assert record is not None
    reasons = s.what_changed
    last = s.last
    if last is not None and last.state == SENDING:
        return "in doubt", f"message {last.message_id} was being sent when the run stopped"
    if last is not None and last.state == SENT:
        changed = s.out_of_date or record.pdf is None or record.pdf.sha256 != last.pdf_sha256
        if not changed:
            came_back, said = s.delivery
            if came_back == "bounced" and said is not None:
                return "bounced", f"sent on {last.sent_at[:10]}; {said.summary()}"
            if said is not None:
                return SENT, f"sent on {last.sent_at[:10]}; {said.summary()}"
            return SENT, f"sent on {last.sent_at[:10]}"
        if s.approval_holds and not s.out_of_date:
            return (
                "correction approved",
                f"sent on {last.sent_at[:10]}; the changed letter is approved",
            )
        if s.out_of_date:
            decided = (
                f" (the office chose to correct every letter it reaches: {s.decision.by}, "
                f"{s.decision.at[:10]})"
                if s.decision
                else ""
            )
            return (
                "changed since sent",
                f"sent on {last.sent_at[:10]}; since then {reasons}{decided}",
            )
        return (
            "changed since sent",
            f"sent on {last.sent_at[:10]}; the letter was built again since",
        )
    if s.out_of_date:
        waiting = (
            " (its queued message will not be sent)"
            if last and last.state in (QUEUED, FAILED)
            else ""
        )
        return "out of date", f"{reasons}{waiting}"
    if last is not None and last.state in (QUEUED, FAILED):
        return last.state, last.last_reply or f"message {last.message_id}"
    if record.pdf is None:
        if record.error:
            return "build failed", record.error
        return "built (.docx only)", "built with --no-pdf"
    if not s.pdf_intact:
        return "PDF changed", f"{record.pdf.path} is missing or not the PDF built"
    if s.approval_holds:
        assert s.approval is not None
        despite = (
            f", despite the proof: {s.approval.despite_proof}" if s.approval.despite_proof else ""
        )
        return "approved", f"by {s.approval.approved_by} on {s.approval.approved_at[:10]}{despite}"
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
    return "proofed", f"passed the proof of {s.proof.proofed_at[:10]}{earlier}"


DELIVERED_AS_FAR_AS_WE_KNOW = "delivered"
WORST_FIRST = ("bounced", "delayed", "complaint", "reply", "auto-reply")


def delivery_state(deliveries: list[Delivery], message: Message) -> tuple[str, Delivery | None]:
    """What came back about `message`, as one word and the finding that says it: "bounced"
    when a recipient's copy did not arrive (and no later report about that recipient says it
    did), "delayed" while a relay is still trying, "complaint" when the recipient marked it as
    junk, "reply" / "auto-reply" when someone answered; "" when nothing came back (delivered,
    as far as anyone can tell)."""
    about = [d for d in deliveries if d.message_id == message.message_id]
    latest: dict[str, Delivery] = {}
    for delivery in about:  # oldest first: a later report about a recipient replaces an earlier
        if delivery.kind in ("bounced", "delayed", "delivered"):
            latest[delivery.recipient] = delivery
    answers = [d for d in about if d.kind in ("complaint", "reply", "auto-reply")]
    for kind in WORST_FIRST:
        pool = answers if kind in ("complaint", "reply", "auto-reply") else list(latest.values())
        chosen = [d for d in pool if d.kind == kind]
        if chosen:
            return kind, chosen[-1]
    return "", None


def _percent(value: int | None) -> str:
    return "not applicable" if value is None else f"{value}%"


def _int(value: object) -> int | None:
    return value if isinstance(value, int) else None


def last_years_letters(settings: Settings) -> dict[str, LetterRecord]:
    """Last year's batch as its manifest recorded it (empty when there is none), for the
    proof's changes since last year."""
    previous = read_manifest(settings.paths.of_year(settings.year - 1).manifest)
    return previous.by_authority() if previous is not None else {}
