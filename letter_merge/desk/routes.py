"""The desk's routes: what the page asks, read and checked, handed to one of app/'s functions
(the same ones the commands call), and the result handed to views.py to be put in words. The
page never names a file: it names councils, and the desk finds their letters through the
manifest. The route table is at the end."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from importlib import resources
from pathlib import Path
from typing import Any

from starlette.requests import Request
from starlette.responses import (
    FileResponse,
    HTMLResponse,
    JSONResponse,
    Response,
    StreamingResponse,
)

from letter_merge.app import checking, letters, mailing, programs, publishing, statuses
from letter_merge.desk import views
from letter_merge.desk.state import Desk
from letter_merge.errors import LetterMergeError, ProblemsFound
from letter_merge.words import counted

STATIC = resources.files("letter_merge.desk") / "static"

Handler = Callable[[Desk, Request, dict[str, Any]], Any]


# The largest request the page ever sends is a few lists of council names: far under this.
LARGEST_BODY = 1 << 20  # 1 MiB


class Malformed(LetterMergeError):
    """A request the page never sends (not JSON, or a value of the wrong type): 400."""

    status = 400


class TooLarge(LetterMergeError):
    """A request's body over LARGEST_BODY: 413, said before the rest of it is read."""

    status = 413


async def body(request: Request) -> dict[str, Any]:
    """A POST's JSON object ({} for a GET or an empty body), read up to LARGEST_BODY only."""
    if request.method != "POST":
        return {}
    too_large = TooLarge(f"The request is larger than the desk accepts ({LARGEST_BODY} bytes).")
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > LARGEST_BODY:
        raise too_large
    raw = bytearray()
    async for chunk in request.stream():
        raw += chunk
        if len(raw) > LARGEST_BODY:
            raise too_large
    if not raw:
        return {}
    try:
        data = json.loads(raw)
    except ValueError:
        raise Malformed("The page sent something the desk cannot read.") from None
    if not isinstance(data, dict):
        raise Malformed("The page sent something the desk cannot read.")
    return data


def names(data: dict[str, Any], key: str = "only") -> list[str]:
    value = data.get(key, [])
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise Malformed(f"'{key}' must be a list of council names.")
    return [v for v in value if v.strip()]


def text(data: dict[str, Any], key: str) -> str:
    value = data.get(key, "")
    if not isinstance(value, str):
        raise Malformed(f"'{key}' must be text.")
    return value.strip()


def flag(data: dict[str, Any], key: str) -> bool:
    value = data.get(key, False)
    if not isinstance(value, bool):
        raise Malformed(f"'{key}' must be true or false.")
    return value


def send_request(data: dict[str, Any]) -> mailing.SendRequest:
    return mailing.SendRequest(
        text(data, "test_to") or None, tuple(names(data)), None, flag(data, "retry_failed")
    ).checked()


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


def no_icon(desk: Desk, request: Request, data: dict[str, Any]) -> Response:
    return Response(status_code=204)


# -- 1. files -----------------------------------------------------------------------------------


def state(desk: Desk, request: Request, data: dict[str, Any]) -> dict[str, Any]:
    settings = desk.settings()
    return views.desk_state(settings, mailing.mail_server(settings), desk.jobs.current())


def open_folder(desk: Desk, request: Request, data: dict[str, Any]) -> dict[str, Any]:
    settings = desk.settings()
    folder = settings.config_file.parent if settings.config_file else Path.cwd()
    return {"opened": programs.open_folder(folder), "folder": str(folder)}


# -- 2. check -----------------------------------------------------------------------------------


def check(desk: Desk, request: Request, data: dict[str, Any]) -> dict[str, Any]:
    inputs = desk.inputs()
    try:
        report = checking.check(inputs)
    except ProblemsFound as found:
        return views.check_failed(found.problems, found.warnings)
    except LetterMergeError as error:  # a file that cannot be read at all: filed under it
        return views.check_unreadable(inputs.settings, error)
    return views.check_passed(report)


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
    name = text(data, "name")
    if not name:
        raise LetterMergeError("Type a council's name to preview its letter.")
    inputs = desk.inputs()
    made = letters.preview(inputs, name, desk.previewer(inputs.settings))
    mail = letters.email_preview(inputs, name)
    desk.preview = {"authority": made.authority, "pages": list(made.pages), "email": mail.page}
    return {"authority": made.authority, "pages": len(made.pages), "email": mail.subject}


def preview_email_page(desk: Desk, request: Request, data: dict[str, Any]) -> Response:
    """The email as the council will see it (shown in a sandboxed frame: no script runs)."""
    email = desk.preview.get("email")
    if email is None:
        return Response("Not found", 404)
    return FileResponse(email, media_type="text/html; charset=utf-8")


def preview_page(desk: Desk, request: Request, data: dict[str, Any]) -> Response:
    pages = desk.preview.get("pages", [])
    number = int(request.path_params["number"])
    if not 1 <= number <= len(pages):
        return Response("Not found", 404)
    return FileResponse(pages[number - 1], media_type="image/png")


# -- 4. build, 5. proof -----------------------------------------------------------------------


def build_plan(desk: Desk, request: Request, data: dict[str, Any]) -> dict[str, Any]:
    """What a build would do: the question to ask first, when letters already sent would be
    built again ("" when there is nothing to ask)."""
    plan = letters.plan_build(desk.inputs(), only=names(data))
    if not plan.sent_again:
        return {"confirm": ""}
    return {
        "confirm": f"{plan.warning} Build the {counted(len(plan.sent_again), 'letter')} sent again?"
    }


def build(desk: Desk, request: Request, data: dict[str, Any]) -> dict[str, Any]:
    """Build the letters; letters already sent only once the person said yes (`confirmed`)."""
    confirmed = flag(data, "confirmed")
    inputs = desk.fresh_inputs()
    plan = letters.plan_build(inputs, only=names(data))  # problems now, not in the job
    if plan.sent_again and not confirmed:
        raise LetterMergeError(f"{plan.warning} Confirm to build them again.")
    converter = desk.converter(inputs.settings)

    def work(progress: Callable[[str, int, int], None]) -> dict[str, Any]:
        return views.build_done(
            letters.build(inputs, plan, converter=converter, on_progress=progress)
        )

    return desk.jobs.start("build", work)


def proof(desk: Desk, request: Request, data: dict[str, Any]) -> dict[str, Any]:
    inputs = desk.fresh_inputs()
    inputs.batch()

    def work(progress: Callable[[str, int, int], None]) -> dict[str, Any]:
        return views.proof_done(letters.proof(inputs, on_progress=progress))

    return desk.jobs.start("proof", work)


def proof_page(desk: Desk, request: Request, data: dict[str, Any]) -> Response:
    index = desk.settings().paths.proof_page
    if not index.is_file():
        return HTMLResponse("<p>No proof yet: make one with the Proof step.</p>", 404)
    return FileResponse(index, media_type="text/html")


def proof_pdf(desk: Desk, request: Request, data: dict[str, Any]) -> Response:
    """The proof's letters as one PDF, which the proof page links to."""
    combined = desk.settings().paths.proof_letters
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
        text(data, "by"),
        only=names(data),
        despite_proof=text(data, "despite_proof"),
    )
    return views.approved(report)


def queue(desk: Desk, request: Request, data: dict[str, Any]) -> dict[str, Any]:
    report = mailing.queue(
        desk.inputs(),
        corrections=names(data, "corrections"),
        reason=text(data, "reason"),
        note=text(data, "note"),
        resends=names(data, "resends"),
    )
    return views.queued(report)


def send_plan(desk: Desk, request: Request, data: dict[str, Any]) -> dict[str, Any]:
    """What a send would do, as `send` says before it asks: nothing is sent or changed."""
    settings = desk.settings()
    sending = send_request(data)
    return views.send_plan(settings, sending, mailing.plan_send(settings, sending))


def send(desk: Desk, request: Request, data: dict[str, Any]) -> dict[str, Any]:
    """Send (or test-send) what was shown: `expected` is the count the person confirmed, and a
    plan that no longer matches it sends nothing."""
    settings = desk.settings()
    sending = send_request(data)  # a wrong request is said now, not in the job
    expected = data.get("expected")
    if not isinstance(expected, int) or isinstance(expected, bool):
        raise Malformed("Confirm the send first: the page must say how many will go.")

    def work(progress: Callable[[str, int, int], None]) -> dict[str, Any]:
        report = mailing.send(
            settings,
            sending,
            confirm=lambda plan: len(plan.messages) == expected,
            on_progress=progress,
        )
        return views.sent(sending, report)

    return desk.jobs.start("test send" if sending.test_to else "send", work)


def settle(desk: Desk, request: Request, data: dict[str, Any]) -> dict[str, Any]:
    """A send that was cut off, settled: it arrived ("sent"), or it goes again ("retry"); the
    councils `only` names, one at a time, or every one."""
    settled = mailing.settle(desk.settings(), text(data, "outcome"), names(data))
    return {"settled": settled}


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
    return views.came_back(settings, mailing.read_mailbox(settings))


def version(desk: Desk, request: Request, data: dict[str, Any]) -> dict[str, Any]:
    """What the page asks every few seconds: the record's version (it changes whenever the
    record or the inputs do, from this desk, another tab or the command line) and the job's."""
    return {"record": statuses.record_version(desk.settings()), "job": desk.jobs.version()}


def status(desk: Desk, request: Request, data: dict[str, Any]) -> dict[str, Any]:
    return views.status(statuses.status(desk.inputs()))


def averages(desk: Desk, request: Request, data: dict[str, Any]) -> dict[str, Any]:
    """The office's decision about the averages a correction moved, on the record."""
    made = mailing.decide(desk.fresh_inputs(), text(data, "choice"), text(data, "by"))
    return {"decided": [decision.in_words() for decision in made]}


def decide(desk: Desk, request: Request, data: dict[str, Any]) -> dict[str, Any]:
    """The office's decision, once, about everything waiting: the averages that moved and the
    letters reworded since they were sent."""
    made = mailing.decide_all(
        desk.fresh_inputs(),
        text(data, "choice"),
        text(data, "by"),
        reason=text(data, "reason"),
        authority_type=text(data, "type"),
    )
    return {"decided": views.decided(made)}


def council_history(desk: Desk, request: Request, data: dict[str, Any]) -> dict[str, Any]:
    return views.history(statuses.council_history(desk.inputs(), text(data, "name")))


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


# -- 10. publish -------------------------------------------------------------------------------


def publish(desk: Desk, request: Request, data: dict[str, Any]) -> dict[str, Any]:
    """Publication day: the publish folder written, and checked against the record."""
    return views.published(desk.settings(), publishing.publish(desk.fresh_inputs()))


GET, POST = ("GET",), ("POST",)

# Every address the desk answers: (path, handler, methods).
ROUTES: tuple[tuple[str, Handler, tuple[str, ...]], ...] = (
    ("/", page, GET),
    ("/static/{name}", static, GET),
    ("/favicon.ico", no_icon, GET),
    ("/api/state", state, GET),
    ("/api/open-folder", open_folder, POST),
    ("/api/check", check, POST),
    ("/api/councils", councils, GET),
    ("/api/preview", preview, POST),
    ("/preview/{number:int}.png", preview_page, GET),
    ("/preview/email.html", preview_email_page, GET),
    ("/api/build/plan", build_plan, POST),
    ("/api/build", build, POST),
    ("/api/proof", proof, POST),
    ("/proof/", proof_page, GET),
    ("/proof/all-letters.pdf", proof_pdf, GET),
    ("/letters/{name}", letter_pdf, GET),
    ("/api/approve", approve, POST),
    ("/api/queue", queue, POST),
    ("/api/send/plan", send_plan, POST),
    ("/api/send", send, POST),
    ("/api/settle", settle, POST),
    ("/api/job/pause", pause, POST),
    ("/api/job/resume", resume, POST),
    ("/api/events", events, GET),
    ("/api/version", version, GET),
    ("/api/status", status, GET),
    ("/api/history", council_history, POST),
    ("/api/delivery", delivery, POST),
    ("/api/averages", averages, POST),
    ("/api/decide", decide, POST),
    ("/status.csv", status_csv, GET),
    ("/api/publish", publish, POST),
)

# Pages the desk shows in a frame of its own (see security.py).
INLINE = ("/proof/", "/preview/email.html")


def refused(error: LetterMergeError) -> JSONResponse:
    """An error of the library (Busy too) as the page shows it: its words, with the problems
    by file or the desk's next step."""
    if isinstance(error, ProblemsFound):
        return JSONResponse(
            {
                "error": str(error),
                "problems": views.grouped(error.problems),
                "warnings": views.grouped(error.warnings),
            },
            409,
        )
    said: dict[str, Any] = {"error": str(error)}
    if error.next_step is not None:
        said["next"] = views.next_step(error.next_step)
    return JSONResponse(said, getattr(error, "status", 409))
