"""The desk's web application: the July batch's steps as a page, each step one of the library's
own functions (the same ones the commands call), so the desk adds no rule of its own.

The page never names a file: it names councils, and the desk finds their letters through the
manifest. Settings are read afresh for every request, so edits to the workbook, template or
letter-merge.toml are seen at once.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import inspect
import json
from collections.abc import Callable
from importlib import resources
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import (
    FileResponse,
    HTMLResponse,
    JSONResponse,
    Response,
    StreamingResponse,
)
from starlette.routing import Route

from letter_merge.app import check as checking
from letter_merge.app import letters, mailing
from letter_merge.app import publish as publishing
from letter_merge.app import status as statuses
from letter_merge.app.inputs import Inputs
from letter_merge.batch import Batch, load_batch
from letter_merge.config import Settings, load_settings
from letter_merge.decisions import decisions_file
from letter_merge.desk.jobs import Busy, Jobs
from letter_merge.desk.security import DeskGuard, DeskKeys
from letter_merge.errors import LetterMergeError, Problem, ProblemsFound
from letter_merge.pdf.convert import Converter
from letter_merge.process import open_folder as open_folder_in_file_manager
from letter_merge.records.standing import STATES
from letter_merge.steps import Blocker, Next
from letter_merge.words import counted

STATIC = resources.files("letter_merge.desk") / "static"

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
        "Sign in for sending once, in a terminal, as the README's Microsoft 365 section says",
        "",
    ),
    Next.NOTHING: ("Nothing", ""),
}


def next_step(step: Next) -> dict[str, str]:
    """A next step as the page shows it: its words, and the step of the page that takes it."""
    text, section = NEXT_STEPS[step]
    return {"text": text, "section": section}


class Desk:
    """What the routes share: where the settings are, the keys, the one running job, and the
    converter kept warm for previews."""

    def __init__(
        self,
        config_file: Path | None,
        keys: DeskKeys,
        converter: Callable[[Settings], Converter],
        previewer: Callable[[Settings], Converter],
    ) -> None:
        self.config_file = config_file
        self.keys = keys
        self.jobs = Jobs()
        self.converter = converter  # for builds: letters converted together
        self.previewer = previewer  # for one letter at a time: a LibreOffice kept running
        self.preview: dict[str, Any] = {}  # the last preview: authority, pages (paths)
        self._batch: tuple[tuple[object, ...], Batch] | None = None

    def settings(self) -> Settings:
        return load_settings(self.config_file)

    def inputs(self) -> Inputs:
        """The settings read afresh, and the batch kept while its files are unchanged."""
        return Inputs(self.settings(), self.batch)

    def fresh_inputs(self) -> Inputs:
        """A batch of its own, for a job (previews may render from the kept one meanwhile)."""
        return Inputs(self.settings())

    def batch(self, settings: Settings) -> Batch:
        """The batch, read again only when one of its files has changed since (previews come
        one after another while a template is being edited)."""
        key = (settings, *(_stamp(p) for p in _inputs(settings)))
        if self._batch is None or self._batch[0] != key:
            self._batch = (key, load_batch(settings))
        return self._batch[1]


def _inputs(settings: Settings) -> list[Path]:
    # decisions.json too: a decision to keep an average changes the figures the batch gives.
    files = [settings.workbook, settings.template, settings.email_template]
    files.append(decisions_file(settings.paths))
    return files + ([settings.config_file] if settings.config_file else [])


def _stamp(path: Path) -> tuple[int, int]:
    try:
        status = path.stat()
    except OSError:
        return (0, 0)
    return (status.st_mtime_ns, status.st_size)


def create_app(
    config_file: Path | None,
    keys: DeskKeys,
    port: int,
    converter: Callable[[Settings], Converter],
    previewer: Callable[[Settings], Converter] | None = None,
) -> DeskGuard:
    desk = Desk(config_file, keys, converter, previewer or converter)

    def route(path: str, handler: Callable[..., Any], methods: tuple[str, ...] = ("GET",)) -> Route:
        async def endpoint(request: Request) -> Response:
            try:
                body = await _body(request)
                if inspect.iscoroutinefunction(handler):
                    result = await handler(desk, request, body)
                else:  # reading workbooks, checking, approving: off the server's own thread
                    result = await asyncio.to_thread(handler, desk, request, body)
                return result if isinstance(result, Response) else JSONResponse(result)
            except ProblemsFound as problems:
                return JSONResponse(
                    {
                        "error": str(problems),
                        "problems": _grouped(desk, problems.problems),
                        "warnings": _grouped(desk, problems.warnings),
                    },
                    409,
                )
            except LetterMergeError as error:
                said: dict[str, Any] = {"error": str(error)}
                if error.next_step is not None:
                    said["next"] = next_step(error.next_step)
                return JSONResponse(said, 409)
            except Busy as error:
                return JSONResponse({"error": str(error)}, 409)

        return Route(path, endpoint, methods=list(methods))

    app = Starlette(
        routes=[
            route("/", page),
            route("/static/{name}", static),
            route("/favicon.ico", lambda *_: Response(status_code=204)),
            route("/api/state", state),
            route("/api/open-folder", open_folder, ("POST",)),
            route("/api/check", check, ("POST",)),
            route("/api/councils", councils),
            route("/api/preview", preview, ("POST",)),
            route("/preview/{number:int}.png", preview_page),
            route("/preview/email.html", preview_email_page),
            route("/api/build/plan", build_plan, ("POST",)),
            route("/api/build", build, ("POST",)),
            route("/api/proof", proof, ("POST",)),
            route("/proof/", proof_page),
            route("/proof/all-letters.pdf", proof_pdf),
            route("/letters/{name}", letter_pdf),
            route("/api/approve", approve, ("POST",)),
            route("/api/queue", queue, ("POST",)),
            route("/api/send/plan", send_plan, ("POST",)),
            route("/api/send", send, ("POST",)),
            route("/api/settle", settle, ("POST",)),
            route("/api/job/pause", pause, ("POST",)),
            route("/api/job/resume", resume, ("POST",)),
            route("/api/events", events),
            route("/api/status", status),
            route("/api/history", council_history, ("POST",)),
            route("/api/delivery", delivery, ("POST",)),
            route("/api/averages", averages, ("POST",)),
            route("/status.csv", status_csv),
            route("/api/publish", publish, ("POST",)),
        ]
    )
    guard = DeskGuard(
        app, keys, port, inline=lambda path: path in ("/proof/", "/preview/email.html")
    )
    guard.desk = desk  # what the routes share, for the tests to look at
    return guard


async def _body(request: Request) -> dict[str, Any]:
    if request.method != "POST":
        return {}
    raw = await request.body()
    if not raw:
        return {}
    try:
        data = json.loads(raw)
    except ValueError:
        raise LetterMergeError("The page sent something the desk cannot read.") from None
    if not isinstance(data, dict):
        raise LetterMergeError("The page sent something the desk cannot read.")
    return data


def _names(data: dict[str, Any], key: str = "only") -> list[str]:
    value = data.get(key, [])
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise LetterMergeError(f"'{key}' must be a list of council names.")
    return [v for v in value if v.strip()]


def _text(data: dict[str, Any], key: str) -> str:
    value = data.get(key, "")
    if not isinstance(value, str):
        raise LetterMergeError(f"'{key}' must be text.")
    return value.strip()


# -- the page ---------------------------------------------------------------------------------


def page(desk: Desk, request: Request, data: dict[str, Any]) -> Response:
    html = (STATIC / "desk.html").read_text(encoding="utf-8")
    return HTMLResponse(html.replace("{{CSRF}}", desk.keys.csrf))


def static(desk: Desk, request: Request, data: dict[str, Any]) -> Response:
    name = request.path_params["name"]
    types = {"desk.js": "text/javascript", "desk.css": "text/css"}
    if name not in types:  # only these two files, whatever is asked for
        return Response("Not found", 404)
    return Response((STATIC / name).read_bytes(), media_type=types[name])


# -- 1. files -----------------------------------------------------------------------------------


def state(desk: Desk, request: Request, data: dict[str, Any]) -> dict[str, Any]:
    settings = desk.settings()
    files = []
    for label, path in (
        ("Workbook", settings.workbook),
        ("Letter template", settings.template),
        ("Email template", settings.email_template),
        ("Settings", settings.config_file),
    ):
        if path is None:
            continue
        files.append(
            {
                "label": label,
                "name": _relative(settings, path),
                "changed": _when(path),
                "changed_ns": _stamp(path)[0],
            }
        )
    return {
        "year": settings.year,
        "folder": str(settings.config_file.parent) if settings.config_file else "",
        "files": files,
        "pdf": settings.pdf.in_words(),
        "server": mailing.mail_server(settings),
        "sender": settings.email_from,
        "job": desk.jobs.current(),
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


def open_folder(desk: Desk, request: Request, data: dict[str, Any]) -> dict[str, Any]:
    settings = desk.settings()
    folder = settings.config_file.parent if settings.config_file else Path.cwd()
    if not open_folder_in_file_manager(folder):
        return {"opened": False, "folder": str(folder)}
    return {"opened": True, "folder": str(folder)}


# -- 2. check -----------------------------------------------------------------------------------


def check(desk: Desk, request: Request, data: dict[str, Any]) -> dict[str, Any]:
    try:
        report = checking.check(desk.inputs())
    except ProblemsFound as found:
        return {
            "ok": False,
            "problems": _grouped(desk, found.problems),
            "warnings": _grouped(desk, found.warnings),
        }
    return {
        "ok": True,
        "problems": [],
        "warnings": _grouped(desk, list(report.warnings)),
        "councils": report.councils,
        "unused": list(report.unused),
    }


def _grouped(desk: Desk, problems: list[Problem]) -> list[dict[str, Any]]:
    """Problems by the file they are in, each with its place and what to do, as `check` says."""
    groups: dict[str, list[dict[str, str]]] = {}
    for problem in problems:
        groups.setdefault(problem.file or "letter-merge", []).append(
            {"where": problem.where, "message": problem.message}
        )
    return [{"file": file, "items": items} for file, items in groups.items()]


def councils(desk: Desk, request: Request, data: dict[str, Any]) -> dict[str, Any]:
    """The councils to choose from; none while the inputs have problems (Check says which)."""
    try:
        batch = desk.inputs().batch()
    except ProblemsFound:
        return {"councils": []}
    return {
        "councils": [
            {"name": c.authority, "type": c.authority_type} for c in batch.workbook.councils
        ]
    }


# -- 3. preview ---------------------------------------------------------------------------------


def preview(desk: Desk, request: Request, data: dict[str, Any]) -> dict[str, Any]:
    name = _text(data, "name")
    if not name:
        raise LetterMergeError("Type a council's name to preview its letter.")
    inputs = desk.inputs()
    made = letters.preview(inputs, name, desk.previewer(inputs.settings))
    mail = letters.preview_email(inputs, name)
    desk.preview = {"authority": made.authority, "pages": list(made.pages), "email": mail.page}
    return {"authority": made.authority, "pages": len(made.pages), "email": mail.subject}


def preview_email_page(desk: Desk, request: Request, data: dict[str, Any]) -> Response:
    """The email as the council will see it (shown in a sandboxed frame: no script runs)."""
    page: Path | None = desk.preview.get("email")
    if page is None:
        return Response("Not found", 404)
    return FileResponse(page, media_type="text/html; charset=utf-8")


def preview_page(desk: Desk, request: Request, data: dict[str, Any]) -> Response:
    pages: list[Path] = desk.preview.get("pages", [])
    number = int(request.path_params["number"])
    if not 1 <= number <= len(pages):
        return Response("Not found", 404)
    return FileResponse(pages[number - 1], media_type="image/png")


# -- 4. build, 5. proof -----------------------------------------------------------------------


def build_plan(desk: Desk, request: Request, data: dict[str, Any]) -> dict[str, Any]:
    """What a build would do: the question to ask first, when letters already sent would be
    built again ("" when there is nothing to ask)."""
    return {"confirm": _rebuild_question(letters.plan_build(desk.inputs(), only=_names(data)))}


def _rebuild_question(plan: letters.BuildPlan) -> str:
    if not plan.sent_again:
        return ""
    return f"{plan.warning} Build the {counted(len(plan.sent_again), 'letter')} sent again?"


def build(desk: Desk, request: Request, data: dict[str, Any]) -> dict[str, Any]:
    """Build the letters; letters already sent only once the person said yes (`confirmed`)."""
    inputs = desk.fresh_inputs()
    plan = letters.plan_build(inputs, only=_names(data))  # problems now, not in the job
    if plan.sent_again and data.get("confirmed") is not True:
        raise LetterMergeError(f"{plan.warning} Confirm to build them again.")
    converter = desk.converter(inputs.settings)

    def work(progress: Callable[[str, int, int], None]) -> dict[str, Any]:
        result = letters.build(inputs, plan, converter=converter, on_progress=progress)
        report = result.report
        return {
            "built": sum(1 for o in report.letters if o.remade and not o.error) if report else 0,
            "unchanged": len(report.unchanged) if report else 0,
            "failed": [{"authority": o.authority, "why": o.error} for o in report.failed]
            if report
            else [],
            "held": _blocked(list(plan.held)),
            "sent_again": len(plan.sent_again),
            "differ": list(result.differ),
            "notices": report.notices if report else [],
            "seconds": round(report.seconds, 1) if report else 0,
        }

    return desk.jobs.start("build", work)


def proof(desk: Desk, request: Request, data: dict[str, Any]) -> dict[str, Any]:
    inputs = desk.fresh_inputs()
    inputs.batch()

    def work(progress: Callable[[str, int, int], None]) -> dict[str, Any]:
        report = letters.proof(inputs, on_progress=progress)
        problems = [
            {
                "authority": card.authority,
                "why": "; ".join(
                    f"{c.name}{f' ({c.detail})' if c.detail else ''}" for c in card.problems
                ),
            }
            for card in report.with_problems
        ]
        return {"letters": len(report.cards), "problems": problems, "changes": report.changes}

    return desk.jobs.start("proof", work)


def proof_page(desk: Desk, request: Request, data: dict[str, Any]) -> Response:
    index = desk.settings().paths.proof / "index.html"
    if not index.is_file():
        return HTMLResponse("<p>No proof yet: make one with the Proof step.</p>", 404)
    return FileResponse(index, media_type="text/html")


def proof_pdf(desk: Desk, request: Request, data: dict[str, Any]) -> Response:
    """The proof's letters as one PDF, which the proof page links to."""
    combined = desk.settings().paths.proof / "all-letters.pdf"
    if not combined.is_file():
        return HTMLResponse("<p>No proof yet: make one with the Proof step.</p>", 404)
    return FileResponse(combined, media_type="application/pdf")


def letter_pdf(desk: Desk, request: Request, data: dict[str, Any]) -> Response:
    """A built letter's PDF, found by its file name among the batch's letters only."""
    found = letters.built_pdf(desk.settings(), request.path_params["name"])
    if found is None:
        return Response("Not found", 404)
    return FileResponse(found, media_type="application/pdf")


# -- 6. approve, 7. queue and test send, 8. send ---------------------------------------------


def approve(desk: Desk, request: Request, data: dict[str, Any]) -> dict[str, Any]:
    report = mailing.approve(
        desk.fresh_inputs(),
        _text(data, "by"),
        only=_names(data),
        despite_proof=_text(data, "despite_proof"),
    )
    return {
        "approved": report.approved,
        "despite_proof": report.despite_proof,
        "already": report.already,
        "refused": _blocked(report.refused),
    }


def queue(desk: Desk, request: Request, data: dict[str, Any]) -> dict[str, Any]:
    report = mailing.queue(
        desk.inputs(),
        corrections=_names(data, "corrections"),
        reason=_text(data, "reason"),
        note=_text(data, "note"),
        resends=_names(data, "resends"),
    )
    return {
        "queued": report.queued,
        "corrections": report.corrections,
        "resends": report.resends,
        "already": report.already,
        "skipped": _blocked(report.skipped),
    }


def _reasons(pairs: list[tuple[str, str]]) -> list[dict[str, str]]:
    """(authority, why) pairs as the page shows them."""
    return [{"authority": authority, "why": why} for authority, why in pairs]


def _blocked(pairs: list[tuple[str, Blocker]]) -> list[dict[str, Any]]:
    """Letters a step could not go ahead for: why, and the desk's next step for each."""
    return [
        {
            "authority": authority,
            "why": blocker.why
            if blocker.next == Next.NOTHING
            else f"{blocker.why}. Next: {NEXT_STEPS[blocker.next][0].lower()}.",
            "next": next_step(blocker.next),
        }
        for authority, blocker in pairs
    ]


def send_plan(desk: Desk, request: Request, data: dict[str, Any]) -> dict[str, Any]:
    """What a send would do, as `send` says before it asks: nothing is sent or changed."""
    settings = desk.settings()
    sending = _send_request(data)
    report = mailing.plan_send(settings, sending)
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
        "test_to": sending.test_to,
        "messages": [
            {
                "authority": m.authority,
                "recipients": list(m.recipients),
                "correction": m.correction,
                "sent_before": m.sent_before,
            }
            for m in messages
        ],
        "refused": _blocked(report.refused),
        "in_doubt": report.in_doubt,
    }


def _send_request(data: dict[str, Any]) -> mailing.SendRequest:
    retry = data.get("retry_failed", False)
    return mailing.SendRequest(
        _text(data, "test_to") or None, tuple(_names(data)), None, retry is True
    ).checked()


def send(desk: Desk, request: Request, data: dict[str, Any]) -> dict[str, Any]:
    """Send (or test-send) what was shown: `expected` is the count the person confirmed, and a
    plan that no longer matches it sends nothing."""
    settings = desk.settings()
    sending = _send_request(data)  # a wrong request is said now, not in the job
    expected = data.get("expected")
    if not isinstance(expected, int):
        raise LetterMergeError("Confirm the send first: the page must say how many will go.")

    def work(progress: Callable[[str, int, int], None]) -> dict[str, Any]:
        report = mailing.send(
            settings,
            sending,
            confirm=lambda plan: len(plan.messages) == expected,
            on_progress=progress,
        )
        return {
            "cancelled": report.cancelled,
            "sent": report.sent,
            "failed": _reasons(report.failed),
            "deferred": _reasons(report.deferred),
            "refused": _blocked(report.refused),
            "in_doubt": report.in_doubt,
            # in doubt when the send began, settled from the mailbox (Graph): [name, was sent]
            "settled": report.settled,
            "test_to": sending.test_to,
        }

    return desk.jobs.start("test send" if sending.test_to else "send", work)


def settle(desk: Desk, request: Request, data: dict[str, Any]) -> dict[str, Any]:
    """A send that was cut off, settled: it arrived ("sent"), or it goes again ("retry")."""
    return {"settled": mailing.settle(desk.settings(), _text(data, "outcome"))}


def pause(desk: Desk, request: Request, data: dict[str, Any]) -> dict[str, Any]:
    desk.jobs.pause()
    return {"job": desk.jobs.current()}


def resume(desk: Desk, request: Request, data: dict[str, Any]) -> dict[str, Any]:
    desk.jobs.resume()
    return {"job": desk.jobs.current()}


async def events(desk: Desk, request: Request, data: dict[str, Any]) -> Response:
    """The running job's progress as server-sent events, one whenever it changes."""

    async def stream() -> Any:
        seen = None
        while not await request.is_disconnected():
            version = desk.jobs.version()
            if version != seen:
                seen = version
                yield f"data: {json.dumps(desk.jobs.current())}\n\n"
            await asyncio.to_thread(desk.jobs.wait_for_change, version, 1.0)

    return StreamingResponse(stream(), media_type="text/event-stream")


# -- 9. status ---------------------------------------------------------------------------------


def delivery(desk: Desk, request: Request, data: dict[str, Any]) -> dict[str, Any]:
    """Read the sending mailbox once, as `letter-merge delivery` does."""
    settings = desk.settings()
    found = mailing.read_mailbox(settings)
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


def status(desk: Desk, request: Request, data: dict[str, Any]) -> dict[str, Any]:
    report = statuses.status(desk.inputs())
    return {
        "built": report.built,
        "counts": {line.state: line.count for line in report.counts},
        "came_back": report.came_back,
        "meanings": {state: meaning for state, (meaning, _) in STATES.items()},
        "unknown_because": _grouped(desk, list(report.unknown_because)),
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
                "text": str(moved),
                "decided": (
                    f"{moved.decision.choice} ({moved.decision.by}, {moved.decision.at[:10]})"
                    if moved.decision
                    else ""
                ),
            }
            for moved in report.moved_averages
        ],
        "letters": [
            {
                "authority": s.authority,
                "state": s.state,
                "why": s.why,
                "next": next_step(s.next_step),
                "proof": s.proof_result if s.record and s.record.pdf else "",
                "email": s.record.recipient.email if s.record else "",
                "approved_by": s.approval.approved_by if s.approval_holds and s.approval else "",
                "updated_at": s.last.updated_at if s.last else "",
                "last_reply": s.last.last_reply if s.last else "",
                "messages": len(s.messages),
            }
            for s in report.letters
        ],
    }


def averages(desk: Desk, request: Request, data: dict[str, Any]) -> dict[str, Any]:
    """The office's decision about the averages a correction moved, on the record."""
    made = mailing.decide(desk.fresh_inputs(), _text(data, "choice"), _text(data, "by"))
    return {"decided": [decision.in_words() for decision in made]}


def council_history(desk: Desk, request: Request, data: dict[str, Any]) -> dict[str, Any]:
    record = statuses.council_history(desk.inputs(), _text(data, "name"))
    standing = record.standing
    return {
        "authority": standing.authority,
        "state": standing.state,
        "why": standing.why,
        "next": next_step(standing.next_step),
        "proof": standing.proof_result,
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


def status_csv(desk: Desk, request: Request, data: dict[str, Any]) -> Response:
    settings = desk.settings()
    folder = settings.paths.year_dir
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / "status.csv"
    statuses.write_status_csv(statuses.status(desk.inputs()), target)
    body = target.read_bytes()
    name = f"letter-merge-status-{settings.year}.csv"
    return Response(
        body,
        media_type="text/csv; charset=utf-8",
        headers={"content-disposition": f'attachment; filename="{name}"'},
    )


def publish(desk: Desk, request: Request, data: dict[str, Any]) -> dict[str, Any]:
    """Publication day: the publish folder written, and checked against the record."""
    report = publishing.publish(desk.fresh_inputs())
    day = report.publication_date
    return {
        "folder": _relative(desk.settings(), report.folder),
        "publication_date": f"{day.day} {day:%B %Y}",
        "embargoed": report.embargoed,
        "published": [letter.authority for letter in report.letters],
        "files": list(report.files),
        "recorded": report.recorded,
        "left_out": _blocked(list(report.left_out)),
    }
