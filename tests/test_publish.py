"""Publication day: the date the letters promise (a setting and a template field), the check's
warnings about it, and `publish` (each council's letter as it last received it, the map's data,
an index page and a manifest)."""

from __future__ import annotations

import csv
import datetime as dt
import email
import email.policy
import hashlib
import io
import json
import re
import shutil
from collections.abc import Iterator
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller

from letter_merge.app.checking import publication_warnings
from letter_merge.app.inputs import Inputs
from letter_merge.app.publishing import publish, web_name
from letter_merge.config import Settings, load_settings
from letter_merge.errors import InputError
from letter_merge.fields import letter_fields
from letter_merge.figures import FIGURE_FIELDS as RATES
from letter_merge.figures import compute_figures
from letter_merge.workbook import read_workbook
from tests.helpers import CHROMIUM_FLAGS, ROOT, Recorder, docx_text, free_port, run
from tests.test_records import BRIGHTON, DERBY, LEICESTERSHIRE, desk, send_all, set_upheld

ADUR = "Adur District Council"


def settings_with(folder: Path, batch: str, today: dt.date = dt.date(2020, 7, 22)) -> Settings:
    path = folder / "letter-merge.toml"
    path.write_text(f"[batch]\nyear = 2020\n{batch}", encoding="utf-8")
    return load_settings(path, environ={}, today=today)


def test_the_publication_date_is_a_setting_a_week_after_the_letter_by_default(
    tmp_path: Path,
) -> None:
    assert settings_with(tmp_path, "letter_date = 2020-07-22\n").publication_date == dt.date(
        2020, 7, 29
    )
    chosen = settings_with(tmp_path, "letter_date = 2020-07-22\npublish_on = 2020-08-03\n")
    assert chosen.publication_date == dt.date(2020, 8, 3)
    with pytest.raises(InputError, match=r"publish_on = '3 August' is not a date"):
        settings_with(tmp_path, "publish_on = '3 August'\n")


def test_the_template_field_says_the_date_in_words(settings: Settings) -> None:
    council = read_workbook(settings.workbook).councils[0]
    figures = compute_figures([council])[council.authority]
    assert letter_fields(council, figures, settings)["publication_date"] == "29 July 2020"


def test_the_default_template_reads_its_publication_date_from_the_settings() -> None:
    text = docx_text(ROOT / "templates" / "letter.docx")
    assert "along with a copy of this letter on {{ publication_date }}" in text
    assert "29 July" not in text


def test_check_warns_of_a_publication_date_before_the_letter_or_gone_by(tmp_path: Path) -> None:
    early = settings_with(tmp_path, "letter_date = 2020-07-22\npublish_on = 2020-07-01\n")
    (warning,) = publication_warnings(early, today=dt.date(2020, 7, 1))
    assert warning.where == "[batch] publish_on"
    assert "1 July 2020, before their own date (22 July 2020)" in warning.message
    late = settings_with(tmp_path, "letter_date = 2020-07-22\n")
    (warning,) = publication_warnings(late, today=dt.date(2020, 7, 30))
    assert "the publication date, 29 July 2020, has passed" in warning.message
    assert publication_warnings(late, today=dt.date(2020, 7, 29)) == ()
    # a past year's batch (the sample's 2020, run again today) is dated in the past on purpose
    assert publication_warnings(late, today=dt.date(2026, 12, 7)) == ()


class KeepingRecorder(Recorder):
    """The test SMTP server's handler, keeping each message's PDF as it arrived."""

    def __init__(self) -> None:
        super().__init__()
        self.pdfs: list[tuple[str, bytes]] = []  # (To, the attachment's bytes)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        assert isinstance(message, EmailMessage)
        for part in message.iter_attachments():
            data = part.get_payload(decode=True)
            assert isinstance(data, bytes)
            self.pdfs.append((str(message["To"]), data))
        return await super().handle_DATA(server, session, envelope)


@pytest.fixture
def server() -> Iterator[tuple[Recorder, int]]:
    recorder = KeepingRecorder()
    port = free_port()
    controller = Controller(recorder, hostname="127.0.0.1", port=port)
    controller.start()
    yield recorder, port
    controller.stop()


def publish_folder(work: Path) -> dict[str, bytes]:
    return {
        p.name: p.read_bytes() for p in sorted((work / "output" / "2020" / "publish").iterdir())
    }


def test_publish_gives_each_council_the_letter_it_last_received(
    work: Path, server: tuple[Recorder, int]
) -> None:
    """Three councils sent their letters (Adur never), Leicestershire's figure corrected and
    its correction sent: publish gives each the very PDF it last received, the map's data as
    those letters state it, and names Adur; run again, the same bytes."""
    recorder = server[0]
    assert isinstance(recorder, KeepingRecorder)
    three = ("--only", "Leicestershire", "--only", "Derby", "--only", "Brighton")
    assert run("approve", "--by", "Jo Bloggs", *three).exit_code == 0
    assert run("queue").output.startswith("Queued 3 messages")  # Adur is not approved
    assert run("send", "--yes").exit_code == 0
    set_upheld(work, 2, 8)  # Leicestershire's Upheld 5 -> 8: 50% -> 80%, and its average
    assert run("averages", "correct", "--by", "Jo Bloggs").exit_code == 0
    assert run("build", "--yes").exit_code == 0
    assert run("proof").exit_code == 0
    assert run("approve", "--by", "Jo Bloggs", "--only", "Leicestershire").exit_code == 0
    queued = run("queue", "--correction", "Leicestershire", "--reason", "Upheld keyed wrongly")
    assert queued.output.startswith("Queued 1 message; 1 of them corrections"), queued.output
    assert run("send", "--yes").exit_code == 0
    assert len(recorder.pdfs) == 4

    result = run("publish")
    assert result.exit_code == 0, result.output
    files = publish_folder(work)
    last_received = {to.rsplit("<", 1)[1].rstrip(">"): pdf for to, pdf in recorder.pdfs}
    names = {
        "leicestershire-county-council-annual-review-2020.pdf": "ce@leicestershire-county-council",
        "derby-city-council-annual-review-2020.pdf": "ce@derby-city-council",
        "brighton-and-hove-city-council-annual-review-2020.pdf": "ce@brighton-hove-city-council",
    }
    assert sorted(n for n in files if n.endswith(".pdf")) == sorted(names)
    for name, address in names.items():
        assert files[name] == last_received[f"{address}.example.org"], name
    assert files["leicestershire-county-council-annual-review-2020.pdf"] == recorder.pdfs[-1][1]
    assert files["leicestershire-county-council-annual-review-2020.pdf"] != recorder.pdfs[0][1]

    rows = list(csv.DictReader(io.StringIO(files["councils.csv"].decode("utf-8"))))
    assert [r["authority"] for r in rows] == [LEICESTERSHIRE, DERBY, BRIGHTON]
    leicestershire = rows[0]
    assert (leicestershire["upheld_rate"], leicestershire["upheld_rate_average"]) == ("80", "80")
    assert leicestershire["corrected"] == "yes" and rows[1]["corrected"] == "no"
    assert rows[1]["upheld_rate"] == "50"
    assert json.loads(files["councils.json"])[0] == {
        **{k: v for k, v in leicestershire.items() if k not in RATES},
        **{k: int(v) if v else None for k, v in leicestershire.items() if k in RATES},
        "corrected": True,
    }
    sums = {}
    for line in files["SHA256SUMS"].decode().splitlines():
        digest, name = line.split("  ")
        sums[name] = digest
    assert sorted(sums) == sorted(n for n in files if n != "SHA256SUMS")
    assert all(hashlib.sha256(files[n]).hexdigest() == digest for n, digest in sums.items())
    page = files["index.html"].decode()
    assert '<a href="derby-city-council-annual-review-2020.pdf">Derby City Council</a>' in page
    assert "Adur" not in page

    assert "Not published (1 council):" in result.output
    assert f"  - {ADUR}: never sent (proofed); letter-merge approve --by NAME" in result.output
    assert "Recorded as published: 3 councils." in result.output

    again = run("publish")
    assert again.exit_code == 0, again.output
    assert publish_folder(work) == files
    assert "Recorded as published" not in again.output  # once per message
    assert re.search(r"^sent\s+Derby City Council .*published 20\d\d-", run("status").output, re.M)
    assert re.search(
        r"  published \S+: as derby-city-council-annual-review-2020.pdf",
        run("status", "Derby").output,
    )
    assert run("status", "--csv", "audit.csv").exit_code == 0
    audit = list(csv.DictReader(io.StringIO((work / "audit.csv").read_text("utf-8-sig"))))
    assert {r["authority"]: bool(r["published_at"]) for r in audit} == {
        LEICESTERSHIRE: True,
        DERBY: True,
        BRIGHTON: True,
        ADUR: False,
    } and len(audit) == 5

    answered = desk(work, "/api/publish", {})  # the desk's Publish step
    assert answered["published"] == [LEICESTERSHIRE, DERBY, BRIGHTON]
    assert answered["left_out"][0]["authority"] == ADUR and not answered["embargoed"]
    assert publish_folder(work) == files

    # A letter tampered with in the outbox: an error naming the council, nothing published.
    eml = next((work / "output" / "2020" / "outbox").glob("Derby*.eml"))
    eml.write_bytes(eml.read_bytes().replace(b"\r\n\r\nJVBER", b"\r\n\r\nJVBFR", 1))
    tampered = run("publish")
    assert tampered.exit_code == 1
    assert "Derby City Council: the PDF attached to outbox/" in tampered.output


def test_before_the_publication_date_the_folder_is_prepared_and_embargoed(
    work: Path, server: tuple[Recorder, int]
) -> None:
    send_all(work, server)
    inputs = Inputs(load_settings(work / "letter-merge.toml", environ={}))
    early = publish(inputs, today=dt.date(2020, 7, 28))
    assert early.embargoed and early.recorded == 0 and len(early.letters) == 4
    page = (early.folder / "index.html").read_text("utf-8")
    assert "<strong>Embargoed until 29 July 2020</strong>" in page
    assert "published" not in run("status", "Derby").output
    on_the_day = publish(Inputs(inputs.settings), today=dt.date(2020, 7, 29))
    assert not on_the_day.embargoed and on_the_day.recorded == 4
    assert "Embargoed" not in (early.folder / "index.html").read_text("utf-8")
    assert web_name("Brighton & Hove City Council", 2020) == (
        "brighton-and-hove-city-council-annual-review-2020.pdf"
    )
    assert web_name("St. Helens Metropolitan Borough Council", 2021) == (
        "st-helens-metropolitan-borough-council-annual-review-2021.pdf"
    )


@pytest.mark.browser
def test_the_index_page_passes_an_automated_accessibility_check(
    work: Path, server: tuple[Recorder, int]
) -> None:
    """axe-core (the engine browsers' accessibility tools use) finds nothing on index.html in
    Chromium, embargoed (with its notice) or not."""
    if shutil.which("chromium") is None:
        pytest.skip("Chromium is not installed (make test installs it)")
    from axe_playwright_python.sync_playwright import Axe  # type: ignore[import-untyped]
    from playwright.sync_api import sync_playwright

    send_all(work, server)
    settings = load_settings(work / "letter-merge.toml", environ={})
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=shutil.which("chromium"), args=CHROMIUM_FLAGS
        )
        try:
            for today in (dt.date(2020, 7, 28), dt.date(2020, 7, 29)):
                report = publish(Inputs(settings), today=today)
                page = browser.new_page()
                page.goto((report.folder / "index.html").as_uri())
                assert page.get_by_role("link", name=DERBY).count() == 1
                results = Axe().run(
                    page, options={"runOnly": ["wcag2a", "wcag2aa", "best-practice"]}
                )
                assert results.violations_count == 0, results.generate_report()
                page.close()
        finally:
            browser.close()


@pytest.mark.libreoffice
def test_letters_made_by_libreoffice_are_published_as_they_were_received(
    built_by_libreoffice: Path,
    tmp_path: Path,
    server: tuple[Recorder, int],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The four letters LibreOffice made, sent: each published byte for byte, and each figure
    of the map's data found in its letter's own text (as pdfium reads LibreOffice's PDFs)."""
    work = tmp_path / "work"
    shutil.copytree(built_by_libreoffice, work, ignore=shutil.ignore_patterns(".libreoffice"))
    with (work / "letter-merge.toml").open("a", encoding="utf-8") as settings:
        settings.write(
            f'\n[smtp]\nhost = "127.0.0.1"\nport = {server[1]}\nsecurity = "none"\n'
            "rate_per_minute = 6000\n"
        )
    monkeypatch.chdir(work)
    monkeypatch.delenv("LETTER_MERGE_SMTP_PASSWORD", raising=False)
    send_all(work, server)
    result = run("publish")
    assert result.exit_code == 0, result.output
    files = publish_folder(work)
    recorder = server[0]
    assert isinstance(recorder, KeepingRecorder)
    assert sorted(data for name, data in files.items() if name.endswith(".pdf")) == sorted(
        pdf for _, pdf in recorder.pdfs
    )
    rows = json.loads(files["councils.json"])
    assert [row["authority"] for row in rows] == [LEICESTERSHIRE, DERBY, BRIGHTON, ADUR]
    assert {row["upheld_rate"] for row in rows} == {50}  # 5 of 10 upheld, each
    assert {row["compliance_rate"] for row in rows} == {100}
    assert run("publish").exit_code == 0
    assert publish_folder(work) == files
