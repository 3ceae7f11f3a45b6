"""Word documents as staff bring them: quotation marks are text (a typed «…» is a problem only
when it holds a field's name, never in a language that quotes with « »), and locked files (a
password, editing restrictions) and other formats under a .docx name are named for what they
are."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from letter_merge.batch import load_batch
from letter_merge.cli import cli
from letter_merge.config import PdfSettings, Settings
from letter_merge.errors import InputError, ProblemsFound
from letter_merge.pdf.conformance import Conformance
from letter_merge.proof.checks import check_letter
from letter_merge.template.merge_analysis import quotes_with_guillemets
from letter_merge.template.render import LetterTemplate
from letter_merge.untrusted import TEMPLATE, WORKBOOK, check_package
from tests import word_features as wf
from tests.helpers import ROOT

LOCKED = ROOT / "tests" / "data" / "locked"
TEMPLATE_PATH = Path("templates") / "letter.docx"
TYPED = "is typed text, not a field"


def with_paragraph(text: str, lang: str = "") -> None:
    """A paragraph after the greeting, its run marked in `lang` as Word marks it."""
    properties = f'<w:rPr><w:lang w:val="{lang}"/></w:rPr>' if lang else ""
    with wf.Package(TEMPLATE_PATH) as package:
        package.after_paragraph(
            "Dear {{ salutation }}",
            f'<w:p><w:r>{properties}<w:t xml:space="preserve">{text}</w:t></w:r></w:p>',
        )


def typed_problems(settings: Settings) -> list[str]:
    try:
        load_batch(settings)
    except ProblemsFound as found:
        return [f"{p.where}: {p.message}" for p in found.problems if TYPED in p.message]
    return []


@pytest.mark.parametrize(
    ("text", "lang"),
    [
        ("Банк «МЦБ» сообщает, что {{ authority }}", "ru-RU"),  # the Russian documents of issue 39
        ("Le rapport «Authority» de {{ authority }}", "fr-FR"),  # even a field's name, in French
        ("Il progetto «Authority»", "it-IT"),
        ("Die Studie «Authority»", "de-CH"),
        ("Звіт «Authority»", "uk-UA"),
        ("the «council's own view» of {{ authority }}", "en-GB"),  # words with spaces: a quote
        ("the «2020» figures", ""),  # a number is not a field's name
    ],
)
def test_quotation_marks_are_text(settings: Settings, text: str, lang: str) -> None:
    with_paragraph(text, lang)
    assert typed_problems(settings) == []


@pytest.mark.parametrize(
    ("text", "name"),
    [
        ("To «Authority» and others", "«Authority»"),  # a column, pasted from a merged preview
        ("To «Authority type» and others", "«Authority type»"),  # a column, spaces and all
        ("To «Chief_officer» and others", "«Chief_officer»"),  # an identifier: a field's look
    ],
)
def test_a_typed_field_name_in_chevrons_is_still_a_problem(
    settings: Settings, text: str, name: str
) -> None:
    with_paragraph(text, "en-GB")
    (problem,) = typed_problems(settings)
    assert problem.startswith("letter.docx, paragraph 9 'To ")
    assert f"{name} is typed text, not a field: every letter would print it" in problem


def test_a_document_in_a_guillemet_language_is_never_flagged(settings: Settings) -> None:
    with wf.Package(TEMPLATE_PATH) as package:
        styles = package.parts["word/styles.xml"]
        assert '<w:lang w:val="en-GB"' in styles
        package.parts["word/styles.xml"] = styles.replace(
            '<w:lang w:val="en-GB"', '<w:lang w:val="fr-FR"', 1
        )
    with_paragraph("Le rapport «Authority» et «Chief_officer»")
    assert typed_problems(settings) == []


def test_the_languages_that_quote_with_guillemets_follow_cldr() -> None:
    for language in ("fr-FR", "fr-CA", "ru-RU", "uk-UA", "it-IT", "es-ES", "pt-PT", "pl-PL"):
        assert quotes_with_guillemets(language), language
    for language in ("de-CH", "nb-NO", "el-GR", "ca-ES", "fa-IR", "hy-AM"):
        assert quotes_with_guillemets(language), language
    for language in ("en-GB", "en-US", "de-DE", "nl-NL", "ja-JP", "zh-CN", "ar-SA", ""):
        assert not quotes_with_guillemets(language), language


# -- locked files, and other formats under a .docx name -----------------------------------------


def test_a_password_protected_template_is_named_so(settings: Settings) -> None:
    shutil.copy(LOCKED / "example_password.docx", TEMPLATE_PATH)
    with pytest.raises(InputError) as raised:
        check_package(TEMPLATE_PATH, TEMPLATE)
    assert str(raised.value) == (
        f"{TEMPLATE_PATH}: is protected with a password, which letter-merge cannot open: save a "
        "copy without it (Word: File > Info > Protect Document > Encrypt with Password, and "
        "clear the password) and use that copy."
    )
    result = CliRunner().invoke(cli, ["check"])
    assert result.exit_code == 2, result.output  # an input error
    assert "is protected with a password" in result.output
    assert "magic number" not in result.output and "Traceback" not in result.output


def test_a_password_protected_workbook_is_named_so(tmp_path: Path) -> None:
    workbook = tmp_path / "councils.xlsx"
    shutil.copy(LOCKED / "example_password.xlsx", workbook)
    with pytest.raises(InputError, match="is protected with a password") as raised:
        check_package(workbook, WORKBOOK)
    assert "Excel: File > Info > Protect Workbook > Encrypt with Password" in str(raised.value)


def test_a_word_97_document_and_rich_text_under_a_docx_name_are_named(tmp_path: Path) -> None:
    old = tmp_path / "old.docx"
    shutil.copy(LOCKED / "plain.doc", old)
    with pytest.raises(InputError) as raised:
        check_package(old, TEMPLATE)
    assert str(raised.value) == (
        f"{old}: is a Word 97-2003 document (.doc), not a Word document of today's format "
        "(.docx), though it is named so; open it and use File > Save As > .docx."
    )
    rich = tmp_path / "rich.docx"
    rich.write_bytes(b"{\\rtf1\\ansi\\deff0 {\\fonttbl {\\f0 Times;}} Dear {{ salutation }}\\par}")
    with pytest.raises(InputError, match=r"is a Rich Text file \(\.rtf\), not a Word document"):
        check_package(rich, TEMPLATE)


@pytest.mark.parametrize(
    ("edit", "said"),
    [("readOnly", "no changes (read only)"), ("forms", "filling in forms only")],
)
def test_editing_restrictions_are_named_and_the_letters_are_made(
    settings: Settings, edit: str, said: str
) -> None:
    # Restrict Editing is a setting, not encryption: the template reads as ever, so it is a
    # warning, and the letters keep it.
    protection = (
        f'<w:documentProtection w:edit="{edit}" w:enforcement="1" '
        'w:cryptProviderType="rsaAES" w:cryptAlgorithmClass="hash" w:cryptAlgorithmType="typeAny" '
        'w:cryptAlgorithmSid="14" w:cryptSpinCount="100000" w:hash="x8bGxk1dU6mT6T4iMLy1Hw==" '
        'w:salt="3PjXuIZ3lvb0mh2gZSV9Fw=="/>'
    )
    with wf.Package(TEMPLATE_PATH) as package:
        settings_xml = package.parts["word/settings.xml"]
        package.parts["word/settings.xml"] = settings_xml.replace(
            "<w:defaultTabStop", protection + "<w:defaultTabStop", 1
        )
    batch = load_batch(settings)
    (warning,) = [p for p in batch.warnings if "protected against editing" in p.message]
    assert warning.where.endswith("letter.docx")
    assert f"is protected against editing ({said}; Word: Review > Restrict Editing)" in (
        warning.message
    )
    assert "each .docx letter keeps the protection" in warning.message


def test_the_proof_takes_quotation_marks_for_text_and_a_field_name_for_a_leftover(
    settings: Settings,
) -> None:
    letter = load_batch(settings).letters(["Derby City Council"])[0]
    plain = Conformance(False, "", "", False, "", "", (), 0, 0, 0)
    text = (
        "Ms O'Brien Chief Executive Derby City Council Dear Ms O'Brien. Банк «МЦБ» и «Газпром», "
        "le rapport «Les communes et leurs services»."
    )

    def leftovers(text: str) -> str:
        checks = check_letter(
            text, letter, 1, (1, 4), re.compile("(?!)"), plain, PdfSettings(False, "none")
        )
        (check,) = [c for c in checks if c.name == "No template tags left"]
        return "" if check.ok else check.detail

    assert leftovers(text) == ""
    assert leftovers(text + " To «Authority» and «Chief_executive»") == "«Authority»"


def test_a_document_saved_by_word_for_the_web_is_named_so(tmp_path: Path) -> None:
    online = tmp_path / "letter.docx"
    shutil.copy(ROOT / "tests" / "data" / "word-online" / "HelloWordOnline.docx", online)
    with pytest.raises(InputError) as raised:
        LetterTemplate(online)
    assert str(raised.value) == (
        f"{online}: keeps its text in word/document22.xml, not in word/document.xml, as Word for "
        "the web saves it; letter-merge reads a document as the desktop Word saves it: open it "
        "in Word (Editing > Open in Desktop App) or LibreOffice Writer and save it again as .docx."
    )
