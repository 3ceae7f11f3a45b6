"""The whole July flow through the desk in a real browser (Debian's Chromium, driven by Playwright),
against the real `letter-merge desk`, real LibreOffice and an SMTP server on 127.0.0.1."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Page, expect, sync_playwright

from tests.helpers import (
    CHROMIUM_FLAGS,
    DEFAULT_COUNCILS,
    ROOT,
    Recorder,
    contact,
    contacts_of,
    desk_process,
    statistics,
    write_workbook,
)

pytestmark = [pytest.mark.browser, pytest.mark.libreoffice]

COUNCILS = (
    *DEFAULT_COUNCILS,
    ("Council of the Isles of Scilly", "Unitary Council", "Mr", "Theo", "Kitto"),
)
LEICESTERSHIRE_CC = "link@cc.example.org; leader@cc.example.org"
ME = "me@ombudsman.example"
DERBY = "Derby City Council"
# Where to keep the screenshots too (the manual's come from here): LETTER_MERGE_SCREENSHOTS=dir
SCREENSHOTS = os.environ.get("LETTER_MERGE_SCREENSHOTS")


def workbook(path: Path, upheld_for_derby: object, derby_surname: str = "") -> None:
    councils = [
        (*c[:4], derby_surname) if derby_surname and c[0].startswith("Derby") else c
        for c in COUNCILS
    ]
    contacts = contacts_of(councils, {"Leicestershire County Council": LEICESTERSHIRE_CC})
    stats = [
        statistics(name, upheld=upheld_for_derby if name.startswith("Derby") else 5)
        for name, *_ in COUNCILS
    ]
    write_workbook(path, contacts, stats)


@pytest.fixture
def desk(tmp_path: Path, server: tuple[Recorder, int]) -> Iterator[str]:
    """A working folder with five councils (one cell wrong), and the desk serving it."""
    if shutil.which("chromium") is None:
        pytest.skip("Chromium is not installed (make test installs it)")
    folder = tmp_path / "work"
    shutil.copytree(ROOT / "templates", folder / "templates")
    (folder / "input").mkdir()
    workbook(folder / "input" / "councils.xlsx", "twelve")
    _, port = server
    (folder / "letter-merge.toml").write_text(
        "[batch]\nyear = 2020\nletter_date = 2020-07-22\n"
        '[email]\nfrom = "Annual Review <annual.review@ombudsman.example>"\n'
        f'[smtp]\nhost = "127.0.0.1"\nport = {port}\nsecurity = "none"\nrate_per_minute = 6000\n',
        encoding="utf-8",
    )
    environment = {k: v for k, v in os.environ.items() if not k.startswith("LETTER_MERGE_")}
    with desk_process(folder, environment) as (_, address):
        yield address


def snap(page: Page, folder: Path, name: str, section: str | None = None) -> None:
    target = folder / f"desk-{name}.png"
    # The page's header stays at the top as it scrolls; in a picture of one long step it
    # would sit across the middle.
    page.evaluate("document.querySelector('header').style.position = 'static'")
    (page.locator(section) if section else page).screenshot(path=str(target))
    page.evaluate("document.querySelector('header').style.position = ''")
    if SCREENSHOTS:
        Path(SCREENSHOTS).mkdir(parents=True, exist_ok=True)
        shutil.copy(target, Path(SCREENSHOTS) / target.name)


def test_the_whole_batch_from_the_desk(
    desk: str, server: tuple[Recorder, int], tmp_path: Path
) -> None:
    recorder, port = server
    work = tmp_path / "work"
    shots = tmp_path / "screens"
    shots.mkdir()
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=shutil.which("chromium"), args=CHROMIUM_FLAGS
        )
        page = browser.new_page(viewport={"width": 1200, "height": 900})
        console: list[str] = []
        page.on("console", lambda message: console.append(message.text))
        page.goto(desk)
        expect(page.locator("h1")).to_have_text("Annual Review letters 2020")
        expect(page.locator("#file-list")).to_contain_text("input/councils.xlsx")

        # 2. Check: a problem, with its place and the fix; fixed, and checked again.
        page.click("#run-check")
        expect(page.locator("#check-state")).to_contain_text("1 problem to fix in the files named")
        expect(page.locator("#check-results")).to_contain_text(
            "Statistics!C3 (Upheld, Derby City Council): 'twelve' is not a whole number; type digits only (e.g. 12)."
        )
        snap(page, shots, "check", "#check")
        # Every step says so, as text, while the problem is there.
        page.fill("#preview-name", "Derby")
        page.click("#preview-form button")
        expect(page.locator("#preview-state")).to_contain_text("1 problem must be fixed first")
        expect(page.locator("#preview-state")).to_contain_text("Statistics!C3")
        page.click("#run-build")
        expect(page.locator("#build-results")).to_contain_text("Statistics!C3")
        expect(page.locator("#build-results")).not_to_contain_text("[object")
        workbook(work / "input" / "councils.xlsx", 5)
        page.click("#run-check")
        expect(page.locator("#check-state")).to_contain_text("No problems: 5 councils")
        expect(page.locator("#preview-state")).not_to_contain_text("must be fixed first")
        page.evaluate("window.scrollTo(0, 0)")
        snap(page, shots, "overview")

        # 3. Preview a council chosen by part of its name; a name that fits two lists both.
        page.fill("#preview-name", "City")
        page.click("#preview-form button")
        state = page.locator("#preview-state")
        expect(state).to_contain_text("'City' matches 2 authorities")
        expect(state.locator("li")).to_have_text(
            ["Derby City Council", "Brighton & Hove City Council"]
        )
        page.fill("#preview-name", "Derby")
        page.click("#preview-form button")
        expect(page.locator("#preview-state")).to_contain_text(
            "Derby City Council: 3 pages", timeout=60_000
        )
        expect(page.locator("#preview-pages img")).to_have_count(3)
        # The email too, as the chief executive will see it: headers above, its body below.
        email_frame = page.frame_locator("#preview-email")
        expect(email_frame.locator("body")).to_contain_text("Subject")
        expect(email_frame.locator("body")).to_contain_text("Dear ")
        # Saving the template makes the letter again, without asking.
        shown = page.locator("#preview-pages img").first.get_attribute("src")
        template = work / "templates" / "letter.docx"
        template.write_bytes(template.read_bytes())
        expect(page.locator("#preview-pages img").first).not_to_have_attribute(
            "src", shown or "", timeout=30_000
        )

        # 4. Build, with live progress, and 5. the proof.
        page.click("#run-build")
        expect(page.locator("#build-results")).to_contain_text("Built 5 letters", timeout=120_000)
        page.click("#run-proof")
        expect(page.locator("#proof-results")).to_contain_text(
            "Proof of 5 letters: every check passed", timeout=120_000
        )
        expect(page.locator("#proof-frame")).to_be_visible()
        proof = page.frame_locator("#proof-frame")
        expect(proof.locator("article.card")).to_have_count(5)
        snap(page, shots, "proof", "#proof")

        # 6. Approve, 7. queue.
        page.fill("#approve-by", "Sam Smith")
        page.click("#approve-form button[type=submit]")
        expect(page.locator("#approve-results")).to_contain_text("Approved 5 letters")
        page.click("#run-queue")
        expect(page.locator("#queue-results")).to_contain_text("Queued 5 emails")

        # 7. Test send: Leicestershire, with its real recipients shown first.
        page.fill("#test-to", ME)
        page.fill("#test-only", "Leicestershire")
        page.click("#test-form button[type=submit]")
        plan = page.locator("#test-plan")
        expect(plan).to_contain_text(f"1 test copy goes to {ME} only")
        listed = page.locator("#test-plan-list")
        expect(listed).to_contain_text("ce@leicestershire-county-council.example.org")
        expect(listed).to_contain_text("leader@cc.example.org")
        page.click("#run-test")
        expect(page.locator("#test-results")).to_contain_text(f"Sent 1 test copy to {ME}.")
        assert [(r.rcpt_tos, r.subject.startswith("[TEST]")) for r in recorder.received] == [
            ([ME], True)
        ]

        # 8. Send: the confirmation says what goes, then it goes.
        page.click("#plan-send")
        # A sign of life at once, whatever the plan takes.
        expect(page.locator("#send-plan")).to_contain_text("Working out what would go", timeout=500)
        expect(page.locator("#send-plan")).to_contain_text(
            f"5 messages go from Annual Review <annual.review@ombudsman.example> through "
            f"127.0.0.1:{port}, NOT encrypted"
        )
        snap(page, shots, "send", "#send")
        page.click("#run-send")
        expect(page.locator("#send-results")).to_contain_text("Sent 5 messages.", timeout=60_000)
        real = recorder.received[1:]
        assert sorted(r.to.split("<")[-1].rstrip(">") for r in real) == sorted(
            contact(name)[7] for name, *_ in COUNCILS
        )
        leicestershire = next(r for r in real if "leicestershire" in r.to)
        assert "leader@cc.example.org" in leicestershire.rcpt_tos

        # 9. Status: every letter sent; one council's history; the record as CSV.
        expect(page.locator("#status-counts")).to_contain_text("sent: 5")

        # A correction: Derby's letter named the chief executive wrongly. Built, proofed,
        # approved and sent again, on purpose, with a reason for the office and a note for the
        # council.
        workbook(work / "input" / "councils.xlsx", 5, derby_surname="Okafor-Lee")
        asked: list[str] = []  # the desk asks before building again a letter already sent

        def answer(dialog: Any) -> None:
            asked.append(dialog.message)
            dialog.accept()

        page.once("dialog", answer)
        page.click("#run-build")
        expect(page.locator("#build-results")).to_contain_text("Built 1 letter", timeout=120_000)
        assert asked and asked[0].startswith("1 letter of these was sent already.")
        expect(page.locator("#build-results")).to_contain_text(
            "1 letter already sent built again: 1 differs from what was sent"
        )
        page.click("#run-proof")
        expect(page.locator("#proof-results")).to_contain_text(
            "every check passed", timeout=120_000
        )
        page.fill("#approve-only", "Derby")
        page.click("#approve-form button[type=submit]")
        expect(page.locator("#approve-results")).to_contain_text("Approved 1 letter")
        page.locator("#queue summary", has_text="Correcting a letter already sent").click()
        page.fill("#queue-corrections", "Derby")
        page.fill("#queue-reason", "surname keyed wrongly in Contacts")
        page.fill("#queue-note", "it is now addressed to you by your correct name")
        page.click("#run-queue")
        expect(page.locator("#queue-results")).to_contain_text("Queued 1 email (1 correction)")
        page.click("#plan-send")
        expect(page.locator("#send-plan")).to_contain_text("1 message (1 correction) goes from")
        expect(page.locator("#send-plan-list")).to_contain_text("Correction")
        expect(page.locator("#send-results")).to_be_empty()  # the last send's list is gone
        page.click("#run-send")
        expect(page.locator("#send-results")).to_contain_text("Sent 1 message.", timeout=60_000)
        fixed = recorder.received[-1]
        assert fixed.subject.startswith("Corrected: ")
        assert "it is now addressed to you by your correct name" in fixed.body
        assert "keyed" not in fixed.body  # the office's reason is not the council's business

        # 9. Status: one council's history opens under its own row, the correction marked.
        page.get_by_role("button", name="Derby City Council").click()
        history = page.locator("#status-list tr.history-row")
        expect(history).to_contain_text("History of Derby City Council")
        expect(history).to_contain_text("Correction")
        expect(history).to_contain_text("surname keyed wrongly in Contacts")
        clicked = page.locator("#status-list tr", has=page.get_by_role("button", name=DERBY))
        row, opened = clicked.bounding_box(), history.bounding_box()
        assert row is not None and opened is not None
        assert abs(opened["y"] - (row["y"] + row["height"])) < 2  # the row just under it
        snap(page, shots, "status", "#status")
        csv = page.request.get(desk.split("?")[0] + "status.csv")
        assert csv.status == 200
        assert csv.text().count("@") >= 5 and "Derby City Council" in csv.text()
        # The two steps tried while the workbook had its problem were answered 409, as meant.
        assert [m for m in console if "409 (Conflict)" not in m] == [], console
        browser.close()


def test_every_tab_keeps_up_and_says_when_the_desk_stopped(
    tmp_path: Path, server: tuple[Recorder, int]
) -> None:
    """A change made elsewhere (the command line) shows in every open tab within seconds; a
    refusal is said on the page in words; a desk that stopped is said, with what to do, and
    its send and pause buttons go."""
    if shutil.which("chromium") is None:
        pytest.skip("Chromium is not installed (make test installs it)")
    folder = tmp_path / "work"
    shutil.copytree(ROOT / "templates", folder / "templates")
    (folder / "input").mkdir()
    workbook(folder / "input" / "councils.xlsx", 3)
    (folder / "letter-merge.toml").write_text(
        "[batch]\nyear = 2020\nletter_date = 2020-07-22\n"
        '[email]\nfrom = "Annual Review <annual.review@ombudsman.example>"\n'
        f'[smtp]\nhost = "127.0.0.1"\nport = {server[1]}\nsecurity = "none"\n',
        encoding="utf-8",
    )
    environment = {k: v for k, v in os.environ.items() if not k.startswith("LETTER_MERGE_")}
    with desk_process(folder, environment) as (process, address), sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=shutil.which("chromium"), args=CHROMIUM_FLAGS
        )
        context = browser.new_context(viewport={"width": 1200, "height": 900})
        first = context.new_page()
        first.goto(address)
        second = context.new_page()
        second.goto(address.split("?")[0])  # the second tab: the cookie, no key
        for page in (first, second):
            expect(page.locator("#status-counts")).to_contain_text("No letters built yet.")

        # The command line builds the letters (no PDFs: quick): both tabs show it.
        def command(*args: str) -> None:
            done = subprocess.run(
                [sys.executable, "-m", "letter_merge", *args],
                cwd=folder,
                env=environment,
                capture_output=True,
                text=True,
                timeout=120,
            )
            assert done.returncode == 0, done.stdout + done.stderr

        command("build", "--no-pdf")
        for page in (first, second):
            expect(page.locator("#status-counts")).to_contain_text(
                "built (.docx only): 5", timeout=8000
            )
        # A council's history stays open, its button focused, when the list is drawn again
        # because something changed elsewhere (here: one letter built again).
        first.get_by_role("button", name=DERBY).click()
        expect(first.locator("#status-list tr.history-row")).to_contain_text(
            "History of Derby City Council"
        )
        first.evaluate(
            "window.drawn = 0; const draw = drawStatus; "
            "drawStatus = () => { draw(); window.drawn += 1; }"
        )
        command("build", "--no-pdf", "--force", "--only", DERBY)
        first.wait_for_function("window.drawn > 0", timeout=8000)
        derby = first.get_by_role("button", name=DERBY)
        expect(derby).to_be_focused()
        expect(derby).to_have_attribute("aria-expanded", "true")
        under = first.locator("#status-list tr", has=derby).locator(
            "xpath=following-sibling::tr[1]"
        )
        expect(under).to_have_class("history-row")
        expect(under).to_contain_text("History of Derby City Council")
        first.fill("#status-search", "derby")  # a search that keeps it: it stays open
        expect(first.locator("#status-list tr.history-row")).to_contain_text("History of Derby")
        first.fill("#status-search", "")
        # A refusal from a button with no box of its own is said on the page.
        second.evaluate("document.getElementById('run-send').hidden = false")
        second.click("#run-send")  # no plan shown in this tab: the desk refuses
        expect(second.locator("#send-results")).to_contain_text("Confirm the send first")
        first.evaluate("() => { Promise.reject({error: 'Refused: in words.'}); }")
        expect(first.locator("#desk-said")).to_contain_text("Refused: in words.")
        # A next step opens the panel that takes it, the council's name filled in.
        first.evaluate(
            "takeStep({text: '', section: 'queue', panel: 'resend', field: 'queue-resends', "
            "council: 'Derby City Council'})"
        )
        expect(first.locator("#resend")).to_have_attribute("open", "")
        expect(first.locator("#queue-resends")).to_have_value("Derby City Council")
        expect(first.locator("#queue-resends")).to_be_focused()
        # The desk stops: each tab says so, and what to do, within seconds.
        process.terminate()
        process.wait(timeout=30)
        for page in (first, second):
            expect(page.locator("#desk-stopped")).to_contain_text(
                "The desk has stopped: start it again", timeout=8000
            )
            expect(page.locator("#job")).to_have_text("The desk has stopped.")
            for button in ("#run-send", "#pause-send", "#resume-send"):
                expect(page.locator(button)).to_be_hidden()
        browser.close()
