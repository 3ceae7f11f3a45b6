"""The proof's checks that a letter is the letter alone: its page numbers agree with its own page
count, and how its PDF was made (no LibreOffice: pages and records made in the test)."""

from __future__ import annotations

from letter_merge.pdf.pages import Line, Page
from letter_merge.pdf.verify import Margins
from letter_merge.proof.checks import LEFTOVERS, conversion_check, page_numbers
from letter_merge.records.manifest import Conversion

A4 = (595.3, 841.9)
MARGINS = Margins(top=56.7, bottom=56.7)


def page(number: int, *footer: str, body: str = "Dear Ms Smith") -> Page:
    lines = [Line(body, 72, 700, 300, 712)]
    lines += [Line(text, 250, 30, 350, 40) for text in footer]  # below the bottom margin
    return Page(number, *A4, tuple(lines))


def test_page_numbers_that_agree_pass() -> None:
    pages = [page(n, f"Page {n} of 3") for n in (1, 2, 3)]
    assert page_numbers(pages, MARGINS).ok
    assert page_numbers([page(n, f"{n}/3") for n in (1, 2, 3)], MARGINS).ok
    assert page_numbers([page(1, "Page 1")], MARGINS).ok, "no count shown: nothing to disagree"


def test_a_count_of_the_whole_batch_is_a_problem() -> None:
    pages = [page(n, f"Page {n} of 135") for n in (1, 2, 3)]
    check = page_numbers(pages, MARGINS)
    assert not check.ok
    assert check.detail == (
        'footer of page 1 says "Page 1 of 135"; footer of page 2 says "Page 2 of 135", in a '
        "letter of 3 pages"
    )


def test_a_page_number_out_of_step_is_a_problem() -> None:
    pages = [page(1, "Page 1 of 2"), page(2, "Page 1 of 2")]
    assert page_numbers(pages, MARGINS).detail.startswith('footer of page 2 says "Page 1 of 2"')


def test_figures_in_the_body_are_not_page_numbers() -> None:
    pages = [page(1, "Page 1 of 1", body="We upheld 5 of 9 complaints (56%) and 1/2 of those")]
    assert page_numbers(pages, MARGINS).ok
    # nor a figure that begins a line near the foot of a page
    assert page_numbers([page(1, "1 of 5 complaints remedied", "1/1")], MARGINS).ok
    assert not page_numbers([page(1, "Derby City Council – 22 July 2020 – 1/3")], MARGINS).ok


def test_how_the_pdf_was_made_is_said_and_never_vouched_for_blindly() -> None:
    alone = conversion_check(Conversion(together=False), "Derby.pdf")
    assert alone.ok and alone.detail == "converted on its own"
    checked = Conversion(True, ("Adur.pdf", "Derby.pdf"), "LibreOffice 7.4", "2020-07-01")
    assert conversion_check(checked, "Derby.pdf").detail == (
        "compared page by page with itself converted alone: the same"
    )
    other = conversion_check(checked, "Leeds.pdf")
    assert other.ok and "2 of them were compared page by page" in other.detail
    unchecked = conversion_check(Conversion(True), "Leeds.pdf")
    assert not unchecked.ok
    unknown = conversion_check(None, "Leeds.pdf")
    assert not unknown.ok and "build every letter again" in unknown.detail


def test_a_merge_placeholder_left_in_a_letter_is_a_problem() -> None:
    found = LEFTOVERS.findall("Dear «Salutation», we write to «Authority» about {{ year }}")
    assert sorted(set(found)) == ["{{", "}}", "«Authority»", "«Salutation»"]
    assert not LEFTOVERS.findall("Dear Mr Sinnott, we write to you")
