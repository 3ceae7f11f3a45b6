"""The join: the manifest, the proof's results, the ledger and the decisions read once, with the
inputs as they are now, and each letter's `Standing` worked out from them; what the batch as a
whole stands at (counts, what came back, the averages that moved under letters sent)."""

from __future__ import annotations

import dataclasses
import functools
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field

from letter_merge.batch import Batch, PlannedLetter
from letter_merge.config import Settings
from letter_merge.decisions import CORRECT, AverageDecision, WordingDecision, latest
from letter_merge.errors import InputError, Problem
from letter_merge.records.decisions import read_decisions, read_wording_decisions
from letter_merge.records.ledger import (
    SENT,
    WITHDRAWN,
    Approval,
    Delivery,
    Event,
    Message,
    open_ledger,
)
from letter_merge.records.manifest import (
    LetterRecord,
    Manifest,
    read_manifest,
)
from letter_merge.records.proofs import Card, ProofResult, read_cards, read_results
from letter_merge.records.sources import Change, changes, template_identity
from letter_merge.records.standing import (
    AVERAGES,
    DELIVERED_AS_FAR_AS_WE_KNOW,
    STATES,
    MovedAverage,
    Standing,
    folded,
    in_words,
    state_of,
)
from letter_merge.steps import Next
from letter_merge.words import counted, reworded, unpacked


@dataclass(frozen=True)
class CurrentFiles:
    """Which of a letter's files are on disk as built from the inputs as they are now."""

    docx: bool = False
    pdf: bool = False  # never without its .docx: a PDF is current only beside the .docx it is of


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
    mailbox_readings: list[str]  # when the sending mailbox was read, oldest first
    batch: Batch | None  # None: the inputs cannot be read now, so currency is unknown
    # Why the inputs could not be read (empty when they were, or were not asked for).
    unknown_because: tuple[Problem, ...] = ()
    # The office's decisions about letters reworded since they were sent, oldest first.
    wording_decisions: list[WordingDecision] = field(default_factory=list)
    _standing: dict[str, Standing] = field(default_factory=dict, repr=False)

    @classmethod
    def load(
        cls,
        settings: Settings,
        batch: Batch | None = None,
        *,
        unknown_because: Iterable[Problem] = (),
    ) -> Records:
        """Read the manifest, the proof's results, the ledger and the decisions once. Without
        `batch`, which letters are out of date is not known (`unknown_because` says why)."""
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
            readings = ledger.mailbox_readings()
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
            readings,
            batch,
            tuple(unknown_because),
            read_wording_decisions(paths),
        )

    @property
    def built(self) -> dict[str, LetterRecord]:
        return self.manifest.by_authority() if self.manifest else {}

    def require_built(self) -> None:
        """Stop, saying so, when nothing has been built for the year yet."""
        if not self.built:
            raise InputError(
                f"No letters have been built for {self.settings.year} yet: build them first.",
                next_step=Next.BUILD,
            )

    @property
    def knows_currency(self) -> bool:
        return self.batch is not None

    def standings(self) -> list[Standing]:
        """Every letter of the batch (the workbook's, in its order, then any built letter no
        longer in it, then any council sent a letter that is in neither: nothing sent vanishes
        from the record)."""
        names = dict.fromkeys([*self.letters, *self.built, *self._messages_of])
        return [self.standing(name) for name in names]

    def standing(self, authority: str) -> Standing:
        if authority not in self._standing:
            self._standing[authority] = self._work_out(authority)
        return self._standing[authority]

    def files_current(self, authority: str) -> CurrentFiles:
        """Whether the letter's .docx, and its PDF, are on disk as built from the inputs as they
        are now: what a build need not make again."""
        standing = self.standing(authority)
        record = standing.record
        docx = (
            record is not None
            and self.knows_currency
            and not standing.out_of_date
            and record.docx is not None
            and record.docx.matches(self.settings.paths)
        )
        return CurrentFiles(docx, docx and standing.pdf_intact)

    def last_cards(self) -> dict[str, Card]:
        """The cards the last proof page showed, by authority (read when asked: they carry
        every letter's picture)."""
        return read_cards(self.settings.paths.proof_cards)

    def unremembered(self) -> list[tuple[Message, LetterRecord]]:
        """Messages sent before the ledger kept what their letter states, whose letter as built
        (its .docx on disk) is still the one they carried: what it states can still be read."""
        found = []
        for authority, messages in self._messages_of.items():
            record = self.built.get(authority)
            if record is None or record.pdf is None or record.docx is None:
                continue
            for message in messages:
                if (
                    message.state == SENT
                    and not message.statement
                    and record.pdf.sha256 == message.pdf_sha256
                    and record.docx.matches(self.settings.paths)
                ):
                    found.append((message, record))
        return found

    def was_approved(self, authority: str, pdf_sha256: str) -> bool:
        """The letter's current approval is for the PDF `pdf_sha256`."""
        approval = self.approvals.get(authority)
        return approval is not None and approval.pdf_sha256 == pdf_sha256

    def counts(self) -> Counter[str]:
        return Counter(s.state for s in self.standings())

    def delivery_counts(self) -> Counter[str]:
        """Of the letters sent: how many came back bounced, delayed, answered, and how many
        nothing came back about ("delivered as far as we know")."""
        counted_: Counter[str] = Counter()
        for standing in self.standings():
            if standing.sent:
                came_back, _ = standing.delivery
                counted_[came_back or DELIVERED_AS_FAR_AS_WE_KNOW] += 1
        return counted_

    def delivery_summary(self) -> str:
        """'Of the letters sent: 341 delivered as far as we know, 2 bounced, 1 reply'; before
        the mailbox is read, '343 letters sent; the mailbox not read yet' ('' before any letter
        is sent)."""
        counts = self.delivery_counts()
        if counts and not self.mailbox_readings:
            return f"{counted(counts.total(), 'letter')} sent; the mailbox not read yet"
        order = [
            DELIVERED_AS_FAR_AS_WE_KNOW,
            "bounced",
            "delayed",
            "complaint",
            "challenge",
            "reply",
            "auto-reply",
        ]
        words = {
            DELIVERED_AS_FAR_AS_WE_KNOW: "delivered as far as we know",
            "bounced": "bounced",
            "delayed": "delayed",
            "complaint": "marked as junk",
            "challenge": "held until the sender confirms",
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
        return f"Of the letters sent: {', '.join(parts)}" if parts else ""

    def moved_averages(self) -> list[MovedAverage]:
        """Averages that letters already sent state and the inputs now put otherwise, each
        once, with every letter sent that states it and the decision that holds for it (None
        while the office has not chosen). Asked of what the letters sent state, so never about
        a value no letter sent states."""
        return list(self._moved)

    @functools.cached_property
    def _moved(self) -> tuple[MovedAverage, ...]:
        groups: dict[tuple[str, str, int | None, int | None], list[str]] = {}
        for authority, letter in self.letters.items():
            stated = self._sent_figures(authority)
            for name in AVERAGES:
                if stated is None or name not in stated:
                    continue
                before, after = stated[name], letter.fields.get(name)
                if before != after:
                    key = (letter.council.authority_type, name, before, _int(after))
                    groups.setdefault(key, []).append(authority)
        holding = latest(self.decisions)
        moved = []
        for (kind, name, before, after), letters in groups.items():
            decision = holding.get((kind, name))
            if decision is not None and decision.now != after:
                decision = None  # about an earlier move
            moved.append(MovedAverage(kind, name, before, after, tuple(letters), decision))
        return tuple(moved)

    def _sent_figures(self, authority: str) -> dict[str, int | None] | None:
        """The figures the letter last sent to `authority` states (None: none sent, or not
        known for a message sent before they were kept)."""
        sent = [m for m in self._messages_of.get(authority, ()) if m.state == SENT]
        if not sent:
            return None
        last = sent[-1]
        if last.figures is not None:
            return last.figures
        record = self.built.get(authority)
        if record is not None and record.pdf is not None and record.pdf.sha256 == last.pdf_sha256:
            return record.figures
        return None

    @functools.cached_property
    def _messages_of(self) -> dict[str, list[Message]]:
        by_authority: dict[str, list[Message]] = {}
        for message in self.messages:
            by_authority.setdefault(message.authority, []).append(message)
        return by_authority

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
        messages = tuple(m for m in self._messages_of.get(authority, ()) if m.state != WITHDRAWN)
        deliveries = tuple(d for d in self.deliveries if d.authority == authority)
        approval = self.approvals.get(authority)
        proof = self.proofs.get(authority)
        addresses = folded((letter.council.email, *letter.council.cc)) if letter else None
        awaiting = tuple(m for m in self._moved if m.decision is None and m.authority_type == kind)
        read = bool(self.mailbox_readings)
        if record is None:
            standing = Standing(authority, kind, "not built", STATES["not built"][0], None,
                                messages=messages, approval=approval, proof=proof,
                                deliveries=deliveries, addresses=addresses, awaiting=awaiting,
                                mailbox_read=read, inputs_known=self.knows_currency)  # fmt: skip
            sent = standing.sent_last
            if sent is not None and letter is None and self.knows_currency:
                return self._gone(standing, sent)
            return standing
        found: tuple[Change, ...] = ()
        if letter is not None and self.batch is not None:
            found = tuple(changes(record, letter, self._template_hash, self.batch.workbook.headers))
        elif self.batch is not None:
            sent = next((m for m in reversed(messages) if m.state == SENT), None)
            if sent is not None:  # sent, then taken out of the workbook
                intact = record.pdf is not None and record.pdf.matches(self.settings.paths)
                kept = Standing(authority, kind, "", "", record, pdf_intact=intact,
                                messages=messages, approval=approval, proof=proof,
                                deliveries=deliveries, mailbox_read=read)  # fmt: skip
                return self._gone(kept, sent)
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
            addresses,
            awaiting,
            read,
            self.knows_currency,
        )
        standing = self._with_wording(standing)
        state, why = state_of(standing)
        return dataclasses.replace(standing, state=state, why=why)

    def _gone(self, standing: Standing, sent: Message) -> Standing:
        """A council sent a letter, then taken out of the workbook: its letter stays as sent,
        on the record, with nothing to do."""
        why = (
            f"sent on {in_words(sent.sent_at)}; no longer in the workbook; its letter stays as sent"
        )
        return dataclasses.replace(standing, state=SENT, why=why, gone=True, changes=())

    def _with_wording(self, standing: Standing) -> Standing:
        """The paragraphs of a letter sent that read otherwise in the letter built since, and
        the office's decision about them that holds."""
        last, record = standing.sent_last, standing.record
        if (
            last is None
            or record is None
            or standing.out_of_date
            or not (last.statement and record.statement)
            or last.statement == record.statement
            or not (last.paragraphs and record.paragraphs)
        ):
            return standing
        pairs = tuple(reworded(unpacked(last.paragraphs), unpacked(record.paragraphs)))
        holding = None
        for decision in self.wording_decisions:
            if decision.covers(standing.authority, last.statement, record.statement):
                holding = decision
        return dataclasses.replace(standing, reworded=pairs, wording=holding)

    def reworded_since_sent(self) -> list[Standing]:
        """Letters sent whose wording reads otherwise now, waiting for the office's decision."""
        return [s for s in self.standings() if s.awaiting_wording]

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


def _int(value: object) -> int | None:
    return value if isinstance(value, int) else None


def last_years_letters(settings: Settings) -> dict[str, LetterRecord]:
    """Last year's batch as its manifest recorded it (empty when there is none), for the
    proof's changes since last year."""
    previous = read_manifest(settings.paths.of_year(settings.year - 1).manifest)
    return previous.by_authority() if previous is not None else {}
