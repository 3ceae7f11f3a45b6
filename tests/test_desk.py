"""The desk as a server: loopback only, a key in the address, the Host and CSRF checks, no CORS,
no file named by the page, no secret in any answer; and one long job at a time."""

from __future__ import annotations

import asyncio
import shutil
import signal
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx2 as httpx
import pytest
from starlette.requests import Request
from starlette.testclient import TestClient

from letter_merge.config import Settings
from letter_merge.desk.app import create_app
from letter_merge.desk.jobs import DONE, PAUSED, RUNNING, Busy, Jobs
from letter_merge.desk.routes import TooLarge, body
from letter_merge.desk.security import COOKIE, DeskKeys
from letter_merge.desk.server import HOST, listening_socket
from letter_merge.desk.state import Desk
from letter_merge.files import try_lock
from letter_merge.pdf.converters import make_converter
from tests.helpers import ROOT, desk_process

PORT = 8731
ORIGIN = f"http://127.0.0.1:{PORT}"


@pytest.fixture
def keys() -> DeskKeys:
    return DeskKeys()


@pytest.fixture
def app(folder: Path, keys: DeskKeys) -> Any:
    def converter(settings: Settings) -> Any:
        return make_converter("libreoffice", pdf=settings.pdf)

    return create_app(folder / "letter-merge.toml", keys, PORT, converter)


@pytest.fixture
def browser(app: Any, keys: DeskKeys) -> Iterator[TestClient]:
    """A client that opened the desk's address, as the browser does: it has the cookie."""
    with TestClient(app, base_url=ORIGIN, follow_redirects=False) as client:
        answer = client.get(f"/?token={keys.address_key}")
        assert answer.status_code == 303
        yield client


def post(client: TestClient, path: str, keys: DeskKeys, **body: Any) -> httpx.Response:
    return client.post(path, json=body, headers={"X-CSRF-Token": keys.csrf, "Origin": ORIGIN})


# -- the key, the cookie, the Host ------------------------------------------------------------


def test_nothing_is_served_without_the_key(app: Any) -> None:
    with TestClient(app, base_url=ORIGIN) as client:
        for path in ("/", "/api/state", "/api/status", "/status.csv", "/proof/", "/static/desk.js"):
            answer = client.get(path)
            assert answer.status_code == 403, path
            assert "needs the address the desk printed" in answer.text
        assert client.get("/?token=not-the-key").status_code == 403


def test_the_key_is_exchanged_for_a_cookie_and_leaves_the_address(app: Any, keys: DeskKeys) -> None:
    with TestClient(app, base_url=ORIGIN, follow_redirects=False) as client:
        answer = client.get(f"/?token={keys.address_key}")
        assert answer.status_code == 303
        assert answer.headers["location"] == "/"
        cookie = answer.headers["set-cookie"]
        assert cookie.startswith(f"{COOKIE}={keys.session};")
        assert "HttpOnly" in cookie and "SameSite=Strict" in cookie
        assert keys.address_key not in cookie
        page = client.get("/")
        assert page.status_code == 200
        assert f'<meta name="csrf-token" content="{keys.csrf}">' in page.text
        assert page.headers["cache-control"] == "no-store"
        assert page.headers["referrer-policy"] == "no-referrer"
        assert "script-src 'self';" in page.headers["content-security-policy"]


def test_a_request_for_another_host_is_refused(browser: TestClient, keys: DeskKeys) -> None:
    # DNS rebinding: a page elsewhere, its name pointed at 127.0.0.1, still says its own Host.
    for host in ("evil.example", f"evil.example:{PORT}", "127.0.0.1:1", "0.0.0.0:8731"):
        answer = browser.get("/api/state", headers={"Host": host})
        assert answer.status_code == 421, host
        answer = browser.get(f"/?token={keys.address_key}", headers={"Host": host})
        assert answer.status_code == 421 and "set-cookie" not in answer.headers
    assert browser.get("/api/state", headers={"Host": f"localhost:{PORT}"}).status_code == 200


def test_every_change_needs_the_page_s_csrf_token(browser: TestClient, keys: DeskKeys) -> None:
    # Without the token (as a form on another site would post): refused, nothing done.
    answer = browser.post("/api/approve", json={"by": "Mallory"})
    assert answer.status_code == 403
    assert answer.text == "Refused: this request did not come from the desk's page."
    wrong = browser.post("/api/approve", json={"by": "Mallory"}, headers={"X-CSRF-Token": "x"})
    assert wrong.status_code == 403
    # The right token from another origin: refused too.
    cross = browser.post(
        "/api/approve",
        json={"by": "Mallory"},
        headers={"X-CSRF-Token": keys.csrf, "Origin": "http://evil.example"},
    )
    assert cross.status_code == 403
    # A change is never a GET.
    assert browser.get("/api/approve").status_code == 405
    # From the page itself: let through, to approve's own rules (nothing is built yet).
    answer = post(browser, "/api/approve", keys, by="Sam Smith")
    assert answer.status_code == 409
    assert answer.json() == {  # the next step in the desk's words, at its own step
        "error": "No letters have been built for 2020 yet: build them first.",
        "next": {"text": "Build it, then proof and approve it", "section": "build"},
    }


def test_no_other_site_may_read_an_answer(browser: TestClient) -> None:
    answer = browser.get("/api/state", headers={"Origin": "http://evil.example"})
    assert answer.status_code == 200
    assert not [h for h in answer.headers if h.lower().startswith("access-control-")]
    preflight = browser.options(
        "/api/approve",
        headers={"Origin": "http://evil.example", "Access-Control-Request-Method": "POST"},
    )
    assert preflight.status_code != 200
    assert not [h for h in preflight.headers if h.lower().startswith("access-control-")]


def test_the_page_never_names_a_file(browser: TestClient) -> None:
    for path in (
        "/letters/..%2F..%2Fletter-merge.toml",
        "/letters/../../letter-merge.toml",
        "/letters/%2Fetc%2Fpasswd",
        "/static/app.py",
        "/static/..%2Fapp.py",
        "/preview/1.png",
        "/preview/0.png",
    ):
        answer = browser.get(path)
        assert answer.status_code == 404, path
        assert b"[batch]" not in answer.content and b"root:" not in answer.content


def test_no_secret_reaches_the_page(
    browser: TestClient, keys: DeskKeys, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LETTER_MERGE_SMTP_PASSWORD", "s3cret-Passw0rd")
    monkeypatch.setenv("LETTER_MERGE_OAUTH2_CLIENT_SECRET", "client-s3cret")
    answers = [
        browser.get("/api/state"),
        browser.get("/api/status"),
        post(browser, "/api/send/plan", keys),
        post(browser, "/api/check", keys),
    ]
    for answer in answers:
        assert "s3cret" not in answer.text, answer.url
    assert keys.address_key not in answers[0].text and keys.session not in answers[0].text


def test_the_desk_says_what_is_wrong_with_a_request(browser: TestClient, keys: DeskKeys) -> None:
    answer = post(browser, "/api/build", keys, only=["Nowhere"])
    assert answer.status_code == 409
    assert "Nowhere" in answer.json()["error"]
    answer = post(browser, "/api/build", keys, only="Derby")
    assert answer.json() == {"error": "'only' must be a list of council names."}
    answer = browser.post(
        "/api/build",
        content=b"{not json",
        headers={"X-CSRF-Token": keys.csrf, "Content-Type": "application/json"},
    )
    assert answer.json() == {"error": "The page sent something the desk cannot read."}
    assert answer.status_code == 400


def test_a_malformed_request_is_400_and_a_large_one_413_unread(
    browser: TestClient, keys: DeskKeys
) -> None:
    headers = {"X-CSRF-Token": keys.csrf, "Content-Type": "application/json"}
    wrong: list[tuple[str, dict[str, Any]]] = [
        ("/api/build", {"only": "Derby"}),
        ("/api/build", {"only": [1, 2]}),
        ("/api/build", {"confirmed": "yes", "only": []}),
        ("/api/preview", {"name": 12}),
        ("/api/send/plan", {"retry_failed": "true"}),
        ("/api/send", {"expected": "3"}),
        ("/api/send", {"expected": True}),
        ("/api/approve", {"by": ["Jo"]}),
    ]
    for path, sent in wrong:
        answer = post(browser, path, keys, **sent)
        assert answer.status_code == 400, (path, sent, answer.text)
        assert answer.json()["error"], answer.text
    for content in (b"[1, 2]", b'"text"', b"{not json", b"\xff\xfe"):
        answer = browser.post("/api/queue", content=content, headers=headers)
        assert answer.status_code == 400, (content, answer.text)
    # Over 1 MiB: refused on its length, and (sent in pieces, with no length) as soon as the
    # pieces pass the limit, not after the whole of it.
    big = b'{"only": ["' + b"x" * (1 << 20) + b'"]}'
    answer = browser.post("/api/build", content=big, headers=headers)
    assert answer.status_code == 413
    assert "larger than the desk accepts" in answer.json()["error"]
    # Sent in pieces with no length given: refused as soon as the pieces pass the limit.
    given: list[int] = []

    async def receive() -> dict[str, Any]:  # 64 MiB offered, 1 MiB at a time
        given.append(1)
        return {"type": "http.request", "body": b"x" * (1 << 20), "more_body": len(given) < 64}

    scope = {"type": "http", "method": "POST", "path": "/api/build", "headers": []}
    with pytest.raises(TooLarge):
        asyncio.run(body(Request(scope, receive)))
    assert len(given) == 2
    # A request the desk can read but refuses is still 409, as before.
    assert post(browser, "/api/build", keys, only=["Nowhere"]).status_code == 409


def test_check_groups_problems_by_file_with_their_place(
    browser: TestClient, keys: DeskKeys, folder: Path
) -> None:
    from openpyxl import load_workbook

    book = load_workbook(folder / "input" / "councils.xlsx")
    book["Statistics"]["C3"] = "twelve"
    book.save(folder / "input" / "councils.xlsx")
    answer = post(browser, "/api/check", keys).json()
    assert answer["ok"] is False
    (group,) = answer["problems"]
    assert group["file"] == "councils.xlsx"
    assert group["items"] == [
        {
            "where": "Statistics!C3 (Upheld, Derby City Council)",
            "message": "'twelve' is not a whole number; type digits only (e.g. 12).",
        }
    ]


# -- one long job at a time, paused between steps ---------------------------------------------


def test_one_long_job_at_a_time_and_a_reload_finds_it_running(
    app: Any, browser: TestClient, keys: DeskKeys
) -> None:
    desk: Desk = app.desk
    release = threading.Event()

    def slow(progress: Any) -> dict[str, Any]:
        progress("Making PDFs", 1, 3)
        release.wait(10)
        return {"built": 3}

    desk.jobs.start("build", slow)
    answer = post(browser, "/api/proof", keys)
    assert answer.status_code == 409
    assert answer.json()["error"] == (
        "The build is still running; wait for it to finish (one long job at a time)."
    )
    # The page reloaded: the state still shows the job and how far it has got.
    job = browser.get("/api/state").json()["job"]
    assert (job["kind"], job["state"], job["stage"], job["done"], job["total"]) == (
        "build",
        RUNNING,
        "Making PDFs",
        1,
        3,
    )
    release.set()
    deadline = time.monotonic() + 5
    while desk.jobs.current()["state"] != DONE and time.monotonic() < deadline:  # type: ignore[index]
        time.sleep(0.02)
    assert browser.get("/api/state").json()["job"]["result"] == {"built": 3}


def test_the_desk_and_the_commands_share_their_locks(
    app: Any, browser: TestClient, keys: DeskKeys, settings: Settings
) -> None:
    desk: Desk = app.desk
    held = try_lock(settings.paths.lock("build"))  # a build running in a terminal
    assert held is not None
    try:
        answer = post(browser, "/api/build", keys)
        assert answer.status_code == 200  # the job starts, and the library's lock refuses it
        deadline = time.monotonic() + 10
        while desk.jobs.current()["state"] == RUNNING and time.monotonic() < deadline:  # type: ignore[index]
            time.sleep(0.02)
        job = browser.get("/api/state").json()["job"]
        assert job["state"] == "failed"
        assert job["error"].startswith("Another 'letter-merge build' is already running for 2020")
    finally:
        held.release()


def test_a_paused_job_waits_between_steps() -> None:
    jobs = Jobs()
    steps: list[int] = []
    started = threading.Event()

    def work(progress: Any) -> dict[str, Any]:
        for number in range(1, 4):
            progress("Sending", number, 3)
            steps.append(number)
            started.set()
        return {}

    jobs.pause()  # nothing running: nothing to pause
    gate = threading.Event()

    def gated(progress: Any) -> dict[str, Any]:
        gate.wait(5)
        return work(progress)

    jobs.start("send", gated)
    jobs.pause()
    gate.set()
    time.sleep(0.3)
    assert steps == [] and jobs.current()["state"] == PAUSED  # type: ignore[index]
    jobs.resume()
    deadline = time.monotonic() + 5
    while jobs.current()["state"] != DONE and time.monotonic() < deadline:  # type: ignore[index]
        time.sleep(0.02)
    assert steps == [1, 2, 3]
    hold = threading.Event()

    def held(progress: Any) -> dict[str, Any]:
        hold.wait(5)
        return {}

    jobs.start("send", held)
    with pytest.raises(Busy):
        jobs.start("build", lambda _: {})
    hold.set()


# -- the real server --------------------------------------------------------------------------


def test_it_listens_on_loopback_only() -> None:
    sock = listening_socket(0)
    try:
        address, port = sock.getsockname()
        assert address == HOST == "127.0.0.1" and port > 0
    finally:
        sock.close()


@pytest.mark.libreoffice
def test_the_command_prints_its_address_first_and_stops_on_ctrl_c(folder: Path) -> None:
    with desk_process(folder) as (desk, address):
        _serves_its_address(address)
        # A page left open holds a live progress stream: Ctrl-C still stops the desk.
        with httpx.Client() as client:
            client.get(address)  # the cookie
            with client.stream("GET", address.split("?")[0] + "api/events") as events:
                assert next(events.iter_lines()).startswith("data: ")
                _wait_for_libreoffice(folder)
                started = time.monotonic()
                desk.send_signal(signal.SIGINT)
                desk.wait(timeout=15)
        assert time.monotonic() - started < 10
    # ... and the LibreOffice it kept running for previews went with it.
    time.sleep(0.5)
    assert _libreoffices(folder) == []


def _libreoffices(folder: Path) -> list[str]:
    found = subprocess.run(["ps", "-ww", "-eo", "args"], capture_output=True, text=True).stdout
    return [line for line in found.splitlines() if "soffice" in line and str(folder) in line]


def _wait_for_libreoffice(folder: Path) -> None:
    deadline = time.monotonic() + 30
    while not _libreoffices(folder) and time.monotonic() < deadline:
        time.sleep(0.1)


def _serves_its_address(address: str) -> None:
    """The address on the first line works, with its key; without it, or elsewhere, not."""
    assert address.startswith("http://127.0.0.1:") and "/?token=" in address
    port = int(address.split(":")[2].split("/")[0])
    deadline = time.monotonic() + 20
    while True:
        try:
            with httpx.Client(follow_redirects=True) as client:
                page = client.get(address)
            break
        except httpx.ConnectError:
            assert time.monotonic() < deadline, "the desk did not start"
            time.sleep(0.1)
    assert page.status_code == 200 and "Annual Review letters" in page.text
    assert httpx.get(f"http://127.0.0.1:{port}/").status_code == 403  # no key, no cookie
    with pytest.raises(httpx.ConnectError):  # not on another interface
        httpx.get(f"http://{_other_address()}:{port}/", timeout=2)


def _other_address() -> str:
    """An address of this machine that is not loopback (or 127.0.0.2 when there is none)."""
    import socket

    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        try:
            probe.connect(("192.0.2.1", 9))  # TEST-NET: nothing is sent
            address: str = probe.getsockname()[0]
        except OSError:
            address = "127.0.0.2"
    return address if not address.startswith("127.0.0.1") else "127.0.0.2"


def test_the_page_s_script_and_styles_are_packaged() -> None:
    static = ROOT / "letter_merge" / "desk" / "static"
    assert {p.name for p in static.iterdir()} >= {"desk.html", "desk.js", "desk.css"}
    script = (static / "desk.js").read_text(encoding="utf-8")
    assert "innerHTML" not in script  # text is only ever text


@pytest.mark.skipif(shutil.which("node") is None, reason="Node.js checks the script's syntax")
def test_the_desk_script_parses() -> None:
    """A syntax error stops the whole page; the browser test finds it too, this in the fast tier."""
    script = Path(__file__).resolve().parents[1] / "letter_merge" / "desk" / "static" / "desk.js"
    checked = subprocess.run(
        ["node", "--check", str(script)], capture_output=True, text=True, timeout=60, check=False
    )
    assert checked.returncode == 0, checked.stderr


# -- the same rules as the command line, enforced by the server itself ---------------------------


def test_the_server_keeps_the_command_line_s_rules(browser: TestClient, keys: DeskKeys) -> None:
    """Each rule is the application layer's: the desk's API refuses what the command line
    refuses, whatever its page would or would not send."""
    from tests.helpers import run

    choosing = "Choosing councils is for a test send"
    answer = post(browser, "/api/send/plan", keys, only=["Derby"])
    assert answer.status_code == 409 and answer.json()["error"].startswith(choosing)
    answer = post(browser, "/api/send", keys, only=["Derby"], expected=1)
    assert answer.status_code == 409 and answer.json()["error"].startswith(choosing)
    assert run("send", "--only", "Derby").output.startswith(f"Error: {choosing}")
    answer = post(browser, "/api/send/plan", keys, test_to="not an address")
    assert answer.status_code == 409 and "is not an email address" in answer.json()["error"]
    assert "is not an email address" in run("send", "--test-to", "not an address").output
    reason = "A reason, and what to tell the council, go with a correction"
    answer = post(browser, "/api/queue", keys, reason="a figure was wrong")
    assert answer.status_code == 409 and answer.json()["error"].startswith(reason)
    assert run("queue", "--reason", "a figure was wrong").output.startswith(f"Error: {reason}")
    why = "Say why the letter is corrected"
    answer = post(browser, "/api/queue", keys, corrections=["Derby"])
    assert answer.status_code == 409 and answer.json()["error"].startswith(why)
    assert run("queue", "--correction", "Derby").output.startswith(f"Error: {why}")


def test_every_next_step_is_worded_by_each_front_end_in_its_own_words() -> None:
    from letter_merge.console import NEXT_COMMANDS
    from letter_merge.desk.views import NEXT_STEPS
    from letter_merge.steps import Next

    assert set(NEXT_COMMANDS) == set(Next) == set(NEXT_STEPS)
    for step in Next:
        text, section = NEXT_STEPS[step]
        assert "letter-merge" not in text and "--" not in text, step
        assert section in ("", "check", "build", "proof", "approve", "queue", "send", "status")
        if step != Next.NOTHING:
            assert "letter-merge" in NEXT_COMMANDS[step] or "correct" in NEXT_COMMANDS[step]
    page = (ROOT / "letter_merge" / "desk" / "static" / "desk.html").read_text(encoding="utf-8")
    for _, section in NEXT_STEPS.values():
        assert not section or f'<section id="{section}"' in page


def test_check_files_an_unreadable_workbook_under_its_own_name(
    browser: TestClient, keys: DeskKeys, folder: Path
) -> None:
    (folder / "input" / "councils.xlsx").write_bytes(b"not a zip at all")
    answer = post(browser, "/api/check", keys)
    assert answer.status_code == 200, answer.text
    said = answer.json()
    assert said["ok"] is False
    (group,) = said["problems"]
    assert group["file"] == "input/councils.xlsx"
    (item,) = group["items"]
    assert item["message"].startswith("cannot be read as an Excel workbook"), item
    assert str(folder) not in answer.text


def test_the_record_s_version_changes_when_the_record_does(
    browser: TestClient, keys: DeskKeys, folder: Path
) -> None:
    first = browser.get("/api/version").json()
    assert browser.get("/api/version").json() == first
    decisions = folder / "output" / "2020" / "decisions.json"
    decisions.parent.mkdir(parents=True, exist_ok=True)
    decisions.write_text("[]", encoding="utf-8")  # as another tab or the command line would
    second = browser.get("/api/version").json()
    assert second["record"] != first["record"] and second["job"] == first["job"]
