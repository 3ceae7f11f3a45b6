"""What came back, read from a real IMAP server (Dovecot on 127.0.0.1, started here) after a
batch was sent to a real SMTP server: bounces as Postfix and Exchange Online write them, a
delay, an out-of-office, a person's reply, a report about a message of no letter, a broken one.
Each shows in status once, however often the mailbox is read; the mailbox is left as it was;
the bounced council is re-sent to its corrected address on the record."""

from __future__ import annotations

import csv
from collections.abc import Iterator
from email.utils import make_msgid
from pathlib import Path

import pytest
from openpyxl import load_workbook

from letter_merge.config import load_settings
from letter_merge.records.ledger import open_ledger
from tests.helpers import Recorder, approve_and_queue, run
from tests.imap_server import Dovecot, running_dovecot
from tests.standin import TextPdfConverter

pytestmark = pytest.mark.imap

DERBY, ADUR = "Derby City Council", "Adur District Council"
BRIGHTON, LEICS = "Brighton & Hove City Council", "Leicestershire County Council"


@pytest.fixture
def sent(
    work: Path, server: tuple[Recorder, int], monkeypatch: pytest.MonkeyPatch
) -> Iterator[tuple[Path, Dovecot, dict[str, tuple[str, str]]]]:
    """The four letters sent; the sending mailbox on a Dovecot; each council's (Message-ID,
    address) as the SMTP server received them."""
    recorder, _ = server
    approve_and_queue()
    result = run("send", "--yes")
    assert result.exit_code == 0, result.output
    sent = {}
    for message in recorder.received:
        authority = next(a for a in (DERBY, ADUR, BRIGHTON, LEICS) if a in message.subject)
        sent[authority] = (message.message_id, message.to.split("<")[-1].rstrip(">"))
    with running_dovecot() as dovecot:
        dovecot.use_as_mailbox(work, monkeypatch)
        yield work, dovecot, sent


def postfix_bounce(message_id: str, address: str, subject: str) -> bytes:
    """A bounce as Postfix writes it: the returned message whole, as message/rfc822."""
    return f"""Return-Path: <>
Date: Wed,  22 Jul 2020 13:00:08 +0100 (BST)
From: MAILER-DAEMON@mail.ombudsman.example (Mail Delivery System)
Subject: Undelivered Mail Returned to Sender
To: annual.review@ombudsman.example
Auto-Submitted: auto-replied
MIME-Version: 1.0
Content-Type: multipart/report; report-type=delivery-status;
\tboundary="8E2D31C0412.1595419208/mail.ombudsman.example"
Message-Id: {make_msgid(domain="mail.ombudsman.example")}

This is a MIME-encapsulated message.

--8E2D31C0412.1595419208/mail.ombudsman.example
Content-Description: Notification
Content-Type: text/plain; charset=utf-8

This is the mail system at host mail.ombudsman.example.

I'm sorry to have to inform you that your message could not
be delivered to one or more recipients. It's attached below.

<{address}>: host mx1.example.org[198.51.100.20] said: 550 5.1.1
    <{address}>: Recipient address rejected: User unknown in virtual mailbox
    table (in reply to RCPT TO command)

--8E2D31C0412.1595419208/mail.ombudsman.example
Content-Description: Delivery report
Content-Type: message/delivery-status

Reporting-MTA: dns; mail.ombudsman.example
X-Postfix-Queue-ID: 8E2D31C0412
Arrival-Date: Wed, 22 Jul 2020 13:00:02 +0100 (BST)

Final-Recipient: rfc822; {address}
Original-Recipient: rfc822;{address}
Action: failed
Status: 5.1.1
Remote-MTA: dns; mx1.example.org
Diagnostic-Code: smtp; 550 5.1.1 <{address}>: Recipient address rejected: User
    unknown in virtual mailbox table

--8E2D31C0412.1595419208/mail.ombudsman.example
Content-Description: Undelivered Message
Content-Type: message/rfc822

From: Annual Review <annual.review@ombudsman.example>
To: {address}
Subject: {subject}
Message-ID: {message_id}
Date: Wed, 22 Jul 2020 13:00:01 +0100

(the letter)

--8E2D31C0412.1595419208/mail.ombudsman.example--
""".replace("\n", "\r\n").encode()


def postfix_delay(message_id: str, address: str) -> bytes:
    return f"""Return-Path: <>
Date: Thu, 23 Jul 2020 13:00:08 +0100 (BST)
From: MAILER-DAEMON@mail.ombudsman.example (Mail Delivery System)
Subject: Delayed Mail (still being retried)
To: annual.review@ombudsman.example
Auto-Submitted: auto-replied
MIME-Version: 1.0
Content-Type: multipart/report; report-type=delivery-status;
\tboundary="D1.1595505608/mail.ombudsman.example"
Message-Id: {make_msgid(domain="mail.ombudsman.example")}

--D1.1595505608/mail.ombudsman.example
Content-Type: text/plain; charset=us-ascii

This is the mail system at host mail.ombudsman.example.

####################################################################
# THIS IS A WARNING ONLY.  YOU DO NOT NEED TO RESEND YOUR MESSAGE. #
####################################################################

--D1.1595505608/mail.ombudsman.example
Content-Type: message/delivery-status

Reporting-MTA: dns; mail.ombudsman.example

Final-Recipient: rfc822; {address}
Action: delayed
Status: 4.4.1
Diagnostic-Code: X-Postfix; connect to mx.example.org[198.51.100.9]:25: Connection timed out
Will-Retry-Until: Wed, 29 Jul 2020 13:00:02 +0100 (BST)

--D1.1595505608/mail.ombudsman.example
Content-Type: text/rfc822-headers

From: Annual Review <annual.review@ombudsman.example>
To: {address}
Message-ID: {message_id}

--D1.1595505608/mail.ombudsman.example--
""".replace("\n", "\r\n").encode()


def exchange_ndr_without_ids(address: str) -> bytes:
    """Exchange Online's non-delivery report in words only, with no returned headers: matched
    by the address it went to."""
    return f"""From: Microsoft Outlook <MicrosoftExchange329e71ec88ae4615bbc36ab6ce41109e@ombudsman.onmicrosoft.com>
To: annual.review@ombudsman.example
Date: Wed, 22 Jul 2020 12:10:00 +0000
Subject: Undeliverable: Annual Review letter 2020
Message-ID: {make_msgid(domain="ombudsman.onmicrosoft.com")}
Auto-Submitted: auto-replied
X-MS-Exchange-Message-Is-Ndr:
MIME-Version: 1.0
Content-Type: text/plain; charset="us-ascii"

Your message to {address} couldn't be delivered.
{address.split("@")[0]} wasn't found at {address.split("@")[1]}.

Diagnostic information for administrators:
Generating server: AM0PR01MB1234.eurprd01.prod.exchangelabs.com
{address}
Remote Server returned '550 5.1.10 RESOLVER.ADR.RecipientNotFound; Recipient not found by SMTP address lookup'
""".replace("\n", "\r\n").encode()


def out_of_office(message_id: str, address: str) -> bytes:
    return f"""From: {address}
To: annual.review@ombudsman.example
Date: Wed, 22 Jul 2020 13:05:00 +0100
Subject: Automatic reply: Annual Review letter 2020
Message-ID: {make_msgid(domain="example.org")}
In-Reply-To: {message_id}
Auto-Submitted: auto-generated
X-Auto-Response-Suppress: All
Content-Type: text/plain; charset="utf-8"

I am out of the office until 3 August.
""".replace("\n", "\r\n").encode()


def reply(message_id: str, address: str) -> bytes:
    return f"""From: Link Officer <{address}>
To: annual.review@ombudsman.example
Date: Thu, 23 Jul 2020 09:00:00 +0100
Subject: RE: Annual Review letter 2020
Message-ID: {make_msgid(domain="example.org")}
In-Reply-To: {message_id}
References: {message_id}
Content-Type: text/plain; charset="utf-8"

Thank you. Could you say which complaints the upheld figure counts?

> Please find attached our Annual Review letter
""".replace("\n", "\r\n").encode()


def test_what_came_back_shows_once_and_the_bounced_council_is_re_sent(
    sent: tuple[Path, Dovecot, dict[str, tuple[str, str]]], server: tuple[Recorder, int]
) -> None:
    work, dovecot, letters = sent
    derby_id, derby_to = letters[DERBY]
    dovecot.deliver(postfix_bounce(derby_id, derby_to, f"Annual Review letter 2020 – {DERBY}"))
    dovecot.deliver(exchange_ndr_without_ids(letters[ADUR][1]))
    dovecot.deliver(postfix_delay(*letters[BRIGHTON]))
    dovecot.deliver(out_of_office(*letters[LEICS]))
    dovecot.deliver(reply(letters[LEICS][0], "link@cc.example.org"), seen=True)
    dovecot.deliver(postfix_bounce("<elsewhere@ombudsman.example>", "x@y.example", "Other"))
    dovecot.deliver(b"Content-Type: multipart/report; report-type=delivery-status\r\n\r\nbroken")
    dovecot.deliver(b"From: news@example.com\r\nSubject: Newsletter\r\n\r\nHello\r\n")
    before = dovecot.state()

    result = run("delivery")
    assert result.exit_code == 0, result.output
    out = result.output
    assert "Read 8 messages in INBOX on 127.0.0.1: 5 new findings about this year's letters" in out
    assert f"{DERBY}: did not arrive for {derby_to}: address unknown, 5.1.1" in out
    assert f"{ADUR}: did not arrive for {letters[ADUR][1]}: address unknown, 5.1.10" in out
    assert f"{BRIGHTON}: delayed (the mail system is still trying) for" in out
    assert f"{LEICS}: an automatic reply from {letters[LEICS][1]}" in out
    assert f"{LEICS}: a reply from link@cc.example.org" in out
    assert "1 report matched no letter of 2020 (listed, not guessed):" in out
    assert "1 message could not be read:" in out
    assert "Of the letters sent: 2 bounced, 1 delayed, 1 reply." in out
    assert dovecot.state() == before  # nothing marked read, moved or deleted

    again = run("delivery")
    assert again.exit_code == 0, again.output
    assert "0 new findings about this year's letters; 6 found before." in again.output
    assert dovecot.state() == before

    status = run("status")
    assert "bounced:" in status.output and "Of the letters sent: 2 bounced" in status.output
    derby = run("status", "Derby")
    assert derby.output.count("  bounced") == 1, derby.output  # recorded once
    assert run("status", "--csv", "audit.csv").exit_code == 0
    rows = list(csv.DictReader((work / "audit.csv").read_text("utf-8-sig").splitlines()))
    came_back = {r["authority"]: r["came_back"] for r in rows}
    assert came_back == {
        LEICS: "reply",
        DERBY: "bounced",
        BRIGHTON: "delayed",
        ADUR: "bounced",
    }

    # Not re-sent while the address is the one that bounced.
    refused = run("queue", "--resend", "Derby")
    assert refused.exit_code == 1
    assert f"{derby_to} bounced and is still in its To or Cc" in refused.output

    # Corrected in the workbook: the same letter, still approved, goes to the new address.
    book = load_workbook(work / "input" / "councils.xlsx")
    book["Contacts"]["H3"] = "chief.executive@derby.example.org"
    book.save(work / "input" / "councils.xlsx")
    queued = run("queue", "--resend", "Derby")
    assert queued.exit_code == 0, queued.output
    assert f"1 of them re-sent to a corrected address ({DERBY})" in queued.output
    again = run("queue", "--resend", "Derby")  # twice: nothing more is queued
    assert again.exit_code == 0 and "Queued 0 messages" in again.output, again.output
    recorder, _ = server
    first = next(m for m in recorder.received if m.message_id == derby_id)
    result = run("send", "--yes")
    assert result.exit_code == 0, result.output
    resent = recorder.received[-1]
    assert resent.rcpt_tos == ["chief.executive@derby.example.org"]
    assert resent.subject == first.subject  # the letter itself, not a correction
    history = run("status", "Derby").output
    assert history.index("bounced") < history.index("re-sent to chief.executive@derby.example.org")
    assert "sent" in history.split("re-sent to")[1]
    assert run("status", "--csv", "audit.csv").exit_code == 0
    rows = list(csv.DictReader((work / "audit.csv").read_text("utf-8-sig").splitlines()))
    derby_rows = [
        (r["kind"], r["message_state"], r["came_back"]) for r in rows if r["authority"] == DERBY
    ]
    assert derby_rows == [
        ("first", "sent", "bounced"),
        ("re-send", "sent", "delivered as far as we know"),
    ]


def stand_in_converter(settings: object) -> TextPdfConverter:
    return TextPdfConverter()


def test_the_desk_reads_the_mailbox_and_shows_what_came_back(
    sent: tuple[Path, Dovecot, dict[str, tuple[str, str]]],
) -> None:
    from starlette.testclient import TestClient

    from letter_merge.desk.app import create_app
    from letter_merge.desk.security import DeskKeys
    from tests.test_desk import ORIGIN, PORT

    work, dovecot, letters = sent
    dovecot.deliver(postfix_delay(*letters[BRIGHTON]))
    keys = DeskKeys()
    app = create_app(work / "letter-merge.toml", keys, PORT, stand_in_converter)
    with TestClient(app, base_url=ORIGIN, follow_redirects=False) as client:
        assert client.get(f"/?token={keys.address_key}").status_code == 303
        headers = {"X-CSRF-Token": keys.csrf, "Origin": ORIGIN}
        refused = client.post("/api/delivery", json={}, headers={"Origin": ORIGIN})
        assert refused.status_code == 403  # no CSRF token, no reading
        answer = client.post("/api/delivery", json={}, headers=headers)
        assert answer.status_code == 200, answer.text
        found = answer.json()
        assert found["read"] == 1
        assert [d["authority"] for d in found["new"]] == [BRIGHTON]
        assert found["new"][0]["why"].startswith("delayed (the mail system is still trying)")
        status = client.get("/api/status").json()
        assert (
            status["came_back"] == "Of the letters sent: 3 delivered as far as we know, 1 delayed"
        )


def test_reports_are_marked_read_only_when_asked_by_name(
    sent: tuple[Path, Dovecot, dict[str, tuple[str, str]]],
) -> None:
    work, dovecot, letters = sent
    bounce = dovecot.deliver(
        postfix_bounce(*letters[DERBY], f"Annual Review letter 2020 – {DERBY}")
    )
    news = dovecot.deliver(b"From: news@example.com\r\nSubject: Newsletter\r\n\r\nHello\r\n")
    with (work / "letter-merge.toml").open("a", encoding="utf-8") as settings:
        settings.write('mark = "seen"\n')
    result = run("delivery")
    assert result.exit_code == 0, result.output
    assert "Marked 1 message read, as [mailbox] mark asks." in result.output
    assert dovecot.state() == {bounce: "S", news: ""}  # only what was recorded about a letter


def alias_bounce(address: str, alias: str) -> bytes:
    """A report that names no message of ours, whose server delivered to an alias of the
    address we sent to (Original-Recipient) and failed there (Final-Recipient)."""
    return f"""From: Mail Delivery System <MAILER-DAEMON@mx.council.example>
To: annual.review@ombudsman.example
Date: Wed, 22 Jul 2020 14:00:00 +0100
Subject: Undelivered Mail Returned to Sender
Message-ID: {make_msgid(domain="mx.council.example")}
MIME-Version: 1.0
Content-Type: multipart/report; report-type=delivery-status; boundary="B"

--B
Content-Type: text/plain

Your message could not be delivered.

--B
Content-Type: message/delivery-status

Reporting-MTA: dns; mx.council.example

Original-Recipient: rfc822; {address}
Final-Recipient: rfc822; {alias}
Action: failed
Status: 5.2.2
Diagnostic-Code: smtp; 552 5.2.2 Mailbox full

--B--
""".replace("\n", "\r\n").encode()


def complaint(message_id: str, address: str) -> bytes:
    """A spam complaint (ARF, RFC 5965) returning our message."""
    return f"""From: Feedback Loop <fbl@mail.example>
To: annual.review@ombudsman.example
Date: Wed, 22 Jul 2020 15:00:00 +0100
Subject: Abuse report
Message-ID: {make_msgid(domain="mail.example")}
MIME-Version: 1.0
Content-Type: multipart/report; report-type=feedback-report; boundary="F"

--F
Content-Type: text/plain

This is an email abuse report.

--F
Content-Type: message/feedback-report

Feedback-Type: abuse
User-Agent: FBL/1.0
Version: 1
Original-Rcpt-To: {address}

--F
Content-Type: message/rfc822

From: annual.review@ombudsman.example
To: {address}
Subject: Annual Review letter 2020
Message-ID: {message_id}

Please find attached.
--F--
""".replace("\n", "\r\n").encode()


def test_the_reason_is_recorded_an_alias_is_matched_and_a_complaint_counted(
    sent: tuple[Path, Dovecot, dict[str, tuple[str, str]]],
) -> None:
    work, dovecot, letters = sent
    derby_to = letters[DERBY][1]
    dovecot.deliver(alias_bounce(derby_to, "emma.alexander@mail.derby.example"))
    dovecot.deliver(complaint(*letters[ADUR]))

    result = run("delivery")
    assert result.exit_code == 0, result.output
    out = result.output
    assert (
        f"{DERBY}: did not arrive for emma.alexander@mail.derby.example: mailbox full, 5.2.2"
    ) in out  # matched by the address our message gave, not the alias that failed
    assert f"{ADUR}: marked as junk by the recipient for {letters[ADUR][1]}" in out
    assert "Of the letters sent: 2 delivered as far as we know, 1 bounced, 1 marked as junk." in out

    settings = load_settings(work / "letter-merge.toml")
    with open_ledger(settings.paths, read_only=True) as ledger:
        reasons = {d.authority: (d.kind, d.reason) for d in ledger.deliveries()}
    assert reasons == {
        DERBY: ("bounced", "mailbox full"),
        ADUR: ("complaint", "marked as junk by the recipient"),
    }


def challenge_response(message_id: str, address: str) -> bytes:
    """A challenge-response filter holding our message until the sender confirms it."""
    return f"""From: noreply@screening.example
Reply-To: {address}
To: annual.review@ombudsman.example
Date: Wed, 22 Jul 2020 15:10:00 +0100
Subject: Re: Annual Review letter 2020
In-Reply-To: {message_id}
Message-ID: {make_msgid(domain="screening.example")}

Your message about "Annual Review letter 2020" has been waitlisted.

Please add yourself to my Guest List so your messages will go to my Inbox.
Click the link below to be added: https://screening.example/confirm?t=1
""".replace("\n", "\r\n").encode()


def plain_out_of_office(address: str) -> bytes:
    """An out-of-office sent with an empty Return-Path, tied to no message by its headers."""
    return f"""Return-Path: <>
From: Chief Executive <{address}>
To: annual.review@ombudsman.example
Date: Wed, 22 Jul 2020 15:20:00 +0100
Subject: Thank you for your e-mail
Message-ID: {make_msgid(domain="council.example")}
Precedence: bulk

Thank you for your e-mail.
I will endeavour to reply as soon as possible.
""".replace("\n", "\r\n").encode()


def test_a_challenge_is_its_own_kind_and_an_out_of_office_never_a_bounce(
    sent: tuple[Path, Dovecot, dict[str, tuple[str, str]]],
) -> None:
    work, dovecot, letters = sent
    dovecot.deliver(challenge_response(*letters[BRIGHTON]))
    dovecot.deliver(plain_out_of_office(letters[LEICS][1]))

    result = run("delivery")
    assert result.exit_code == 0, result.output
    out = result.output
    assert (
        f"{BRIGHTON}: held by a filter that asks the sender to confirm for {letters[BRIGHTON][1]}"
    ) in out
    assert f"{LEICS}: an automatic reply from {letters[LEICS][1]}" in out
    assert "1 held until the sender confirms, 1 automatic reply." in out
    assert "bounced" not in out.split("Of the letters sent:")[1]
    settings = load_settings(work / "letter-merge.toml")
    with open_ledger(settings.paths, read_only=True) as ledger:
        kinds = {d.authority: (d.kind, d.reason) for d in ledger.deliveries()}
    assert kinds == {
        BRIGHTON: ("challenge", "asks the sender to confirm"),
        LEICS: ("auto-reply", ""),
    }
