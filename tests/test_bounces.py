"""Real servers' reports (sisimai's set-of-emails, tests/data/bounces/): the failed recipient,
the original's Message-ID, failures never read as replies, delays never as failures, spam
complaints named, and no message the reader cannot take, measured as benchmarks/bounces.py
measures the whole collection."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest

from benchmarks.bounces import Figures, load_expected, score
from letter_merge.mail.inbox.reports.reading import (
    AUTO_REPLY,
    BOUNCED,
    CHALLENGE,
    COMPLAINT,
    DELAYED,
    REPLY,
    read_report,
)
from letter_merge.reasons import BY_NAME
from letter_merge.records.ledger import Delivery, Message
from letter_merge.records.standing import delivery_state

DATA = Path(__file__).parent / "data" / "bounces"
EXPECTED: dict[str, list[dict[str, str]]] = json.loads((DATA / "expected.json").read_text())


def message(name: str) -> bytes:
    return (DATA / name).read_bytes()


@pytest.fixture(scope="module")
def figures() -> Figures:
    return score({name: message(name) for name in EXPECTED}, EXPECTED)


def test_the_copies_are_the_ones_expected() -> None:
    kept = {p.relative_to(DATA).as_posix() for p in DATA.glob("*/*.eml")}
    assert kept == set(EXPECTED)
    assert len({name.split("/")[1].rsplit("-", 1)[0] for name in kept}) >= 80  # kinds of server


def test_the_failed_recipient_is_right_in_95_of_100_final_failures(figures: Figures) -> None:
    assert figures.failures >= 150
    assert figures.recipient_right >= 0.95 * figures.failures, figures.misses.get("recipient")


def test_the_original_message_id_is_found_in_98_of_100(figures: Figures) -> None:
    assert figures.with_id >= 150
    assert figures.id_found >= 0.98 * figures.with_id, figures.misses.get("message-id")


def test_no_failure_is_read_as_a_reply_and_no_delay_as_a_failure(figures: Figures) -> None:
    assert figures.failures_as_replies == 0, figures.misses.get("failure read as a reply")
    assert figures.confused == 0, figures.misses.get("delay/failure confused")


def test_spam_complaints_are_named(figures: Figures) -> None:
    assert figures.complaints >= 15
    assert figures.complaints_named >= figures.complaints - 1, figures.misses.get("complaint")


def test_no_message_is_beyond_the_reader(figures: Figures) -> None:
    assert figures.messages == len(EXPECTED)
    assert figures.tracebacks == 0, figures.misses.get("traceback")


def test_automatic_replies_stay_automatic_replies() -> None:
    replies = [name for name in EXPECTED if "/rfc3834-" in name]
    assert replies
    assert {read_report(message(name)).kind for name in replies} == {AUTO_REPLY}


@pytest.mark.parametrize(
    ("name", "recipient", "reason"),
    [
        ("bsd/lhost-postfix-02.eml", "userunknown@example.co.jp", "address unknown"),
        ("bsd/lhost-exim-01.eml", "kijitora@example.ed.jp", "refused as spam or by policy"),
        ("bsd/lhost-googlegroups-01.eml", "libsisimai@googlegroups.com", "other"),
        ("bsd/lhost-yahoo-01.eml", "kijitora@example.org", "address unknown"),
        (
            "bsd/lhost-dragonfly-01.eml",
            "pseudo-local-part@google.example.com",
            "sender not authenticated",
        ),
        ("bsd/lhost-gmx-01.eml", "shironeko@example.jp", "mailbox full"),
        ("bsd/lhost-postfix-06.eml", "kijitora@neko.example.jp", "domain not found"),
    ],
)
def test_real_failures_name_the_address_and_the_reason(
    name: str, recipient: str, reason: str
) -> None:
    report = read_report(message(name))
    assert report.kind == BOUNCED
    assert (recipient, reason) in {(f.recipient, f.reason) for f in report.findings}
    assert BY_NAME[reason].next_step


def test_a_failure_calling_itself_an_automatic_reply_is_a_failure() -> None:
    raw = message("bsd/lhost-googlegroups-01.eml")  # Google Groups: Auto-Submitted: auto-replied
    assert b"Auto-Submitted: auto-replied" in raw
    assert read_report(raw).kind == BOUNCED


def test_an_arf_complaint_is_a_complaint_about_our_message() -> None:
    report = read_report(message("bsd/arf-14.eml"))
    assert report.kind == COMPLAINT
    assert [f.reason for f in report.findings] == ["marked as junk by the recipient"]
    assert report.original_ids[0].startswith("<2222222222222222-")


@pytest.mark.parametrize("endings", ["dos", "mac"])
def test_the_three_line_endings_read_alike(endings: str) -> None:
    pairs = [
        (DATA / name.replace(endings, "bsd", 1), DATA / name)
        for name in EXPECTED
        if name.startswith(endings + "/") and (DATA / name.replace(endings, "bsd", 1)).exists()
    ]
    assert len(pairs) >= 3
    for lf, other in pairs:
        one, two = read_report(lf.read_bytes()), read_report(other.read_bytes())
        assert (one.kind, one.findings, one.original_ids) == (
            two.kind,
            two.findings,
            two.original_ids,
        ), other.name


def test_every_failed_recipient_is_an_address() -> None:
    """Never '@host', a command line ('|/usr/bin/procmail') or a file."""
    named = [
        finding.recipient
        for name in EXPECTED
        for finding in read_report(message(name)).findings
        if finding.recipient
    ]
    assert len(named) >= 200
    for address in named:
        local, _, domain = address.partition("@")
        assert local and "." in domain and not local.startswith(("|", "/")), address


# The shapes of issue 37: written here as samples of each (tests/data/shapes/), and real ones
# from four more public collections (tests/data/bounces_more/), a third of them held out.

SHAPES = Path(__file__).parent / "data" / "shapes"
MORE = Path(__file__).parent / "data" / "bounces_more"


@pytest.mark.parametrize(
    ("name", "kind", "recipient"),
    [
        ("failed_recipients_block.eml", BOUNCED, "chief.executive@derby.gov.uk"),
        ("failed_recipient_line.eml", BOUNCED, "ceo@rutland.gov.uk"),
        ("smtp_in_brackets.eml", BOUNCED, "chief.exec@halton.gov.uk"),
        ("dashed_address.eml", BOUNCED, "ce@wirral.gov.uk"),
        ("quoted_address_has_failed.eml", BOUNCED, "chief.executive@york.gov.uk"),
        ("non_delivery_keeps_subject.eml", BOUNCED, "chief.executive@sefton.gov.uk"),
        ("delay_attempts_continue.eml", DELAYED, "chief.executive@bury.gov.uk"),
        ("delay_full_mailbox.eml", DELAYED, "ce@wigan.gov.uk"),
        ("aol_notice.eml", BOUNCED, "parishclerkxyz@aol.com"),
        ("quota_marked_auto_replied.eml", BOUNCED, "chief.executive@cumbria.gov.uk"),
        ("not_a_valid_user.eml", BOUNCED, "ce@oldham.gov.uk"),
    ],
)
def test_each_shape_names_the_failed_address(name: str, kind: str, recipient: str) -> None:
    report = read_report((SHAPES / name).read_bytes())
    assert report.kind == kind
    assert [(f.recipient, f.kind) for f in report.findings] == [(recipient, kind)]


def test_our_return_address_and_a_postmaster_are_never_the_failed_recipient() -> None:
    report = read_report((SHAPES / "our_address_listed.eml").read_bytes())
    assert report.kind == BOUNCED
    assert [f.recipient for f in report.findings] == ["chief.executive@hull.gov.uk"]
    assert report.original_ids == ("<20200701120040.1265.hull@lgo.example>",)


def test_a_failure_marked_auto_replied_is_a_failure_with_its_reason() -> None:
    raw = (SHAPES / "quota_marked_auto_replied.eml").read_bytes()
    assert b"Auto-Submitted: auto-replied" in raw
    report = read_report(raw)
    assert (report.kind, report.findings[0].reason) == (BOUNCED, "mailbox full")
    not_valid = read_report((SHAPES / "not_a_valid_user.eml").read_bytes())
    assert not_valid.original_ids == ("<20200701120040.1267.oldham@lgo.example>",)


@pytest.mark.parametrize(
    "name",
    [
        "out_of_office_plain.eml",
        "out_of_office_polish.eml",
        "out_of_office_latvian.eml",
        "out_of_office_czech.eml",
        "out_of_office_german.eml",
    ],
)
def test_an_out_of_office_is_an_automatic_reply_never_a_failure(name: str) -> None:
    """An out-of-office ("Thank you for your e-mail... I will endeavour to reply") sent with an
    empty Return-Path: read as a failure it would mark a live contact as bounced."""
    report = read_report((SHAPES / name).read_bytes())
    assert report.kind == AUTO_REPLY
    assert report.findings == ()


def test_a_challenge_response_asks_the_sender_to_confirm() -> None:
    report = read_report((SHAPES / "challenge_response.eml").read_bytes())
    assert report.kind == CHALLENGE
    assert [(f.recipient, f.reason) for f in report.findings] == [
        ("chief.executive@stockport.gov.uk", "asks the sender to confirm")
    ]
    assert report.original_ids == ("<20200701120040.1268.stockport@lgo.example>",)
    assert "confirm" in BY_NAME["asks the sender to confirm"].next_step


def test_a_refusal_that_asks_to_confirm_the_server_is_a_failure_not_a_challenge() -> None:
    report = read_report((MORE / "bounceparser" / "whitelist.msg").read_bytes())
    assert report.kind == BOUNCED
    assert [f.recipient for f in report.findings] == ["john.smith@example.com"]


def more_figures(held_out: bool) -> Figures:
    expected, kept_apart = load_expected(MORE / "expected.json")
    part = {n: rows for n, rows in expected.items() if (n in kept_apart) == held_out}
    return score({name: (MORE / name).read_bytes() for name in part}, part)


def test_more_collections_are_licensed_and_expected() -> None:
    expected, held_out = load_expected(MORE / "expected.json")
    kept = {p.relative_to(MORE).as_posix() for p in MORE.glob("*/*") if p.name != "LICENSE"}
    assert kept == set(expected)
    assert {p.parent.name for p in MORE.glob("*/LICENSE")} == {
        "flufl",
        "bounceparser",
        "bounce_email",
        "php_bounce_handler",
    }
    assert 100 <= len(held_out) <= 130


@pytest.mark.parametrize("held_out", [False, True], ids=["development", "held-out"])
def test_more_collections_meet_the_bars(held_out: bool) -> None:
    figures = more_figures(held_out)
    assert figures.failures >= 80
    assert figures.recipient_right >= 0.95 * figures.failures, figures.misses.get("recipient")
    assert figures.failures_as_replies == 0, figures.misses.get("failure read as a reply")
    assert figures.replies >= 3
    assert figures.replies_as_failures == 0, figures.misses.get("reply read as a failure")
    assert figures.challenges_named == figures.challenges >= 1
    assert figures.confused == 0, figures.misses.get("delay/failure confused")
    assert figures.complaints_named >= figures.complaints - 1, figures.misses.get("complaint")
    assert figures.tracebacks == 0


def test_a_challenge_stands_apart_from_bounces_and_replies_in_the_record() -> None:
    sent = Message(
        message_id="<m1@lgo.example>",
        authority="Stockport Council",
        pdf_sha256="",
        eml_path="",
        recipients=("chief.executive@stockport.gov.uk",),
        subject="",
        state="sent",
        queued_at="",
        updated_at="",
        attempts=1,
        last_reply="",
    )
    challenge = Delivery(
        report="<cr@screening.example>",
        recipient="chief.executive@stockport.gov.uk",
        kind=CHALLENGE,
        found_at="2020-07-01T13:13:00+00:00",
        message_id=sent.message_id,
        reason="asks the sender to confirm",
    )
    reply = dataclasses.replace(challenge, report="<r@x>", kind=AUTO_REPLY, reason="")
    assert delivery_state([reply, challenge], sent) == (CHALLENGE, challenge)
    summary = challenge.summary()
    assert summary.startswith("held by a filter that asks the sender to confirm for ")
    assert BY_NAME["asks the sender to confirm"].next_step in summary


def test_blank_lines_before_the_headers_are_not_the_body() -> None:
    raw = (SHAPES / "failed_recipients_block.eml").read_bytes()
    assert read_report(b"\n" + b" " * 300 + b"\n" + raw) == read_report(raw)
    assert read_report(raw).kind == BOUNCED


def test_a_person_saying_a_letter_failed_is_a_reply_not_a_failure() -> None:
    report = read_report((SHAPES / "person_says_it_failed.eml").read_bytes())
    assert report.kind == REPLY
    assert report.findings == ()
    assert report.original_ids == ("<20200701120040.1262.derby@lgo.example>",)
