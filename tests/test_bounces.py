"""Real servers' reports (sisimai's set-of-emails, tests/data/bounces/): the failed recipient,
the original's Message-ID, failures never read as replies, delays never as failures, spam
complaints named, and no message the reader cannot take, measured as benchmarks/bounces.py
measures the whole collection."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from benchmarks.bounces import Figures, score
from letter_merge.mail.inbox.reports.reading import AUTO_REPLY, BOUNCED, COMPLAINT, read_report
from letter_merge.reasons import BY_NAME

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
