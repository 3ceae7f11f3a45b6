"""Deciding, on the record, what to do about an average a correction moved.

Correcting one council's figures moves the average for its authority type, which every other
letter of that type states, some of them already sent. The office chooses: keep the averages as
sent (every letter of the type, the corrected one included, states the average the others
received), or correct every letter the change reaches (each is built again and queued as a
correction). The choice, who made it and when, is kept in decisions.json and in each letter's
history in the ledger.
"""

from __future__ import annotations

from letter_merge.batch import Batch
from letter_merge.clock import now
from letter_merge.decisions import CORRECT, KEEP, AverageDecision, WordingDecision
from letter_merge.errors import InputError
from letter_merge.figures import RATE_LABELS
from letter_merge.records.decisions import add_decisions, add_wording_decisions
from letter_merge.records.join import Records
from letter_merge.records.ledger import open_ledger
from letter_merge.records.standing import MovedAverage
from letter_merge.words import percent


def decide_averages(
    batch: Batch, choice: str, by: str, *, authority_type: str = ""
) -> list[AverageDecision]:
    """Record `choice` (KEEP or CORRECT) for every moved average not yet decided (of
    `authority_type` only, when given); the decisions made."""
    if choice not in (KEEP, CORRECT):
        raise InputError(f"choose {KEEP} or {CORRECT}")
    if not by.strip():
        raise InputError("Say who decides: their name is kept on the record.")
    records = Records.load(batch.settings, batch)
    moved = [
        m
        for m in records.moved_averages()
        if m.decision is None and (not authority_type or m.authority_type == authority_type)
    ]
    if not moved:
        raise InputError(
            "No average has moved under letters already sent, so there is nothing to decide; "
            "the status shows where each letter stands."
        )
    stated: dict[tuple[str, str], set[int | None]] = {}
    for move in moved:
        stated.setdefault((move.authority_type, move.field), set()).add(move.sent)
    split = [key for key, values in stated.items() if len(values) > 1]
    if choice == KEEP and split:
        kind, field = split[0]
        label = RATE_LABELS.get(field.removesuffix("_average"), field).lower()
        raise InputError(
            f"The letters sent to {kind}s do not all state the same average for {label} "
            f"({', '.join(sorted(percent(v) for v in stated[split[0]]))}), so keeping it as "
            "sent cannot make them agree: decide to correct every letter it reaches."
        )
    stamp = now()
    decisions = [
        AverageDecision(
            m.authority_type,
            m.field,
            m.sent,
            m.now,
            choice,
            by.strip(),
            stamp,
            _because(records, m),
            m.letters,
        )
        for m in moved
    ]
    add_decisions(batch.settings.paths, decisions)
    with open_ledger(batch.settings.paths) as ledger:
        for decision, move in zip(decisions, moved, strict=True):
            said = (
                f"kept as sent ({percent(move.sent)})"
                if choice == KEEP
                else f"every letter corrected ({percent(move.sent)} → {percent(move.now)})"
            )
            for authority in move.letters:
                ledger.record(
                    authority,
                    "average decided",
                    f"the {move.authority_type} average for {move.label}: {said}, by {decision.by}",
                )
    return decisions


def _because(records: Records, moved: MovedAverage) -> str:
    """Why the average moved, in words for the record and the correction's email."""
    changed = [
        s.authority
        for s in records.standings()
        if s.authority_type == moved.authority_type and any(c.kind == "row" for c in s.changes)
    ]
    after = f" after {', '.join(changed)} was corrected" if changed else ""
    return (
        f"the {moved.authority_type} average for {moved.label} moved from "
        f"{percent(moved.sent)} to {percent(moved.now)}{after}"
    )


def decide_wording(
    batch: Batch, choice: str, by: str, reason: str, *, authority_type: str = ""
) -> list[WordingDecision]:
    """Record `choice` for every letter sent whose wording reads otherwise now and waits for
    the office (of `authority_type` only, when given): KEEP, it stays as sent; CORRECT, it goes
    as a correction, `reason` its reason. The decisions made ([] when none waits)."""
    if choice not in (KEEP, CORRECT):
        raise InputError(f"choose {KEEP} or {CORRECT}")
    records = Records.load(batch.settings, batch)
    waiting = [
        s
        for s in records.reworded_since_sent()
        if not authority_type or s.authority_type == authority_type
    ]
    if not waiting:
        return []
    if not by.strip():
        raise InputError("Say who decides: their name is kept on the record.")
    if not reason.strip():
        raise InputError(
            "Say why (for example, a typo fixed in the template): the reason is kept on the "
            "record with each letter's decision."
        )
    stamp = now()
    decisions = []
    for standing in waiting:
        last, record = standing.sent_last, standing.record
        assert last is not None and record is not None
        decisions.append(
            WordingDecision(
                standing.authority,
                last.statement,
                record.statement,
                choice,
                by.strip(),
                stamp,
                " ".join(reason.split()),
                standing.reworded_in_words,
            )
        )
    add_wording_decisions(batch.settings.paths, decisions)
    said = "kept as sent" if choice == KEEP else "to go as a correction"
    with open_ledger(batch.settings.paths) as ledger:
        for decision in decisions:
            ledger.record(
                decision.authority,
                "wording decided",
                f"reworded since sent ({decision.changed}): {said}, by {decision.by}: "
                f"{decision.reason}",
            )
    return decisions


def waiting_decisions(batch: Batch, authority_type: str = "") -> tuple[int, int]:
    """How many averages, and how many letters reworded since sent, wait for a decision."""
    records = Records.load(batch.settings, batch)
    averages = [
        m
        for m in records.moved_averages()
        if m.decision is None and (not authority_type or m.authority_type == authority_type)
    ]
    reworded = [
        s
        for s in records.reworded_since_sent()
        if not authority_type or s.authority_type == authority_type
    ]
    return len(averages), len(reworded)
