"""The desk's words: each result of app/ as the JSON the page shows, and each next step as the
page's own button for it (the command line words the same results in console.py)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from letter_merge.app.checking import CheckReport
from letter_merge.app.inputs import file_stamp, input_files
from letter_merge.app.letters import BuildResult, ProofReport
from letter_merge.app.mailing import (
    KEEP,
    ApproveReport,
    Decisions,
    DeliveryReport,
    QueueReport,
    SendReport,
    SendRequest,
)
from letter_merge.app.publishing import PublishReport
from letter_merge.app.statuses import STATES, History, Standing, StatusReport, proof_shown
from letter_merge.config import Settings
from letter_merge.errors import Problem
from letter_merge.steps import Blocker, Next
from letter_merge.words import counted, plural

# Each next step in the desk's own words, and the step (section) of the page that takes it.
NEXT_STEPS: dict[Next, tuple[str, str]] = {
    Next.BUILD: ("Build it, then proof and approve it", "build"),
    Next.BUILD_PDF: ("Build it again to make its PDF", "build"),
    Next.FIX_BUILD: ("Fix what the build said, then build it again", "build"),
    Next.PROOF: ("Make the proof and look through it", "proof"),
    Next.FIX_OR_APPROVE_DESPITE: (
        "Fix it and build it again, or approve it despite the proof, saying why",
        "approve",
    ),
    Next.APPROVE: ("Approve it", "approve"),
    Next.QUEUE: ("Queue its email", "queue"),
    Next.SEND: ("Send it", "send"),
    Next.SETTLE: (
        "Find out whether it arrived, then settle it (A send that was cut off, in Send)",
        "send",
    ),
    Next.RETRY: (
        "Fix the cause, then send it again (Also send those the server refused, in Send)",
        "send",
    ),
    Next.CORRECT: (
        "Build, proof and approve it again, then queue it as a correction",
        "build",
    ),
    Next.QUEUE_CORRECTION: ("Queue it as a correction (Correcting a letter already sent)", "queue"),
    Next.DECIDE_AVERAGE: ("Decide about the averages that moved", "status"),
    Next.DECIDE_WORDING: ("Decide about the letters reworded since sending", "status"),
    Next.RESEND: (
        "Correct the address in the workbook's Contacts sheet, then send the same letter again "
        "(Sending a letter again, in Queue)",
        "queue",
    ),
    Next.RESEND_NEW_ADDRESS: (
        "Send the same letter to the workbook's new address (Sending a letter again, in Queue)",
        "queue",
    ),
    Next.READ_MAILBOX: (
        "Read the mailbox for what came back (What came back, in Status)",
        "status",
    ),
    Next.FIX_INPUTS: ("Fix what the Check step lists", "check"),
    Next.SIGN_IN: (
        "Sign in for sending once, in a terminal, as the manual's Microsoft 365 page for IT says",
        "",
    ),
    Next.NOTHING: ("Nothing", ""),
}


# The part of a step's section that takes a next step, when it is folded away: the panel to
# open, and the field the council's name goes in (or the box to tick).
PANELS: dict[Next, tuple[str, str]] = {
    Next.RESEND: ("resend", "queue-resends"),
    Next.RESEND_NEW_ADDRESS: ("resend", "queue-resends"),
    Next.QUEUE_CORRECTION: ("correction", "queue-corrections"),
    Next.SETTLE: ("settle", "settle-only"),
    Next.RETRY: ("", "send-retry"),
}


def next_step(step: Next, council: str = "") -> dict[str, str]:
    """A next step as the page shows it: its words, the step of the page that takes it, and
    (for `council`'s letter) the panel to open and the field to fill with its name."""
    text, section = NEXT_STEPS[step]
    panel, field = PANELS.get(step, ("", ""))
    said = {"text": text, "section": section}
    if council and (panel or field):
        said.update(panel=panel, field=field, council=council)
    return said


def in_sentence(words: str) -> str:
    """A sentence of the desk's put inside another: its first letter lower case, and the
    desk's own names (Contacts, Queue, Sending a letter again) keeping their capitals."""
    return words[:1].lower() + words[1:]


def grouped(problems: list[Problem]) -> list[dict[str, Any]]:
    """Problems by the file they are in, each with its place and what to do, as `check` says."""
    groups: dict[str, list[dict[str, str]]] = {}
    for problem in problems:
        groups.setdefault(problem.file or "Not about one file", []).append(
            {"where": problem.where, "message": problem.message}
        )
    return [{"file": file, "items": items} for file, items in groups.items()]


def reasons(pairs: list[tuple[str, str]]) -> list[dict[str, str]]:
    """(authority, why) pairs as the page shows them."""
    return [{"authority": authority, "why": why} for authority, why in pairs]


def blocked(pairs: list[tuple[str, Blocker]]) -> list[dict[str, Any]]:
    """Letters a step could not go ahead for: why, and the desk's next step for each."""
    return [
        {
            "authority": authority,
            "why": blocker.why
            if blocker.next == Next.NOTHING
            else f"{blocker.why}. Next: {in_sentence(NEXT_STEPS[blocker.next][0])}.",
            "next": next_step(blocker.next, authority),
        }
        for authority, blocker in pairs
    ]


# -- 1. files -----------------------------------------------------------------------------------


def desk_state(settings: Settings, server: str, job: dict[str, Any] | None) -> dict[str, Any]:
    """The year, the files the batch is made from (and when each was last changed), how PDFs
    are made and mail sent, and the job running."""
    return {
        "year": settings.year,
        "folder": str(settings.config_file.parent) if settings.config_file else "",
        "files": [
            {
                "label": file.label,
                "name": _relative(settings, file.path),
                "changed": _when(file.path),
                "changed_ns": file_stamp(file.path)[0],
            }
            for file in input_files(settings)
        ],
        "pdf": settings.pdf.in_words(),
        "server": server,
        "sender": settings.email_from,
        "job": job,
    }


def _relative(settings: Settings, path: Path) -> str:
    base = settings.config_file.parent if settings.config_file else Path.cwd()
    try:
        return path.relative_to(base).as_posix()
    except ValueError:
        return path.name


def _when(path: Path) -> str:
    try:
        stamp = dt.datetime.fromtimestamp(path.stat().st_mtime)
    except OSError:
        return "missing"
    return stamp.strftime("%d %b %Y %H:%M")


# -- 2. check, 4. build, 5. proof ---------------------------------------------------------------


def check_passed(report: CheckReport) -> dict[str, Any]:
    return {
        "ok": True,
        "problems": [],
        "warnings": grouped(list(report.warnings)),
        "councils": report.councils,
        "unused": list(report.unused),
    }


def check_unreadable(settings: Settings, error: Exception) -> dict[str, Any]:
    """A file Check could not read at all, as a problem filed under that file (named from the
    working folder, as the Files step names it), so that the page shows it as any other."""
    said, file = str(error), ""
    for each in input_files(settings):
        if str(each.path) in said:
            file = _relative(settings, each.path)
            said = said.replace(f"{each.path}: ", "").replace(str(each.path), file)
            break
    return check_failed([Problem("", said, file)], [])


def check_failed(problems: list[Problem], warnings: list[Problem]) -> dict[str, Any]:
    return {"ok": False, "problems": grouped(problems), "warnings": grouped(warnings)}


def build_done(result: BuildResult) -> dict[str, Any]:
    report, plan = result.report, result.plan
    return {
        "built": len(report.made) if report else 0,
        "unchanged": len(report.unchanged) if report else 0,
        "failed": [{"authority": o.authority, "why": o.error} for o in report.failed]
        if report
        else [],
        "held": blocked(list(plan.held)),
        "sent_again": len(plan.sent_again),
        "differ": list(result.differ),
        "notices": report.notices if report else [],
        "seconds": round(report.seconds, 1) if report else 0,
    }


def proof_done(report: ProofReport) -> dict[str, Any]:
    problems = [
        {"authority": card.authority, "why": card.problems_in_words}
        for card in report.with_problems
    ]
    return {"letters": len(report.cards), "problems": problems, "changes": report.changes}


# -- 6. approve, 7. queue and test send, 8. send ------------------------------------------------


def approved(report: ApproveReport) -> dict[str, Any]:
    return {
        "approved": report.approved,
        "despite_proof": report.despite_proof,
        "already": report.already,
        "refused": blocked(report.refused),
    }


def queued(report: QueueReport) -> dict[str, Any]:
    return {
        "queued": report.queued,
        "corrections": report.corrections,
        "resends": report.resends,
        "already": report.already,
        "skipped": blocked(report.skipped),
    }


def send_plan(settings: Settings, request: SendRequest, report: SendReport) -> dict[str, Any]:
    """What a send would do, as `send` says before it asks."""
    plan = report.plan
    messages = plan.messages if plan else ()
    return {
        "server": plan.server if plan else "",
        "sender": plan.sender if plan else settings.email_from,
        "login": plan.login if plan else "",
        "count": len(messages),
        "corrections": plan.corrections if plan else 0,
        "minutes": plan.minutes if plan else 0,
        "rate": settings.smtp.rate_per_minute,
        "test_to": request.test_to,
        "messages": [
            {
                "authority": m.authority,
                "recipients": list(m.recipients),
                "correction": m.correction,
                "sent_before": m.sent_before,
                "resend": m.resend,
                "retry": m.retry,
            }
            for m in messages
        ],
        "resends": plan.resends if plan else 0,
        "retries": plan.retries if plan else 0,
        "refused": blocked(report.refused),
        "in_doubt": reasons(report.doubts),
    }


def sent(request: SendRequest, report: SendReport) -> dict[str, Any]:
    return {
        "cancelled": report.cancelled,
        "sent": report.sent,
        "failed": reasons(report.failed),
        "deferred": reasons(report.deferred),
        "refused": blocked(report.refused),
        "in_doubt": reasons(report.doubts),
        # in doubt when the send began, settled from the mailbox (Graph): [name, was sent]
        "settled": report.settled,
        "test_to": request.test_to,
    }


# -- 9. status ----------------------------------------------------------------------------------


def came_back(settings: Settings, found: DeliveryReport) -> dict[str, Any]:
    """What reading the mailbox found."""
    return {
        "read": found.read,
        "mailbox": f"{settings.mailbox.folder} on {settings.mailbox.host}",
        "new": [{"authority": d.authority, "why": d.summary()} for d in found.new],
        "already": found.already,
        "unmatched": [
            {"authority": d.subject or "(no subject)", "why": f"from {d.sender}: {d.summary()}"}
            for d in found.unmatched
        ],
        "unreadable": [{"authority": place, "why": problem} for place, problem in found.unreadable],
    }


def status(report: StatusReport) -> dict[str, Any]:
    return {
        "built": report.built,
        "counts": {line.state: line.count for line in report.counts},
        "came_back": report.came_back,
        "meanings": {state: meaning for state, (meaning, _) in STATES.items()},
        "unknown_because": grouped(list(report.unknown_because)),
        "synced": (
            {
                "by": report.synced.by,
                "conflicts": [copy.name for copy in report.synced.conflicts],
            }
            if report.synced
            else None
        ),
        "moved_averages": [
            {
                "text": str(moved)[:1].upper() + str(moved)[1:] + ".",
                "type": moved.authority_type,
                "letters": len(moved.letters),
                "decided": (
                    f"{moved.decision.choice} ({moved.decision.by}, {moved.decision.at[:10]})"
                    if moved.decision
                    else ""
                ),
            }
            for moved in report.moved_averages
        ],
        "reworded": reworded(report.letters),
        "letters": [
            {
                "authority": letter.authority,
                "state": letter.state,
                "why": letter.why,
                "next": next_step(letter.next_step, letter.authority),
                "proof": proof_shown(letter),
                "email": ", ".join(letter.went_to) or letter.email,
                "email_before": ", ".join(letter.went_to_before),
                "approved_by": letter.approval.approved_by
                if letter.approval_holds and letter.approval
                else "",
                "updated_at": letter.last.updated_at if letter.last else "",
                "last_reply": letter.last.last_reply if letter.last else "",
                "messages": len(letter.messages),
            }
            for letter in report.letters
        ],
    }


def history(record: History) -> dict[str, Any]:
    standing = record.standing
    return {
        "authority": standing.authority,
        "state": standing.state,
        "why": standing.why,
        "next": next_step(standing.next_step, standing.authority),
        "proof": standing.proof_result,
        "sent_to": ", ".join(standing.went_to),
        "sent_before": ", ".join(standing.went_to_before),
        "approvals": [
            {"by": a.approved_by, "at": a.approved_at, "despite_proof": a.despite_proof}
            for a in record.approvals
        ],
        "messages": [
            {
                "message_id": m.message_id,
                "state": m.state,
                "queued_at": m.queued_at,
                "sent_at": m.sent_at,
                "correction": m.correction,
                "last_reply": m.last_reply,
            }
            for m in record.messages
        ],
        "events": [
            {"at": e.at, "what": e.event, "detail": e.detail, "message_id": e.message_id}
            for e in record.events
        ],
    }


def reworded(letters: Sequence[Standing]) -> list[dict[str, Any]]:
    """Letters sent that read otherwise now and wait for the office, one entry a rewording."""
    alike: dict[str, list[str]] = {}
    for letter in letters:
        if letter.awaiting_wording:
            alike.setdefault(letter.reworded_in_words, []).append(letter.authority)
    return [
        {
            "text": f"{counted(len(names), 'letter')} sent {plural('reads', len(names))} "
            f"otherwise now: {changed}.",
            "letters": names,
        }
        for changed, names in alike.items()
    ]


def decided(made: Decisions) -> list[str]:
    """What a decision recorded, in the desk's words: each average, and the letters reworded."""
    said = [decision.in_words() for decision in made.averages]
    alike: dict[tuple[str, str], list[str]] = {}
    for decision in made.wording:
        alike.setdefault((decision.changed, decision.choice), []).append(decision.authority)
    for (changed, choice), names in alike.items():
        first = made.wording[0]
        what = (
            "kept as sent: they stay sent, and nothing goes again"
            if choice == KEEP
            else "to be corrected: proof and approve them, then each goes as a correction"
        )
        said.append(
            f"{counted(len(names), 'letter')} reworded since sent ({changed}): {what}. "
            f"Recorded for {first.by}: {first.reason}."
        )
    return said


def published(settings: Settings, report: PublishReport) -> dict[str, Any]:
    """What `publish` put in the folder, what it left out (why, and the desk's next step)."""
    day = report.publication_date
    return {
        "folder": _relative(settings, report.folder),
        "publication_date": f"{day.day} {day:%B %Y}",
        "embargoed": report.embargoed,
        "published": [letter.authority for letter in report.letters],
        "files": list(report.files),
        "recorded": report.recorded,
        "left_out": blocked(list(report.left_out)),
    }
