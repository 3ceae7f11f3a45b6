"""The HTML email (template/html_email.py): from templates/email.docx (merged as the letter is, made
HTML by mammoth) or an HTML file, with a plain-text alternative and the logo inline, sent over a
real SMTP server on 127.0.0.1 (aiosmtpd) and read back with the email package."""

from __future__ import annotations

import email
import email.policy
import re
import shutil
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
from lxml import html as lxml_html

from letter_merge.batch import load_batch
from letter_merge.config import load_settings
from letter_merge.errors import ProblemsFound
from letter_merge.template.html_email import plain_text
from tests.helpers import HTML_EMAIL_PARTS, ROOT, Recorder, approve_and_queue, ledger_states, run

LOGO_ALT = "Local Government and Social Care Ombudsman logo"


class KeepingRecorder(Recorder):
    """The SMTP handler of the other tests, also keeping each message's bytes."""

    raw: list[bytes]

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.raw.append(bytes(envelope.content))
        return await super().handle_DATA(server, session, envelope)


@pytest.fixture
def keeping(server: tuple[Recorder, int]) -> KeepingRecorder:
    recorder, _ = server
    recorder.__class__ = KeepingRecorder
    assert isinstance(recorder, KeepingRecorder)
    recorder.raw = []
    return recorder


def use_email_template(work: Path, name: str) -> None:
    text = (work / "letter-merge.toml").read_text(encoding="utf-8")
    text = text.replace("[batch]", f'[paths]\nemail_template = "templates/{name}"\n[batch]', 1)
    (work / "letter-merge.toml").write_text(text, encoding="utf-8")


def parsed(raw: bytes) -> EmailMessage:
    message = email.message_from_bytes(raw, policy=email.policy.default)
    assert isinstance(message, EmailMessage)
    return message


def parts(message: EmailMessage) -> list[str]:
    return [part.get_content_type() for part in message.walk()]


def test_the_word_email_goes_as_html_with_a_text_alternative_the_logo_and_the_pdf(
    work: Path, keeping: KeepingRecorder
) -> None:
    use_email_template(work, "email.docx")
    approve_and_queue()
    result = run("send", "--yes")
    assert result.exit_code == 0, result.output
    assert set(ledger_states(work).values()) == {"sent"}
    (raw,) = [r for r in keeping.raw if b"Leicestershire" in r]
    message = parsed(raw)
    assert parts(message) == HTML_EMAIL_PARTS
    text_part = message.get_body(("plain",))
    html_part = message.get_body(("html",))
    assert text_part is not None and html_part is not None
    text = text_part.get_content().replace("\r\n", "\n")
    assert text.startswith("Dear Mr Sinnott,\n\nPlease find attached our Annual Review letter for ")
    assert "Leicestershire County Council for the year ending 31 March 2020." in text
    assert "Annual Review team\nLocal Government and Social Care Ombudsman\n" in text
    assert "{{" not in text and "{%" not in text and "<" not in text
    page = html_part.get_content()
    document = lxml_html.document_fromstring(page)
    assert document.get("lang") == "en-GB"
    assert document.findtext(".//title") == str(message["Subject"])
    (image,) = document.iter("img")
    assert image.get("alt") == LOGO_ALT
    (logo,) = [p for p in message.walk() if p.get_content_type() == "image/png"]
    assert image.get("src") == f"cid:{str(logo['Content-ID']).strip('<>')}"
    assert logo.get_content_disposition() == "inline"
    assert logo.get_content() == (ROOT / "templates" / "logo.png").read_bytes()
    assert "<strong>Annual Review team</strong>" in page
    (pdf,) = message.iter_attachments()
    assert pdf.get_filename() == "Leicestershire County Council - Annual Review 2020.pdf"
    # An ampersand in a name is text in the HTML, not markup.
    (brighton,) = [parsed(r) for r in keeping.raw if b"Brighton" in r]
    brighton_html = brighton.get_body(("html",))
    assert brighton_html is not None
    assert "Brighton &amp; Hove City Council" in brighton_html.get_content()


def test_the_test_copy_carries_the_html_with_its_note(work: Path, keeping: KeepingRecorder) -> None:
    use_email_template(work, "email.docx")
    approve_and_queue()
    result = run("send", "--test-to", "me@ombudsman.example", "--limit", "1")
    assert result.exit_code == 0, result.output
    (raw,) = keeping.raw
    message = parsed(raw)
    html_part = message.get_body(("html",))
    text_part = message.get_body(("plain",))
    assert html_part is not None and text_part is not None
    assert "<strong>TEST COPY</strong>: this message was not sent to the council" in (
        html_part.get_content()
    )
    assert (
        text_part.get_content()
        .replace("\r\n", "\n")
        .startswith("TEST COPY: this message was not sent")
    )
    assert "image/png" in parts(message)
    assert set(ledger_states(work).values()) == {"queued"}


def test_an_html_template_with_its_logo_beside_it(work: Path, keeping: KeepingRecorder) -> None:
    shutil.copy(ROOT / "templates" / "logo.png", work / "templates" / "logo.png")
    (work / "templates" / "email.html").write_text(
        "<p>Dear {{ salutation }},</p>\n<p>Our letter for {{ authority }} is attached.</p>\n"
        '<p onclick="steal()">See <a href="https://www.lgo.org.uk/your-councils-performance">'
        'Your council\'s performance</a> or <a href="javascript:alert(1)">this</a>.</p>\n'
        "<script>alert(1)</script>\n"
        f'<p><img src="logo.png" alt="{LOGO_ALT}" width="150"></p>\n',
        encoding="utf-8",
    )
    use_email_template(work, "email.html")
    approve_and_queue()
    assert run("send", "--yes", "--limit", "2").exit_code == 0
    message = parsed(keeping.raw[0])
    html_part = message.get_body(("html",))
    text_part = message.get_body(("plain",))
    assert html_part is not None and text_part is not None
    page = html_part.get_content()
    assert "<script" not in page and "onclick" not in page and "javascript:" not in page
    assert re.search(r'<img src="cid:[0-9a-f]{16}@letter-merge" alt="' + LOGO_ALT, page)
    assert (
        "See Your council's performance (https://www.lgo.org.uk/your-councils-performance) or "
        "this." in text_part.get_content().replace("\r\n", "\n")
    )


def test_a_picture_without_alt_text_is_a_problem_before_anything_is_made(work: Path) -> None:
    shutil.copy(ROOT / "templates" / "logo.png", work / "templates" / "logo.png")
    (work / "templates" / "email.html").write_text(
        '<p>Dear {{ salutation }},</p><p><img src="logo.png"></p>', encoding="utf-8"
    )
    use_email_template(work, "email.html")
    with pytest.raises(ProblemsFound) as raised:
        load_batch(load_settings(work / "letter-merge.toml"))
    assert "a picture has no alt text" in str(raised.value.problems[0])


def test_a_misspelt_field_in_the_word_email_is_a_problem(work: Path) -> None:
    from docx import Document

    document = Document(str(work / "templates" / "email.docx"))
    document.paragraphs[0].runs[0].text = "Dear {{ salutaton }},"
    document.save(str(work / "templates" / "email.docx"))
    use_email_template(work, "email.docx")
    with pytest.raises(ProblemsFound) as raised:
        load_batch(load_settings(work / "letter-merge.toml"))
    assert any("salutaton" in str(p) for p in raised.value.problems)


def test_plain_text_reads_as_the_html_does() -> None:
    body = lxml_html.document_fromstring(
        "<h1>Annual Review</h1><p>Dear Ms Khan,</p><ul><li>one</li><li>two</li></ul>"
        "<ol><li>first</li></ol><p>Line one<br>Line two</p>"
        "<table><tr><td>Complaints</td><td>16</td></tr></table>"
        '<p><a href="mailto:ar@lgo.org.uk">ar@lgo.org.uk</a></p><p><img alt="logo" src="x"></p>'
    ).find("body")
    assert plain_text(body) == (
        "Annual Review\n\nDear Ms Khan,\n\n- one\n- two\n\n1. first\n\nLine one\nLine two\n\n"
        "Complaints  16\n\nar@lgo.org.uk\n"
    )


def test_preview_shows_the_email_as_the_council_will_see_it(work: Path) -> None:
    from letter_merge.proof.preview import preview_email

    use_email_template(work, "email.docx")
    batch = load_batch(load_settings(work / "letter-merge.toml"))
    made = preview_email(batch, "Leicestershire")
    page = made.page.read_text(encoding="utf-8")
    document = lxml_html.document_fromstring(page)
    assert document.get("lang") == "en-GB"
    headers = [
        " ".join("".join(str(t) for t in cell.itertext()) for cell in row)
        for row in document.iter("tr")
    ]
    assert headers[:2] == [
        "From Annual Review <annual.review@ombudsman.example>",
        "To John Sinnott <ce@leicestershire-county-council.example.org>",
    ]
    (image,) = document.iter("img")
    assert image.get("src", "").startswith("data:image/png;base64,")  # shown without the message
    assert image.get("alt") == LOGO_ALT
    assert made.text.read_text(encoding="utf-8").startswith("Dear Mr Sinnott,\n\n")
    assert made.html


def test_word_headings_stay_headings(work: Path) -> None:
    from docx import Document

    from letter_merge.mail.send.outbox import build_message

    document = Document(str(work / "templates" / "email.docx"))
    heading = document.paragraphs[0].insert_paragraph_before("Annual Review {{ year }}")
    heading.style = document.styles["Heading 1"]
    document.save(str(work / "templates" / "email.docx"))
    use_email_template(work, "email.docx")
    batch = load_batch(load_settings(work / "letter-merge.toml"))
    letter = batch.letters()[0]
    pdf = work / "output" / "2020" / "letters" / f"{letter.stem}.pdf"
    message = build_message(batch.settings, batch, letter, pdf)
    page = message.get_body(("html",))
    text = message.get_body(("plain",))
    assert page is not None and text is not None
    assert '<h1 style="font-size:16pt;margin:0 0 11pt 0">Annual Review 2020</h1>' in (
        page.get_content()
    )
    assert text.get_content().startswith("Annual Review 2020\n\nDear ")


def test_check_renders_the_html_email_for_every_council(work: Path) -> None:
    (work / "templates" / "email.html").write_text(
        "<p>Dear {{ salutation }},</p><p>{{ 100 // (1 if authority != "
        "'Derby City Council' else 0) }}</p>",
        encoding="utf-8",
    )
    use_email_template(work, "email.html")
    result = run("check")
    assert result.exit_code == 1
    assert "email.html" in result.output and "for Derby City Council" in result.output
