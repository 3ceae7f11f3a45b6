"""The automatic checks on each letter, run on its PDF's own text (not on the template). The card
the proof page shows for a letter is a record of the proof: records/proofs.py."""

from __future__ import annotations

import re
from collections.abc import Iterable

from letter_merge.batch import PlannedLetter
from letter_merge.config import PdfSettings
from letter_merge.pdf.conformance import Conformance
from letter_merge.pdf.pages import Page
from letter_merge.pdf.reading import names
from letter_merge.pdf.verify import Margins, region
from letter_merge.records.manifest import Conversion
from letter_merge.records.proofs import Check
from letter_merge.template.fieldcode import word_name
from letter_merge.words import counted

# What a field left unfilled prints: a {{ }} tag, or a Word merge field's «placeholder».
LEFTOVERS = re.compile(r"\{\{|\}\}|\{%|%\}|«[^«»]{1,60}»|\bMERGEFIELD\b")
ERROR_VALUES = re.compile(r"\bNone\b|\bnan\b|#N/A|#DIV/0!|#REF!|#VALUE!")
# "Page 2 of 3" anywhere; "2 of 3" and "2/3" ending a line of a header or footer.
PAGE_OF = re.compile(r"\bpage\s+(\d+)\s+of\s+(\d+)\b", re.IGNORECASE)
BARE_OF = re.compile(r"(?<![\d/.,])(\d+)\s*(?:of|/)\s*(\d+)\s*$", re.IGNORECASE)


def authority_pattern(authorities: Iterable[str]) -> re.Pattern[str]:
    """Any authority's name as whole words; longest first so that a longer name wins."""
    ordered = sorted({" ".join(n.split()) for n in authorities}, key=len, reverse=True)
    return re.compile(r"(?<!\w)(" + "|".join(re.escape(n) for n in ordered) + r")(?!\w)")


def check_letter(
    text: str,
    letter: PlannedLetter,
    pages: int,
    page_range: tuple[int, int],
    others: re.Pattern[str],
    conformance: Conformance,
    promised: PdfSettings,
) -> list[Check]:
    """The automatic checks, on the PDF's own text and structure. Each says what it found."""
    flat = " ".join(text.split())
    authority = " ".join(letter.council.authority.split())
    checks = []
    # Text in « » is a quotation (French, Russian, ...) unless it names one of the letter's
    # fields: then it is a Word merge field left unfilled.
    field_names = {word_name(name) for name in letter.fields}
    leftovers = sorted(
        {
            f
            for f in LEFTOVERS.findall(flat)
            if not f.startswith("«") or word_name(f[1:-1]) in field_names
        }
    )
    checks.append(Check("No template tags left", not leftovers, " ".join(leftovers)))
    errors = sorted(set(ERROR_VALUES.findall(flat)))
    checks.append(Check("No empty or error values", not errors, ", ".join(errors)))
    named = names(flat, authority)
    checks.append(Check("Names its council", named, "" if named else f"'{authority}' not found"))
    salutation = f"Dear {letter.council.salutation}"
    checks.append(
        Check(
            "Greets its recipient",
            salutation in flat,
            "" if salutation in flat else f"'{salutation}' not found",
        )
    )
    strangers = sorted({m for m in others.findall(flat) if m not in authority})
    checks.append(Check("Names no other council", not strangers, ", ".join(strangers)))
    fewest, most = page_range
    checks.append(Check(f"{fewest}–{most} pages", fewest <= pages <= most, f"{pages} pages"))
    bare = conformance.unembedded_fonts
    checks.append(Check("Fonts embedded", not bare, ", ".join(bare)))
    if promised.accessible or promised.pdfa:
        missing = conformance.problems(promised)
        kind = promised.in_words()
        checks.append(Check(kind[:1].upper() + kind[1:], not missing, "; ".join(missing)))
    return checks


def page_numbers(pages: list[Page], margins: Margins) -> Check:
    """Every "page X of Y" the letter prints agrees with the page it is on and the letter's own
    page count (a letter laid out with others once said "Page 1 of 135")."""
    wrong = []
    for page in pages:
        for line in page.lines:
            where = region(page, line.top, line.bottom, margins)
            pattern = PAGE_OF if where.startswith("page") else BARE_OF
            for shown, total in pattern.findall(line.text):
                if (int(shown), int(total)) != (page.number, len(pages)):
                    wrong.append(f'{where} says "{" ".join(line.text.split())}"')
    detail = (
        f"{'; '.join(wrong[:2])}, in a letter of {counted(len(pages), 'page')}" if wrong else ""
    )
    return Check("Page numbers agree", not wrong, detail)


def conversion_check(conversion: Conversion | None, pdf_name: str) -> Check:
    """How the letter's PDF was made, and what showed that it is the letter alone."""
    name = "Laid out as the letter alone"
    if conversion is None:
        return Check(
            name,
            False,
            "the build did not record how this PDF was made (an older letter-merge); build "
            "every letter again",
        )
    if not conversion.together:
        return Check(name, True, "converted on its own")
    if not conversion.compared:
        return Check(
            name, False, "converted with other letters, never compared with a letter alone"
        )
    if pdf_name in conversion.compared:
        return Check(name, True, "compared page by page with itself converted alone: the same")
    return Check(
        name,
        True,
        f"converted with other letters of its template; {len(conversion.compared)} of them were "
        "compared page by page with themselves converted alone and were the same",
    )


def current_inputs(changes: list[str], knows: bool) -> Check:
    """The letter was built from the inputs as they are now: otherwise the proof has looked at
    a letter that would no longer be made."""
    name = "Built from the current inputs"
    if not knows:
        return Check(name, False, "the workbook or template cannot be read now, so this is unknown")
    if changes:
        return Check(name, False, "; ".join(changes) + "; build, proof and approve it again")
    return Check(name, True)
