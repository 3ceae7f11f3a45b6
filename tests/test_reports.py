"""Reading what comes back to the sending mailbox (letter_merge.mail.inbox.reports.reading). Each sample under
tests/data/reports is written the way its server writes it: Postfix, Exim, sendmail, Gmail,
Exchange Online and Exchange 2010, Outlook, Dovecot's vacation; variants are made from them here."""

from __future__ import annotations

import random
import time
from email import policy
from email.message import EmailMessage, Message
from email.parser import BytesParser
from pathlib import Path

import pytest

from letter_merge.mail.inbox.reports import mime
from letter_merge.mail.inbox.reports import reading as reports
from letter_merge.mail.inbox.reports.reading import (
    AUTO_REPLY,
    BOUNCED,
    DELAYED,
    DELIVERED,
    REPLY,
    UNKNOWN,
    Finding,
    Report,
    is_automatic,
    read_report,
)

DATA = Path(__file__).parent / "data" / "reports"
SAMPLES = sorted(DATA.glob("*.eml"))
KINDS = {BOUNCED, DELAYED, DELIVERED, AUTO_REPLY, REPLY, UNKNOWN}


def sample(name: str) -> bytes:
    return (DATA / name).read_bytes()


def read(name: str) -> Report:
    return read_report(sample(name))


def parse(raw: bytes) -> Message:
    return BytesParser(policy=policy.compat32).parsebytes(raw)


def without_parts(raw: bytes, *types: str) -> bytes:
    """The message again, with every part of these content types taken out."""
    message = parse(raw)
    for part in message.walk():
        payload = part.get_payload()
        if isinstance(payload, list) and part.get_content_maintype() == "multipart":
            kept = [p for p in payload if isinstance(p, Message)]
            part.set_payload([p for p in kept if p.get_content_type() not in types])
    return message.as_bytes()


def without_headers(raw: bytes, *names: str) -> bytes:
    message = parse(raw)
    for name in names:
        del message[name]
    return message.as_bytes()


def test_there_is_a_sample_of_each_kind_of_server() -> None:
    names = {path.name for path in SAMPLES}
    assert {
        "postfix_bounce.eml",
        "postfix_delay.eml",
        "exim_bounce_report.eml",
        "exim_bounce_plaintext.eml",
        "exim_delay.eml",
        "gmail_bounce.eml",
        "gmail_delay.eml",
        "exchange_online_ndr.eml",
        "exchange_legacy_ndr.eml",
        "exchange_delay.eml",
        "auto_reply_exchange.eml",
        "auto_reply_rfc3834.eml",
        "person_reply.eml",
        "report_outside_batch.eml",
        "report_without_status.eml",
        "unrelated_newsletter.eml",
        "malformed_report.eml",
        "multi_recipient_bounce.eml",
    } <= names


# Each sample, read in full.


def test_postfix_bounce() -> None:
    assert read("postfix_bounce.eml") == Report(
        kind=BOUNCED,
        message_id="<20200701120008.3A9B61C0417@mail.lgo.example>",
        date="2020-07-01T12:00:08+00:00",
        sender="mailer-daemon@mail.lgo.example",
        subject="Undelivered Mail Returned to Sender",
        original_ids=("<20200701120002.1236.derby@lgo.example>",),
        findings=(
            Finding(
                recipient="chief.executive@derby.gov.uk",
                kind=BOUNCED,
                status="5.1.1",
                diagnostic="550 5.1.1 <chief.executive@derby.gov.uk>: Recipient address "
                "rejected: User unknown in virtual mailbox table",
                reason="address unknown",
            ),
        ),
        original_recipients=("chief.executive@derby.gov.uk", "complaints.link@derby.gov.uk"),
    )


def test_postfix_delay_warning() -> None:
    assert read("postfix_delay.eml") == Report(
        kind=DELAYED,
        message_id="<20200701161043.61D2E1C05A0@mail.lgo.example>",
        date="2020-07-01T16:10:43+00:00",
        sender="mailer-daemon@mail.lgo.example",
        subject="Delayed Mail (still being retried)",
        original_ids=("<20200701120005.1239.rutland@lgo.example>",),
        findings=(
            Finding(
                recipient="chief.executive@rutland.gov.uk",
                kind=DELAYED,
                status="4.4.1",
                # An X-Postfix diagnostic, folded over two lines, as one.
                diagnostic="connect to mail.rutland.gov.uk[203.0.113.45]:25: Connection timed out",
                reason="delayed: still being tried",
            ),
        ),
        original_recipients=("chief.executive@rutland.gov.uk",),
    )


def test_exim_multipart_report() -> None:
    assert read("exim_bounce_report.eml") == Report(
        kind=BOUNCED,
        message_id="<E1jqb4T-0003gH-Qm@mx1.nottscc.gov.uk>",
        date="2020-07-01T12:00:21+00:00",
        sender="mailer-daemon@mx1.nottscc.gov.uk",
        subject="Mail delivery failed: returning message to sender",
        original_ids=("<20200701120014.1243.notts@lgo.example>",),
        findings=(
            # Exim's Status is always 5.0.0: the server's own 5.1.1 says more.
            Finding(
                "chief.executive@nottscc.gov.uk",
                BOUNCED,
                "5.1.1",
                "550 5.1.1 User unknown",
                "address unknown",
            ),
        ),
        original_recipients=("chief.executive@nottscc.gov.uk",),
    )


def test_old_exim_in_plain_text_quoting_the_original() -> None:
    report = read("exim_bounce_plaintext.eml")
    assert report == Report(
        kind=BOUNCED,
        message_id="<E1jqb4d-0001Xy-8K@mx.lincolnshire.gov.uk>",
        date="2020-07-01T12:00:31+00:00",
        sender="mailer-daemon@mx.lincolnshire.gov.uk",
        subject="Mail delivery failed: returning message to sender",
        # Only in the headers quoted after "This is a copy of the message".
        original_ids=("<20200701120029.1249.lincs@lgo.example>",),
        findings=(
            Finding(
                recipient="chief.executive@lincolnshire.gov.uk",
                kind=BOUNCED,
                status="5.1.1",
                diagnostic="SMTP error from remote mail server after RCPT "
                "TO:<chief.executive@lincolnshire.gov.uk>: host exchange.lincolnshire.gov.uk "
                "[10.8.0.12]: 550 5.1.1 User unknown",
                reason="address unknown",
            ),
        ),
        original_recipients=(
            "chief.executive@lincolnshire.gov.uk",
            "complaints.link@lincolnshire.gov.uk",
        ),
    )


def test_exim_delay_warning_takes_the_reason_from_its_words() -> None:
    assert read("exim_delay.eml") == Report(
        kind=DELAYED,
        message_id="<E1jqxsq-0007Tb-8d@mx.cumbria.gov.uk>",
        date="2020-07-02T12:01:12+00:00",
        sender="mailer-daemon@mx.cumbria.gov.uk",
        subject="Warning: message 1jqb4X-0007Qm-2V delayed 24 hours",
        original_ids=("<20200701120007.1240.cumbria@lgo.example>",),
        findings=(
            Finding(
                recipient="chief.executive@cumbria.gov.uk",
                kind=DELAYED,
                status="4.3.0",  # its fields say 4.0.0 and give no Diagnostic-Code
                diagnostic="host exchange.cumbria.gov.uk [10.40.2.15] Delay reason: SMTP error "
                "from remote mail server after RCPT TO:<chief.executive@cumbria.gov.uk>: 451 "
                "4.3.0 Mailbox temporarily unavailable, try again later",
                reason="delayed: still being tried",
            ),
        ),
        original_recipients=("chief.executive@cumbria.gov.uk",),
    )


def test_gmail_bounce() -> None:
    assert read("gmail_bounce.eml") == Report(
        kind=BOUNCED,
        message_id="<5efc7a0c.1c69fb81.9a7e2.5b3dGMR@mx.google.com>",
        date="2020-07-01T12:00:12+00:00",
        sender="mailer-daemon@googlemail.com",
        subject="Delivery Status Notification (Failure)",
        original_ids=("<20200701120009.1240.cornwall@lgo.example>",),
        findings=(
            Finding(
                recipient="chief.executive@cornwall.gov.uk",
                kind=BOUNCED,
                status="5.1.1",
                # Gmail's reply over four lines, each starting "550-5.1.1", as one.
                diagnostic="550 5.1.1 The email account that you tried to reach does not exist. "
                "Please try double-checking the recipient's email address for typos or "
                "unnecessary spaces. Learn more at https://support.google.com/mail/?p=NoSuchUser "
                "d14si1473064wrw.512 - gsmtp",
                reason="address unknown",
            ),
        ),
        original_recipients=("chief.executive@cornwall.gov.uk",),
    )


def test_gmail_delay() -> None:
    assert read("gmail_delay.eml") == Report(
        kind=DELAYED,
        message_id="<5efc98b7.1c69fb81.4f3e2.91c2GMR@mx.google.com>",
        date="2020-07-01T14:11:03+00:00",
        sender="mailer-daemon@googlemail.com",
        subject="Delivery Status Notification (Delay)",
        original_ids=("<20200701120011.1241.northyorks@lgo.example>",),
        findings=(
            Finding(
                recipient="chief.executive@northyorks.gov.uk",
                kind=DELAYED,
                status="4.4.1",
                diagnostic="The recipient server did not accept our requests to connect. Learn "
                "more at https://support.google.com/mail/answer/7720 [mail.northyorks.gov.uk. "
                "203.0.113.120: timed out]",
                reason="delayed: still being tried",
            ),
        ),
        original_recipients=("chief.executive@northyorks.gov.uk",),
    )


def test_exchange_online_ndr() -> None:
    assert read("exchange_online_ndr.eml") == Report(
        kind=BOUNCED,
        message_id="<7d1e4b21-5a3c-4f0e-9d47-3b2a8c6e1f90@DB8PR05MB6474.eurprd05.prod.outlook.com>",
        date="2020-07-01T12:00:04+00:00",
        sender="microsoftexchange329e71ec88ae4615bbc36ab6ce41109e@leicscc.onmicrosoft.com",
        subject="Undeliverable: Annual Review letter 2020 - Leicestershire County Council",
        original_ids=("<20200701120000.1234.leics@lgo.example>",),
        findings=(
            Finding(
                recipient="chief.executive@leics.gov.uk",  # Final-Recipient only
                kind=BOUNCED,
                status="5.1.10",
                diagnostic="550 5.1.10 RESOLVER.ADR.RecipientNotFound; Recipient not found by "
                "SMTP address lookup",
                reason="address unknown",
            ),
        ),
        original_recipients=("chief.executive@leics.gov.uk", "jane.smith@leics.gov.uk"),
    )


def test_exchange_2010_ndr_with_the_original_only_quoted_in_its_words() -> None:
    assert read("exchange_legacy_ndr.eml") == Report(
        kind=BOUNCED,
        message_id="<c0a9f8e7-d6c5-4b4a-9392-8170f6e5d4c3@EXCH01.northumberland.gov.uk>",
        date="2020-07-01T12:00:26+00:00",
        sender="postmaster@northumberland.gov.uk",
        subject="Undeliverable: Annual Review letter 2020 - Northumberland County Council",
        original_ids=("<20200701120024.1251.northumberland@lgo.example>",),
        findings=(
            Finding(
                recipient="chief.executive@northumberland.gov.uk",
                kind=BOUNCED,
                status="5.1.1",
                diagnostic="550 5.1.1 RESOLVER.ADR.RecipNotFound; not found",
                reason="address unknown",
            ),
        ),
        original_recipients=("chief.executive@northumberland.gov.uk",),
    )


def test_exchange_delay() -> None:
    assert read("exchange_delay.eml") == Report(
        kind=DELAYED,
        message_id="<a8f3c2d1-6e5b-4a79-8c0d-3e2f1a0b9c87@LO2P265MB0319.GBRP265.PROD.OUTLOOK.COM>",
        date="2020-07-01T16:05:31+00:00",
        sender="microsoftexchange329e71ec88ae4615bbc36ab6ce41109e@lgoexample.onmicrosoft.com",
        subject="Delivery delayed:Annual Review letter 2020 - Shropshire Council",
        original_ids=("<20200701120010.1242.shropshire@lgo.example>",),
        findings=(
            Finding(
                "chief.executive@shropshire.gov.uk",
                DELAYED,
                "4.4.7",
                "400 4.4.7 Message delayed",
                "delayed: still being tried",
            ),
        ),
        original_recipients=("chief.executive@shropshire.gov.uk",),
    )


def test_exchange_out_of_office() -> None:
    assert read("auto_reply_exchange.eml") == Report(
        kind=AUTO_REPLY,
        message_id="<f3b2c1d0e9a84b7c9d6e5f4a3b2c1d0e@DB7PR03MB4972.eurprd03.prod.outlook.com>",
        date="2020-07-01T12:00:41+00:00",
        sender="chief.executive@kent.gov.uk",
        subject="Automatic reply: Annual Review letter 2020 - Kent County Council",
        original_ids=("<20200701120040.1261.kent@lgo.example>",),
        # Windows-1252, quoted-printable: the curly apostrophe survives.
        words="Thank you for your email. I’m out of the office until Monday 13 July with limited "
        "access to email.\n\nFor urgent matters please contact my office on 03000 416000 or "
        "email ceo.office@kent.gov.uk.\n\nDavid Cockburn\nHead of Paid Service\nKent County "
        "Council",
    )


def test_vacation_reply_under_rfc_3834() -> None:
    assert read("auto_reply_rfc3834.eml") == Report(
        kind=AUTO_REPLY,
        message_id="<dovecot-sieve-1593604862-651321-0@imap2.surreycc.gov.uk>",
        date="2020-07-01T12:01:02+00:00",
        sender="chief.executive@surreycc.gov.uk",
        subject="Auto: Annual Review letter 2020 - Surrey County Council",
        original_ids=("<20200701120050.1270.surrey@lgo.example>",),
        words="I’m on leave until 20 July and won’t see your message until then.\n\nLetters for "
        "the Chief Executive’s attention can be sent to\nexecutive.office@surreycc.gov.uk, who "
        "will make sure they are dealt with.\n\nJoanna Killian",
    )


def test_a_link_officer_asks_a_question() -> None:
    report = read("person_reply.eml")
    assert report == Report(
        kind=REPLY,
        message_id="<DB8PR05MB64745E2F0A1B2C3D4E5F6A7B8C9D0@DB8PR05MB6474.eurprd05.prod.outlook.com>",
        date="2020-07-02T09:14:27+00:00",
        sender="jane.smith@leics.gov.uk",
        subject="RE: Annual Review letter 2020 - Leicestershire County Council",
        original_ids=("<20200701120000.1234.leics@lgo.example>",),
        # Their words, not Outlook's "From: ... Sent: ..." and our letter under them.
        words="Dear Complaints Reviews team,\n\nThank you for the annual review letter. Could you "
        "confirm whether the figure of 7 upheld complaints includes the two cases where we had "
        "already put things right before your decision? We’re reporting to our Corporate "
        "Governance Committee on 15 July.\n\nKind regards,",
    )
    assert len(report.words) <= reports.MAX_WORDS


def test_a_bounce_for_a_message_that_is_not_a_letter() -> None:
    report = read("report_outside_batch.eml")
    assert report.kind == BOUNCED
    assert report.original_ids == ("<000001d64e2a$1b2c3d40$51b6b7c0$@lgo.example>",)
    assert report.findings == (
        Finding(
            recipient="training@oldcouncil.example",
            kind=BOUNCED,
            status="5.4.4",
            diagnostic="Host or domain name not found. Name service error for "
            "name=oldcouncil.example type=AAAA: Host not found",
            reason="domain not found",
        ),
    )
    assert report.subject == "Undelivered Mail Returned to Sender"
    assert report.problem == ""


def test_a_newsletter_is_about_nothing_of_ours() -> None:
    assert read("unrelated_newsletter.eml") == Report(
        kind=UNKNOWN,
        message_id="<20200702070004.7f3a9c1e.2481@lists.lga.example>",
        date="2020-07-02T07:00:04+00:00",
        sender="bulletin@lga.example",
        subject="LGA bulletin: councils' finances, adult social care guidance",
    )


def test_one_recipient_failed_and_one_was_delivered() -> None:
    report = read("multi_recipient_bounce.eml")
    assert report.kind == BOUNCED  # the worst of the two
    assert report.findings == (
        Finding(
            recipient="chief.executive@derbyshire.gov.uk",
            kind=BOUNCED,
            status="5.1.1",
            diagnostic="550 5.1.1 <chief.executive@derbyshire.gov.uk>... User unknown",
            reason="address unknown",
        ),
        Finding(
            "complaints.link@derbyshire.gov.uk",
            DELIVERED,  # "relayed"
            "2.0.0",
            "(relayed to non-DSN-aware mailer)",  # from its words: the fields give none
        ),
    )
    assert report.original_ids == ("<20200701120034.1257.derbyshire@lgo.example>",)
    assert report.original_recipients == (
        "chief.executive@derbyshire.gov.uk",
        "complaints.link@derbyshire.gov.uk",
    )
    assert report.problem == ""


def test_a_report_whose_boundary_is_lost_is_read_from_its_raw_text() -> None:
    report = read("malformed_report.eml")
    assert report.kind == BOUNCED
    assert report.findings == (
        Finding(
            recipient="chief.executive@wiltshire.gov.uk",
            kind=BOUNCED,
            status="5.2.2",
            diagnostic="552 5.2.2 <chief.executive@wiltshire.gov.uk>: Mailbox full",
            reason="mailbox full",
        ),
    )
    assert report.original_ids == ("<20200701120031.1255.wiltshire@lgo.example>",)
    assert report.problem == (
        "Its MIME structure is damaged: it says it has several parts but gives no boundary "
        "between them. What could be read is shown. It is a delivery report; what it says was "
        "read from its text."
    )


def test_a_report_without_a_status_part_is_read_from_its_words() -> None:
    report = read("report_without_status.eml")
    assert report.kind == BOUNCED
    assert report.findings == (
        Finding(
            recipient="chief.executive@essex.gov.uk",
            kind=BOUNCED,
            status="5.7.1",
            diagnostic="550 5.7.1 Message rejected by content policy: attachment type not allowed",
            reason="refused as spam or by policy",
        ),
    )
    assert report.original_ids == ("<20200701120036.1258.essex@lgo.example>",)
    assert report.problem == (
        "It says it is a delivery report but has no delivery-status part; what it says was "
        "read from its text."
    )


@pytest.mark.parametrize("path", SAMPLES, ids=lambda p: p.name)
def test_every_sample_reads_without_raising_and_within_bounds(path: Path) -> None:
    report = read_report(path.read_bytes())
    assert report.kind in KINDS
    assert all(i.startswith("<") and i.endswith(">") and "@" in i for i in report.original_ids)
    assert report.message_id not in report.original_ids
    assert all(len(f.diagnostic) <= reports.MAX_DIAGNOSTIC for f in report.findings)
    assert all(f.recipient == f.recipient.lower() for f in report.findings)
    assert len(report.words) <= reports.MAX_WORDS
    assert all("\n" not in f.diagnostic for f in report.findings)


@pytest.mark.parametrize("path", SAMPLES, ids=lambda p: p.name)
def test_every_sample_reads_the_same_with_either_line_ending(path: Path) -> None:
    raw = path.read_bytes()
    crlf = raw.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")
    lf = raw.replace(b"\r\n", b"\n")
    assert read_report(crlf) == read_report(lf)


# Where the Message-ID of ours comes from, and where it must not.


def test_gmail_without_its_returned_message_still_names_the_original() -> None:
    raw = without_headers(
        without_parts(sample("gmail_bounce.eml"), "message/rfc822"), "In-Reply-To", "References"
    )
    report = read_report(raw)
    assert report.original_ids == ("<20200701120009.1240.cornwall@lgo.example>",)  # X-Original-
    assert report.original_recipients == ()
    assert report.findings[0].status == "5.1.1"


def test_exchange_online_without_headers_part_or_threading_uses_the_quoted_headers() -> None:
    raw = without_headers(
        without_parts(sample("exchange_online_ndr.eml"), "text/rfc822-headers"),
        "In-Reply-To",
        "References",
    )
    report = read_report(raw)
    assert report.kind == BOUNCED
    assert report.original_ids == ("<20200701120000.1234.leics@lgo.example>",)
    assert report.original_recipients == (
        "chief.executive@leics.gov.uk",
        "jane.smith@leics.gov.uk",
    )


def test_the_returned_original_is_trusted_before_threading_headers() -> None:
    raw = sample("postfix_bounce.eml").replace(
        b"Message-Id: <20200701120008.3A9B61C0417@mail.lgo.example>",
        b"Message-Id: <20200701120008.3A9B61C0417@mail.lgo.example>\n"
        b"In-Reply-To: <someone-else@lgo.example>\n"
        b"References: <older@lgo.example> <someone-else@lgo.example>",
    )
    assert read_report(raw).original_ids == (
        "<20200701120002.1236.derby@lgo.example>",
        "<someone-else@lgo.example>",
        "<older@lgo.example>",
    )


def test_a_bounce_forwarded_by_a_colleague_is_not_a_bounce() -> None:
    quoted = sample("postfix_bounce.eml").split(b"\n\n", 1)[1]
    raw = (
        b"From: Sam Patel <sam.patel@lgo.example>\n"
        b"To: Complaints Reviews <reviews@lgo.example>\n"
        b"Subject: Fwd: Undelivered Mail Returned to Sender\n"
        b"Date: Wed, 01 Jul 2020 14:00:00 +0100\n"
        b"Message-ID: <fwd-1@lgo.example>\n"
        b"Content-Type: text/plain; charset=utf-8\n\n"
        b"Can you check this one?\n\n---------- Forwarded message ---------\n" + quoted
    )
    report = read_report(raw)
    assert report.kind == UNKNOWN
    assert report.original_ids == ()  # nothing is taken from the forwarded text
    assert report.findings == ()


def test_a_subject_alone_ties_a_message_to_nothing() -> None:
    raw = (
        b"From: Jane Smith <jane.smith@leics.gov.uk>\n"
        b"To: reviews@lgo.example\n"
        b"Subject: RE: Annual Review letter 2020 - Leicestershire County Council\n"
        b"Message-ID: <new-thread@leics.gov.uk>\n"
        b"Date: Thu, 2 Jul 2020 09:14:27 +0000\n\n"
        b"Could you resend the letter? It did not arrive.\n"
    )
    report = read_report(raw)
    assert report.kind == UNKNOWN
    assert report.original_ids == ()
    assert report.subject == "RE: Annual Review letter 2020 - Leicestershire County Council"


def test_message_ids_are_normalised_and_ordered_nearest_first() -> None:
    raw = (
        b"From: Jane Smith <jane.smith@leics.gov.uk>\n"
        b"To: reviews@lgo.example\n"
        b"Subject: RE: letter\n"
        b"Message-ID: <reply-2@leics.gov.uk>\n"
        b"In-Reply-To: 20200701120000.1234.leics@lgo.example\n"
        b"References: <first@lgo.example> (the first)\n"
        b"  <20200701120000.1234.leics@lgo.example>\n"
        b"  <reply-2@leics.gov.uk>\n\n"
        b"Thanks.\n"
    )
    report = read_report(raw)
    assert report.kind == REPLY
    assert report.original_ids == (
        "<20200701120000.1234.leics@lgo.example>",
        "<first@lgo.example>",  # and never the message's own id
    )


def test_at_most_fifty_original_ids() -> None:
    references = " ".join(f"<ref-{n}@lgo.example>" for n in range(200))
    raw = (
        f"From: a@example.org\nIn-Reply-To: <parent@lgo.example>\nReferences: {references}\n\n"
        "Yes.\n"
    ).encode()
    ids = read_report(raw).original_ids
    assert len(ids) == 50
    assert ids[:2] == ("<parent@lgo.example>", "<ref-199@lgo.example>")


# Delivery-status fields as servers write them.


def dsn(status: str, *, content_type: str = "message/delivery-status", extra: str = "") -> bytes:
    """A small RFC 3464 report about <orig@lgo.example>."""
    return (
        "From: MAILER-DAEMON@mx.example.org (Mail Delivery System)\n"
        "To: reviews@lgo.example\n"
        "Subject: Delivery report\n"
        "Date: Wed, 1 Jul 2020 13:00:00 +0100\n"
        "Message-ID: <dsn-1@mx.example.org>\n"
        f"{extra}"
        "MIME-Version: 1.0\n"
        'Content-Type: multipart/report; report-type=delivery-status; boundary="B"\n\n'
        "--B\nContent-Type: text/plain\n\nA report.\n\n"
        f"--B\nContent-Type: {content_type}\n{status}\n"
        "--B\nContent-Type: text/rfc822-headers\n\n"
        "From: reviews@lgo.example\nTo: a@example.org\nMessage-ID: <orig@lgo.example>\n\n"
        "--B--\n"
    ).encode()


def test_a_delayed_and_a_delivered_recipient_make_a_delay() -> None:
    report = read_report(
        dsn(
            "\nReporting-MTA: dns; mx.example.org\n\n"
            "Final-Recipient: rfc822; a@example.org\nAction: delivered\nStatus: 2.0.0\n\n"
            "Final-Recipient: rfc822; b@example.org\nAction: delayed\nStatus: 4.2.2\n"
            "Diagnostic-Code: smtp; 452 4.2.2 Mailbox full\n"
        )
    )
    assert report.kind == DELAYED
    assert [(f.recipient, f.kind, f.status) for f in report.findings] == [
        ("a@example.org", DELIVERED, "2.0.0"),
        ("b@example.org", DELAYED, "4.2.2"),
    ]
    assert report.original_ids == ("<orig@lgo.example>",)


def test_the_failed_recipient_is_the_final_one_and_the_original_is_kept() -> None:
    report = read_report(
        dsn(
            "\nReporting-MTA: dns; mx.example.org\n\n"
            "Original-Recipient: rfc822;<Chief.Executive@Example.ORG>\n"
            "Final-Recipient: RFC822; ce.mailbox@internal.example.org\n"
            "Action: failed\nStatus: 5.2.1 (mailbox disabled)\n"
        )
    )
    assert report.findings == (
        Finding(
            "ce.mailbox@internal.example.org",
            BOUNCED,
            "5.2.1",
            "",
            "mailbox closed",
            original_recipient="chief.executive@example.org",
        ),
    )


def test_a_temporary_failure_given_up_on_is_a_bounce() -> None:
    report = read_report(
        dsn(
            "\nFinal-Recipient: rfc822; a@example.org\nAction: failed\nStatus: 4.4.1\n"
            "Diagnostic-Code: X-Postfix; connect to mx.example.org[192.0.2.9]:25: Connection "
            "timed out\n"
        )
    )
    assert report.kind == BOUNCED
    assert report.findings[0].status == "4.4.1"


def test_an_action_left_out_is_taken_from_the_status() -> None:
    report = read_report(
        dsn("\nFinal-Recipient: rfc822; a@example.org\nStatus: 4.4.1\n\n"),
    )
    assert report.kind == DELAYED
    assert report.findings[0].kind == DELAYED


def test_a_diagnostic_is_one_line_of_at_most_300_characters() -> None:
    words = " ".join(["very"] * 200)
    report = read_report(
        dsn(
            "\nFinal-Recipient: rfc822; a@example.org\nAction: failed\nStatus: 5.7.1\n"
            f"Diagnostic-Code: smtp; 550 5.7.1 Rejected because\n  it is {words} long\n"
        )
    )
    diagnostic = report.findings[0].diagnostic
    assert len(diagnostic) <= 300
    assert diagnostic.startswith("550 5.7.1 Rejected because it is very very")
    assert diagnostic.endswith("…")


def test_a_base64_encoded_status_part_is_decoded() -> None:
    import base64

    fields = b"Reporting-MTA: dns; x\n\nFinal-Recipient: rfc822; a@example.org\nAction: failed\n"
    fields += b"Status: 5.1.1\n"
    encoded = base64.encodebytes(fields).decode()
    report = read_report(
        dsn("Content-Transfer-Encoding: base64\n\n" + encoded),
    )
    assert report.findings == (Finding("a@example.org", BOUNCED, "5.1.1", "", "address unknown"),)
    assert report.problem == ""


def test_a_global_delivery_status_part_is_read() -> None:
    report = read_report(
        dsn(
            "\nReporting-MTA: dns; x\n\n"
            "Final-Recipient: utf-8; a@example.org\nAction: failed\nStatus: 5.1.1\n",
            content_type="message/global-delivery-status",
        )
    )
    assert report.findings == (Finding("a@example.org", BOUNCED, "5.1.1", "", "address unknown"),)


def test_status_fields_in_a_part_labelled_as_text_are_still_read() -> None:
    report = read_report(
        dsn(
            "\nReporting-MTA: dns; x\n\n"
            "Final-Recipient: rfc822; a@example.org\nAction: failed\nStatus: 5.1.1\n",
            content_type="text/plain",
        )
    )
    assert report.findings == (Finding("a@example.org", BOUNCED, "5.1.1", "", "address unknown"),)
    assert "no delivery-status part" in report.problem


def test_a_status_part_naming_no_recipient_is_a_problem() -> None:
    report = read_report(dsn("\nReporting-MTA: dns; x\nArrival-Date: today\n"))
    assert report.findings == ()
    assert report.kind == UNKNOWN
    assert (
        report.problem
        == "Its delivery-status part names no recipient; its text names no recipient."
    )
    assert report.original_ids == ("<orig@lgo.example>",)


def test_a_report_is_read_by_its_structure_before_its_auto_submitted_header() -> None:
    report = read_report(
        dsn(
            "\nFinal-Recipient: rfc822; a@example.org\nAction: failed\nStatus: 5.1.1\n",
            extra="Auto-Submitted: auto-replied\nIn-Reply-To: <orig@lgo.example>\n",
        )
    )
    assert report.kind == BOUNCED


# Reports written only in words.


def plain_bounce(sender: str, subject: str, body: str, extra: str = "") -> bytes:
    return (
        f"Return-Path: <>\nFrom: {sender}\nTo: reviews@lgo.example\nSubject: {subject}\n"
        f"Date: Wed, 1 Jul 2020 13:00:00 +0100\nMessage-ID: <plain-1@example.org>\n{extra}\n" + body
    ).encode()


def test_exchange_2010_in_words_only() -> None:
    raw = without_parts(sample("exchange_legacy_ndr.eml"), "message/delivery-status")
    report = read_report(raw)
    assert report.kind == BOUNCED
    assert report.findings == (
        Finding(
            "chief.executive@northumberland.gov.uk",
            BOUNCED,
            "5.1.1",
            "550 5.1.1 RESOLVER.ADR.RecipNotFound; not found",
            "address unknown",
        ),
    )
    assert report.original_ids == ("<20200701120024.1251.northumberland@lgo.example>",)
    assert "no delivery-status part" in report.problem


def test_exchange_online_in_html_only() -> None:
    raw = without_parts(sample("exchange_online_ndr.eml"), "message/delivery-status", "text/plain")
    report = read_report(raw)
    assert report.findings == (
        Finding(
            "chief.executive@leics.gov.uk",
            BOUNCED,
            "5.1.10",
            "550 5.1.10 RESOLVER.ADR.RecipientNotFound; Recipient not found by SMTP address lookup",
            "address unknown",
        ),
    )
    assert report.original_ids == ("<20200701120000.1234.leics@lgo.example>",)


def test_old_gmail_in_plain_text() -> None:
    raw = plain_bounce(
        "Mail Delivery Subsystem <mailer-daemon@googlemail.com>",
        "Delivery Status Notification (Failure)",
        "Delivery to the following recipient failed permanently:\n\n"
        "     chief.executive@example.gov.uk\n\n"
        "Technical details of permanent failure:\n"
        "Google tried to deliver your message, but it was rejected by the server for the "
        "recipient domain example.gov.uk by mx.example.gov.uk. [192.0.2.9].\n\n"
        "The error that the other server returned was:\n"
        "550 5.1.1 <chief.executive@example.gov.uk>: Recipient address rejected\n\n"
        "----- Original message -----\n\n"
        "From: Complaints Reviews <reviews@lgo.example>\n"
        "To: chief.executive@example.gov.uk\n"
        "Message-ID: <20200701120000.9999.example@lgo.example>\n"
        "Subject: Annual Review letter 2020\n\nDear ...\n",
        extra="X-Failed-Recipients: chief.executive@example.gov.uk\n",
    )
    report = read_report(raw)
    assert report.kind == BOUNCED
    assert report.original_ids == ("<20200701120000.9999.example@lgo.example>",)
    assert [f.recipient for f in report.findings] == ["chief.executive@example.gov.uk"]
    assert report.findings[0].diagnostic.startswith("Google tried to deliver your message")
    assert report.original_recipients == ("chief.executive@example.gov.uk",)


@pytest.mark.parametrize(
    ("words", "kind"),
    [
        ("Your message couldn't be delivered.", BOUNCED),
        ("Your message could not\nbe delivered to one or more recipients.", BOUNCED),
        ("Delivery has failed to these recipients or groups:", BOUNCED),
        ("This is a permanent error. The following address(es) failed:", BOUNCED),
        ("# THIS IS A WARNING ONLY.  YOU DO NOT NEED TO RESEND YOUR MESSAGE. #", DELAYED),
        (
            "This message hasn't been delivered yet. Delivery will continue to be attempted.",
            DELAYED,
        ),
        (  # Postfix's warning says both: the warning wins
            "THIS IS A WARNING ONLY.\nYour message could not be delivered for more than 4 hour(s).",
            DELAYED,
        ),
        ("Your mailbox is 95% full.", UNKNOWN),  # from a mail system, but not about delivery
    ],
)
def test_what_a_report_in_words_says_happened(words: str, kind: str) -> None:
    raw = plain_bounce("MAILER-DAEMON@mail.example.org", "Notice", words + "\n")
    assert read_report(raw).kind == kind


def test_exim_listing_two_failed_addresses_without_a_blank_line() -> None:
    raw = plain_bounce(
        "Mail Delivery System <Mailer-Daemon@mx.example.org>",
        "Mail delivery failed: returning message to sender",
        "This message was created automatically by mail delivery software.\n\n"
        "A message that you sent could not be delivered to one or more of its\n"
        "recipients. This is a permanent error. The following address(es) failed:\n\n"
        "  ceo@example.org\n"
        "    SMTP error from remote mail server after RCPT TO:<ceo@example.org>:\n"
        "    550 5.1.1 User unknown\n"
        "  link@example.org\n"
        "    SMTP error from remote mail server after RCPT TO:<link@example.org>:\n"
        "    552 5.2.2 Mailbox full\n",
        extra="X-Failed-Recipients: ceo@example.org,\n  link@example.org\n",
    )
    report = read_report(raw)
    assert [(f.recipient, f.status, f.diagnostic) for f in report.findings] == [
        (
            "ceo@example.org",
            "5.1.1",
            "SMTP error from remote mail server after RCPT TO:<ceo@example.org>: 550 5.1.1 User "
            "unknown",
        ),
        (
            "link@example.org",
            "5.2.2",
            "SMTP error from remote mail server after RCPT TO:<link@example.org>: 552 5.2.2 "
            "Mailbox full",
        ),
    ]


def test_postfix_wrapping_the_address_onto_the_next_line_keeps_the_whole_reason() -> None:
    raw = plain_bounce(
        "MAILER-DAEMON@mail.example.org (Mail Delivery System)",
        "Undelivered Mail Returned to Sender",
        "I'm sorry to have to inform you that your message could not\n"
        "be delivered to one or more recipients.\n\n"
        "<ceo@example.org>: host mx.example.org[192.0.2.9] said: 550 5.1.1\n"
        "    <ceo@example.org>: Recipient address rejected: User unknown (in reply to\n"
        "    RCPT TO command)\n",
    )
    assert read_report(raw).findings == (
        Finding(
            "ceo@example.org",
            BOUNCED,
            "5.1.1",
            "host mx.example.org[192.0.2.9] said: 550 5.1.1 <ceo@example.org>: Recipient "
            "address rejected: User unknown (in reply to RCPT TO command)",
            "address unknown",
        ),
    )


def test_qmail() -> None:
    raw = plain_bounce(
        "MAILER-DAEMON@mail.example.org",
        "failure notice",
        "Hi. This is the qmail-send program at mail.example.org.\n"
        "I'm afraid I wasn't able to deliver your message to the following addresses.\n"
        "This is a permanent error; I've given up. Sorry it didn't work out.\n\n"
        "<ceo@example.org>:\n"
        "Sorry, no mailbox here by that name. (#5.1.1)\n\n"
        "--- Below this line is a copy of the message.\n\n"
        "Return-Path: <reviews@lgo.example>\n"
        "From: reviews@lgo.example\nTo: ceo@example.org\n"
        "Message-ID: <q-1@lgo.example>\n\nDear ...\n",
    )
    report = read_report(raw)
    assert report.kind == BOUNCED
    assert report.findings == (
        Finding(
            "ceo@example.org",
            BOUNCED,
            "5.1.1",
            "Sorry, no mailbox here by that name. (#5.1.1)",
            "address unknown",
        ),
    )
    assert report.original_ids == ("<q-1@lgo.example>",)


def test_exchange_2003_in_plain_text() -> None:
    raw = plain_bounce(
        "System Administrator <postmaster@example.gov.uk>",
        "Undeliverable: Annual Review letter 2020",
        "Your message did not reach some or all of the intended recipients.\n\n"
        "      Subject:\tAnnual Review letter 2020\n"
        "      Sent:\t01/07/2020 13:00\n\n"
        "The following recipient(s) cannot be reached:\n\n"
        "      ceo@example.gov.uk on 01/07/2020 13:00\n"
        "            The e-mail account does not exist at the organization this message was "
        "sent to.\n"
        "            <mail.example.gov.uk #5.1.1>\n",
    )
    report = read_report(raw)
    assert report.kind == BOUNCED
    assert [(f.recipient, f.status) for f in report.findings] == [("ceo@example.gov.uk", "5.1.1")]
    assert report.original_ids == ()  # it quotes only the subject, which ties it to nothing


def test_old_exim_delay_warning_in_plain_text() -> None:
    raw = plain_bounce(
        "Mail Delivery System <Mailer-Daemon@mx.example.org>",
        "Warning: message 1jqb4X-0007Qm-2V delayed 24 hours",
        "This message was created automatically by mail delivery software.\n"
        "A message that you sent has not yet been delivered to one or more of its\n"
        "recipients after more than 24 hours on the queue on mx.example.org.\n\n"
        "The address to which the message has not yet been delivered is:\n\n"
        "  ceo@example.org\n"
        "    Delay reason: SMTP error from remote mail server after RCPT TO:<ceo@example.org>:\n"
        "    451 4.3.0 Try again later\n\n"
        "No action is required on your part.\n\n"
        "------ This is a copy of the message's headers. ------\n\n"
        "From: reviews@lgo.example\nTo: ceo@example.org\nMessage-ID: <x-2@lgo.example>\n",
        extra="References: <x-2@lgo.example>\n",
    )
    report = read_report(raw)
    assert report.kind == DELAYED
    assert [(f.recipient, f.kind, f.status) for f in report.findings] == [
        ("ceo@example.org", DELAYED, "4.3.0")
    ]
    assert report.original_ids == ("<x-2@lgo.example>",)


def test_words_that_sound_like_a_bounce_from_a_person_are_not_one() -> None:
    raw = (
        b"From: Jane Smith <jane.smith@leics.gov.uk>\nTo: reviews@lgo.example\n"
        b"Subject: Re: letter\nIn-Reply-To: <20200701120000.1234.leics@lgo.example>\n\n"
        b"Your message could not be delivered to our chief executive by hand; I've passed it on.\n"
    )
    report = read_report(raw)
    assert report.kind == REPLY
    assert report.findings == ()


# Automatic replies and people.


@pytest.mark.parametrize(
    ("header", "automatic"),
    [
        ("Auto-Submitted: auto-replied", True),
        ("Auto-Submitted: auto-generated", True),
        ("Auto-Submitted: auto-replied (vacation)", True),
        ("Auto-Submitted: no", False),
        ("Precedence: bulk", True),
        ("Precedence: junk", True),
        ("Precedence: list", True),
        ("Precedence: auto_reply", True),
        ("X-Autoreply: yes", True),
        ("X-Autorespond: Annual Review letter", True),
        ("X-MS-Exchange-Inbox-Rules-Loop: ceo@example.org", True),
        ("X-MS-Exchange-Generated-Message-Source: Mailbox Rules Agent", True),
        ("List-Id: <bulletin.lists.example>", True),
        ("X-Auto-Response-Suppress: All", False),  # a sender's wish, not a sign of a program
        ("X-Mailer: Microsoft Outlook 16.0", False),
    ],
)
def test_is_automatic(header: str, automatic: bool) -> None:
    raw = f"From: a@example.org\nTo: b@example.org\n{header}\n\nHello\n".encode()
    assert is_automatic(parse(raw)) is automatic


def test_is_automatic_takes_a_message_parsed_with_policy_default_and_bad_headers() -> None:
    message = BytesParser(policy=policy.default).parsebytes(
        b"From: a@example.org\nTo: \xff\xfe broken <<\nAuto-Submitted: auto-replied\n\nHi\n"
    )
    assert is_automatic(message) is True
    built = EmailMessage()
    built["From"] = "Jane <jane@example.org>"
    built.set_content("Hello")
    assert is_automatic(built) is False


def test_an_automatic_reply_by_its_subject_and_suppress_header() -> None:
    raw = (
        b"From: ceo@example.org\nTo: reviews@lgo.example\n"
        b"Subject: Automatic reply: Annual Review letter 2020\n"
        b"X-Auto-Response-Suppress: All\nIn-Reply-To: <a@lgo.example>\n\nAway until Monday.\n"
    )
    report = read_report(raw)
    assert (report.kind, report.original_ids, report.words) == (
        AUTO_REPLY,
        ("<a@lgo.example>",),
        "Away until Monday.",
    )


def test_an_automatic_message_replying_to_nothing_is_unknown() -> None:
    raw = b"From: alerts@example.org\nAuto-Submitted: auto-generated\nSubject: Alert\n\nDisk full\n"
    assert read_report(raw).kind == UNKNOWN


def test_a_read_receipt_is_automatic_and_names_our_message() -> None:
    raw = (
        b"From: John Sinnott <chief.executive@leics.gov.uk>\nTo: reviews@lgo.example\n"
        b"Subject: Read: Annual Review letter 2020 - Leicestershire County Council\n"
        b"Message-ID: <mdn-1@leics.gov.uk>\nMIME-Version: 1.0\n"
        b'Content-Type: multipart/report; report-type=disposition-notification; boundary="M"\n\n'
        b"--M\nContent-Type: text/plain\n\nYour message was read on 01/07/2020 14:02.\n\n"
        b"--M\nContent-Type: message/disposition-notification\n\n"
        b"Reporting-UA: leics.gov.uk; Microsoft Outlook 16.0\n"
        b"Final-Recipient: rfc822;chief.executive@leics.gov.uk\n"
        b"Original-Message-ID: <20200701120000.1234.leics@lgo.example>\n"
        b"Disposition: manual-action/MDN-sent-manually; displayed\n\n--M--\n"
    )
    report = read_report(raw)
    assert report.kind == AUTO_REPLY
    assert report.original_ids == ("<20200701120000.1234.leics@lgo.example>",)
    assert report.words == "Your message was read on 01/07/2020 14:02."


def reply(body: str, content_type: str = "text/plain; charset=utf-8", cte: str = "8bit") -> bytes:
    return (
        "From: Jane Smith <jane.smith@leics.gov.uk>\nTo: reviews@lgo.example\n"
        "Subject: Re: Annual Review letter 2020\n"
        "In-Reply-To: <20200701120000.1234.leics@lgo.example>\n"
        f"MIME-Version: 1.0\nContent-Type: {content_type}\nContent-Transfer-Encoding: {cte}\n\n"
        + body
    ).encode()


def test_a_gmail_style_reply_without_its_quote() -> None:
    report = read_report(
        reply(
            "Thanks, received.\nWe will publish it on 20 July.\n\n"
            "On Wed, 1 Jul 2020 at 13:00, Complaints Reviews <reviews@lgo.example>\nwrote:\n\n"
            "> Dear Mr Sinnott,\n> Please find attached ...\n"
        )
    )
    assert report.kind == REPLY
    assert report.words == "Thanks, received.\nWe will publish it on 20 July."


def test_a_reply_written_between_quoted_lines_keeps_only_the_new_lines() -> None:
    report = read_report(
        reply("> Please confirm receipt.\nConfirmed.\n> Any questions?\nNone, thank you.\n")
    )
    assert report.words == "Confirmed.\nNone, thank you."


def test_an_outlook_reply_stops_at_the_original_message_line() -> None:
    report = read_report(
        reply("Received with thanks.\n\n-----Original Message-----\nFrom: Complaints Reviews\n")
    )
    assert report.words == "Received with thanks."


def test_an_html_only_reply_is_read_without_tags_or_blockquote() -> None:
    html = (
        "<html><head><style>p {margin:0}</style></head><body>"
        "<div dir='ltr'>Could you send the figures as a spreadsheet?<br>"
        "Thanks &amp; regards,<br>Jane</div>"
        "<div class='gmail_quote'><blockquote>Dear Mr Sinnott, please find attached"
        "</blockquote></div></body></html>"
    )
    report = read_report(reply(html, "text/html; charset=utf-8"))
    assert report.words == "Could you send the figures as a spreadsheet?\nThanks & regards,\nJane"


def test_a_quoted_printable_latin_1_reply_is_decoded() -> None:
    report = read_report(
        reply(
            "Fees of =A3250 apply =96 see attached.\n",
            "text/plain; charset=iso-8859-1",
            "quoted-printable",
        )
    )
    assert report.words == "Fees of £250 apply – see attached."


def test_words_are_at_most_300_characters() -> None:
    report = read_report(reply("word " * 400 + "\n"))
    assert len(report.words) <= 300
    assert report.words.endswith("…")


# Headers.


def test_an_encoded_or_eight_bit_subject_is_decoded() -> None:
    encoded = read_report(
        b"From: a@example.org\nSubject: =?utf-8?q?Caf=C3=A9_=E2=80=93_r=C3=A9sum=C3=A9?=\n\nx\n"
    )
    assert encoded.subject == "Café – résumé"
    raw_bytes = read_report("From: a@example.org\nSubject: Café – résumé\n\nx\n".encode())
    assert raw_bytes.subject == "Café – résumé"


@pytest.mark.parametrize(
    ("date", "iso"),
    [
        ("Wed, 01 Jul 2020 13:00:00 +0100", "2020-07-01T12:00:00+00:00"),
        ("Wed, 1 Jul 2020 05:00:12 -0700 (PDT)", "2020-07-01T12:00:12+00:00"),
        ("Wed, 1 Jul 2020 12:00:00 -0000", "2020-07-01T12:00:00+00:00"),
        ("yesterday afternoon", ""),
        ("Wed, 99 Foo 2020 99:99:99 +9999", ""),
    ],
)
def test_dates_are_iso_8601_in_utc(date: str, iso: str) -> None:
    assert read_report(f"From: a@example.org\nDate: {date}\n\nx\n".encode()).date == iso


def test_a_message_without_date_or_message_id() -> None:
    report = read_report(b"From: a@example.org\nSubject: hi\n\nx\n")
    assert (report.date, report.message_id) == ("", "")


# Damaged, hostile and huge messages: always a Report, never an exception.


def test_empty_bytes() -> None:
    assert read_report(b"") == Report(kind=UNKNOWN, problem="The message is empty.")
    assert read_report(b"\r\n \r\n").problem == "The message is empty."


def test_text_that_is_not_an_email() -> None:
    report = read_report(b"%PDF-1.7\n%\xc7\xec\x8f\xa2\n1 0 obj\n<< /Type /Catalog >>\n")
    assert report.kind == UNKNOWN
    assert report.problem.startswith("This is not an email: it has no headers")


def test_a_boundary_that_never_appears() -> None:
    raw = sample("postfix_bounce.eml").replace(
        b'boundary="8E2D31C0412.1593604808/mail.lgo.example"', b'boundary="elsewhere"'
    )
    report = read_report(raw)
    assert "the boundary it gives between its parts never appears" in report.problem
    assert report.kind == BOUNCED  # the best it can tell, from the raw text
    assert report.findings[0].recipient == "chief.executive@derby.gov.uk"


def test_a_report_cut_off_in_its_status_part() -> None:
    raw = sample("postfix_bounce.eml")
    cut = raw[: raw.index(b"Status: 5.1.1")]
    report = read_report(cut)
    assert "it may have been cut off" in report.problem
    assert report.kind == BOUNCED
    assert report.findings[0].recipient == "chief.executive@derby.gov.uk"
    assert report.original_ids == ()  # the returned message was cut off with the rest


def test_an_unknown_charset_is_read_as_utf_8_and_said() -> None:
    report = read_report(reply("Thank you.\n", "text/plain; charset=x-klingon"))
    assert report.words == "Thank you."
    assert "unknown character set (x-klingon)" in report.problem


@pytest.mark.parametrize("charset", ["rot13", "zlib", "idna", "punycode", "undefined", "utf-16"])
@pytest.mark.parametrize(
    "content_type", ["text/plain", "message/delivery-status", "message/rfc822", "multipart/report"]
)
def test_a_charset_that_is_no_text_encoding(charset: str, content_type: str) -> None:
    # Python's codecs include some that are not for text, or refuse "replace"; 8-bit bytes make
    # even an undecoded payload pass through the charset.
    raw = (
        f"From: MAILER-DAEMON@example.org\nSubject: =?{charset}?B?SGVsbG8=?=\n"
        f"In-Reply-To: <x@lgo.example>\nContent-Type: {content_type}; charset={charset}\n\n"
        "Caf\xe9: could not be delivered\nFinal-Recipient: rfc822; a@example.org\n"
    ).encode("latin-1")
    check(read_report(raw))


def test_bytes_that_are_not_the_charset_they_claim() -> None:
    report = read_report(reply("", "text/plain; charset=utf-8") + b"Caf\xe9 \xff\xfe ok\n")
    assert report.kind == REPLY
    assert "ok" in report.words


def test_damaged_base64_is_said() -> None:
    report = read_report(reply("VGhhbmsgeW91!!!*\n", cte="base64"))
    assert report.kind == REPLY
    assert "base64" in report.problem


def test_a_ten_megabyte_reply() -> None:
    message = EmailMessage()
    message["From"] = "Jane Smith <jane.smith@leics.gov.uk>"
    message["To"] = "reviews@lgo.example"
    message["Subject"] = "RE: Annual Review letter 2020"
    message["In-Reply-To"] = "<20200701120000.1234.leics@lgo.example>"
    message.set_content("Our response is attached.\n")
    message.add_attachment(
        random.Random(1).randbytes(10 * 1024 * 1024),
        maintype="application",
        subtype="pdf",
        filename="response.pdf",
    )
    raw = message.as_bytes()
    assert len(raw) > 10 * 1024 * 1024
    started = time.monotonic()
    report = read_report(raw)
    assert time.monotonic() - started < 20
    assert (report.kind, report.words, report.problem) == (
        REPLY,
        "Our response is attached.",
        "",
    )


def test_a_bounce_returning_ten_megabytes() -> None:
    raw = sample("postfix_bounce.eml")
    padding = b"QUJD" * (10 * 1024 * 1024 // 4)
    padded = raw.replace(b"IC9NZWRpYUJveCBbMCAwIDU5NSA4NDJdID4+CmVuZG9iago=", padding)
    assert len(padded) > 10 * 1024 * 1024
    assert read_report(padded) == read_report(raw)


def test_beyond_the_limit_only_the_start_is_read(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(mime, "MAX_BYTES", 3000)  # into the returned message
    report = read_report(sample("postfix_bounce.eml"))
    assert "only the start was read" in report.problem
    assert report.kind == BOUNCED


def test_a_fault_inside_the_parser_becomes_a_problem(monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(self: BytesParser, text: bytes, headersonly: bool = False) -> Message:
        raise LookupError("unknown encoding: x-mac-klingon")

    monkeypatch.setattr(BytesParser, "parsebytes", broken)
    report = read_report(sample("postfix_bounce.eml"))
    assert report.kind == UNKNOWN
    assert report.problem == "It could not be read (LookupError: unknown encoding: x-mac-klingon)."
    # What the headers alone say is kept.
    assert report.message_id == "<20200701120008.3A9B61C0417@mail.lgo.example>"
    assert report.date == "2020-07-01T12:00:08+00:00"
    assert report.sender == "mailer-daemon@mail.lgo.example"
    assert report.subject == "Undelivered Mail Returned to Sender"


def test_parts_nested_deeper_than_the_parser_goes() -> None:
    nested = "".join(
        f'Content-Type: multipart/mixed; boundary="b{i}"\n\n--b{i}\n' for i in range(3000)
    )
    raw = (
        "From: MAILER-DAEMON@mail.example.org\nSubject: Undelivered Mail Returned to Sender\n"
        "MIME-Version: 1.0\n" + nested + "\nFinal-Recipient: rfc822; ceo@example.org\n"
        "Action: failed\nStatus: 5.1.1\n"
    ).encode()
    report = read_report(raw)
    assert report.problem.startswith("Its parts are nested too deeply to be told apart")
    assert report.sender == "mailer-daemon@mail.example.org"


def check(report: Report) -> None:
    """Read, within bounds, and without the last-resort guard's help."""
    assert isinstance(report, Report)
    assert report.kind in KINDS
    assert not report.problem.startswith("It could not be read")
    assert all(isinstance(f, Finding) and len(f.diagnostic) <= 300 for f in report.findings)
    assert len(report.words) <= 300
    assert all(i.startswith("<") and i.endswith(">") for i in report.original_ids)


@pytest.mark.parametrize("path", SAMPLES, ids=lambda p: p.name)
def test_every_sample_cut_off_anywhere(path: Path) -> None:
    raw = path.read_bytes()
    offsets = sorted({*range(0, 400, 37), *range(0, len(raw), max(1, len(raw) // 24))})
    for offset in offsets:
        check(read_report(raw[:offset]))


@pytest.mark.parametrize("path", SAMPLES, ids=lambda p: p.name)
def test_every_sample_with_bytes_spoiled(path: Path) -> None:
    raw = path.read_bytes()
    rng = random.Random(path.name)
    for _ in range(12):
        spoiled = bytearray(raw)
        for _ in range(rng.randint(1, 40)):
            spoiled[rng.randrange(len(spoiled))] = rng.randrange(256)
        check(read_report(bytes(spoiled)))


def test_random_bytes() -> None:
    rng = random.Random(20200701)
    for _ in range(200):
        check(read_report(rng.randbytes(rng.randint(0, 3000))))
    for _ in range(50):  # random bytes after plausible headers
        head = b"From: a@example.org\nContent-Type: multipart/report; boundary=x\n\n--x\n"
        check(read_report(head + rng.randbytes(rng.randint(0, 3000))))
