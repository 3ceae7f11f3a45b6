"""A batch: the workbook, the template and the figures checked together, and the letters they make."""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from letter_merge.config import Settings
from letter_merge.decisions import kept_averages
from letter_merge.errors import InputError, Problem, ProblemsFound
from letter_merge.fields import email_fields, letter_fields
from letter_merge.figures import Figures, compute_figures
from letter_merge.files import longest_stem, safe_stem, unique_stems
from letter_merge.progress import Progress, no_progress
from letter_merge.records.decisions import read_decisions
from letter_merge.template.accessibility import accessibility_findings
from letter_merge.template.doctor import Finding, examine
from letter_merge.template.fieldcode import word_name
from letter_merge.template.html_email import email_body, email_problems, is_rich
from letter_merge.template.render import LetterTemplate
from letter_merge.template.text import (
    TemplateError,
    check_text_template,
    render_text,
    text_template_fields,
)
from letter_merge.untrusted import TEMPLATE, check_package, read_text_file
from letter_merge.words import counted, plural
from letter_merge.workbook import Council, Workbook, authority_key, read_workbook

ADDRESS_FIELDS = ("email", "cc")


@dataclass(frozen=True)
class PlannedLetter:
    """One letter to make: who it is for, every field it uses, and its file name (no extension)."""

    council: Council
    fields: dict[str, Any]
    subject: str
    stem: str
    # Fields only the email uses (its addresses), when the letter does not show them: a new
    # address is not a new letter, so a letter that bounced can go to a corrected address as
    # the same, still approved, letter.
    addressing: frozenset[str] = frozenset()


@dataclass(frozen=True)
class Batch:
    settings: Settings
    workbook: Workbook
    template: LetterTemplate
    figures: dict[str, Figures]
    # What the template doctor found that does not stop the letters (see doctor.py).
    warnings: tuple[Problem, ...] = ()  # what stops nothing but is worth a look, in its file
    email_template: str = ""  # the email body template's text ("" when there is none)

    def unused_columns(self) -> list[str]:
        """Extra workbook columns (as fields) that neither the letter nor the email uses."""
        used = set(self.template.fields_used())
        for source in (self.settings.email_subject, self.email_template):
            used |= text_template_fields(source)
        merged = {
            word_name(self.settings.field_map.get(n, n)) for n, _ in self.template.merge_names()
        }
        return sorted(f for f in self.workbook.extra_fields - used if word_name(f) not in merged)

    def subject(
        self, fields: Mapping[str, Any], *, correction: bool = False, note: str = ""
    ) -> str:
        """The email subject for a letter: as first sent, or as a correction (`note`: what the
        council is told about it)."""
        return render_text(
            self.settings.email_subject,
            {**fields, **email_fields(correction=correction, note=note)},
            "letter-merge.toml, [email] subject",
        )

    def email_body(
        self, fields: Mapping[str, Any], *, correction: bool = False, note: str = ""
    ) -> str:
        return render_text(
            self.email_template,
            {**fields, **email_fields(correction=correction, note=note)},
            self.settings.email_template.name,
        )

    def letters(self, only: Sequence[str] = ()) -> list[PlannedLetter]:
        councils = list(self.workbook.councils)
        # Names come from the whole batch, so a letter keeps its file name under --only; short
        # enough for the letters folder (and preview, as deep) to stay within Windows' MAX_PATH.
        longest = longest_stem(self.settings.paths.letters)
        stems = unique_stems(
            (
                safe_stem(f"{c.authority} - Annual Review {self.settings.year}", longest)
                for c in councils
            ),
            longest,
        )
        chosen = {c.authority for c in select_councils(councils, only)} if only else None
        addressing = self.addressing_fields()
        planned = []
        for number, (council, stem) in enumerate(zip(councils, stems, strict=True), start=1):
            if chosen is not None and council.authority not in chosen:
                continue
            fields = letter_fields(council, self.figures[council.authority], self.settings)
            if self.template.uses_record_number:
                fields["record_number"] = number  # MERGEREC: its row in the workbook
            planned.append(PlannedLetter(council, fields, self.subject(fields), stem, addressing))
        return planned

    def addressing_fields(self) -> frozenset[str]:
        """The address fields (email, cc) that neither the letter nor its subject shows."""
        used = set(self.template.fields_used()) | text_template_fields(self.settings.email_subject)
        merged = {
            word_name(self.settings.field_map.get(n, n)) for n, _ in self.template.merge_names()
        }
        return frozenset(
            name for name in ADDRESS_FIELDS if name not in used and word_name(name) not in merged
        )


def load_batch(settings: Settings) -> Batch:
    """Read and cross-check everything; ProblemsFound lists every problem, not just the first."""
    # A hostile file is refused before anything else is read: cheaply, and first.
    if settings.template.is_file():
        check_package(settings.template, TEMPLATE)
    workbook = read_workbook(settings.workbook)
    template = LetterTemplate(
        settings.template,
        chart_cache=settings.paths.charts,
        chart_dpi=settings.chart_dpi,
        field_map=settings.field_map,
    )
    findings = examine(settings.template)
    notes = [f for f in findings if not f.error]
    if settings.pdf.accessible and not any(f.error for f in findings):
        notes += accessibility_findings(settings.template)
    warnings = _in(settings.workbook, workbook.notes) + _in(
        settings.template, (Problem(f.where, f.message) for f in notes)
    )
    # A Word or HTML email (template/html_email.py) is read, and checked, by itself.
    email_template = (
        read_text_file(settings.email_template, "email template", "[paths] email_template")
        if settings.email_template.is_file() and not is_rich(settings.email_template)
        else ""
    )
    problems = _in(settings.workbook, workbook.problems)
    problems += _in(settings.template, _template_problems(template, workbook, findings))
    # Without both sheets, which fields exist is unknown: the missing sheet is the one problem.
    if workbook.complete:
        problems += _email_problems(settings, workbook.fields, email_template)
    if problems:
        raise ProblemsFound(problems, warnings=warnings)
    if not template.merge_uses and not template.fields_used():
        warnings += _in(settings.template, [Problem(settings.template.name, NO_FIELDS)])
    kept = kept_averages(read_decisions(settings.paths))
    batch = Batch(
        settings,
        workbook,
        template,
        compute_figures(workbook.councils, kept),
        tuple(warnings),
        email_template,
    )
    # A line break in a subject would let a workbook cell add a header to the email.
    problems = [
        Problem(
            f"letter-merge.toml, [email] subject for {letter.council.authority}",
            f"{letter.subject!r} contains a line break; remove it from the cells it uses.",
        )
        for letter in batch.letters()
        if "\r" in letter.subject or "\n" in letter.subject
    ]
    if problems:
        raise ProblemsFound(_in(settings.config_file, problems), warnings=warnings)
    return batch


NO_FIELDS = (
    "the template has no fields, so every letter would be the same; write a field as "
    "{{ authority }}, or insert one with Word's Mailings › Insert Merge Field"
)


def _template_problems(
    template: LetterTemplate, workbook: Workbook, findings: Sequence[Finding]
) -> list[Problem]:
    """What stops the letter template: its tags, then the fields they use."""
    # The doctor reads each tag on its own, so every mistake is found at once, with the fields
    # the readable tags use; Jinja's own message (its first error only) would only repeat one.
    problems = [Problem(f.where, f.message) for f in findings if f.error]
    if not problems and (whole := template.syntax_problem()):
        problems.append(whole)
    if workbook.complete:
        problems += template.check_fields(workbook.fields)
    return problems


def _email_problems(
    settings: Settings, fields: frozenset[str], email_template: str
) -> list[Problem]:
    """What stops the email: its subject, and its body (the plain text of `email_template`, or
    a Word or HTML document), each checked against the workbook's `fields`."""
    problems = _in(
        settings.config_file,
        check_text_template(settings.email_subject, fields, "letter-merge.toml, [email] subject"),
    )
    if email_template:
        problems += _in(
            settings.email_template,
            check_text_template(email_template, fields, settings.email_template.name),
        )
    elif is_rich(settings.email_template):
        problems += _in(settings.email_template, email_problems(settings, fields))
    return problems


def _in(file: Path | None, problems: Iterable[Problem]) -> list[Problem]:
    """`problems`, each saying the file it is in."""
    name = file.name if file is not None else ""
    return [dataclasses.replace(p, file=p.file or name) for p in problems]


def prove(batch: Batch, on_progress: Progress = no_progress) -> list[Problem]:
    """Render every council's letter and email in memory, writing nothing: whatever the build
    would refuse, said with the template's place and the first council it fails for."""
    # (file, where, what) -> the councils it fails for
    failures: dict[tuple[str, str, str], list[str]] = {}
    settings = batch.settings
    files = {
        "letter": settings.template.name,
        "email": settings.email_template.name,
        "correction": settings.email_template.name,
    }
    letters = batch.letters()
    rich = is_rich(batch.settings.email_template)
    for number, letter in enumerate(letters, start=1):
        for part in ("letter", "email", "correction"):
            try:
                if part == "letter":
                    batch.template.prove(letter.fields)
                elif batch.email_template or rich:  # as first sent, and as a correction
                    corrected = part == "correction"
                    note = "a figure was corrected" if corrected else ""
                    batch.subject(letter.fields, correction=corrected, note=note)
                    plain = batch.email_body(letter.fields, correction=corrected, note=note)
                    if rich:  # the Word or HTML email, merged (template/html_email.py)
                        email_body(
                            batch.settings, plain, letter.fields, correction=corrected, note=note
                        )
            except TemplateError as error:
                file = files[part]
                if error.where.startswith("letter-merge.toml") and settings.config_file:
                    file = settings.config_file.name
                councils = failures.setdefault((file, error.where, error.what), [])
                if letter.council.authority not in councils:
                    councils.append(letter.council.authority)
        on_progress("Checking every letter", number, len(letters))
    problems = []
    for (file, where, what), councils in failures.items():
        others = len(councils) - 1
        also = f" (and {others} other {plural('council', others)})" if others else ""
        problems.append(Problem(where, f"for {councils[0]}{also}: {what}", file))
    return problems


def select_councils(councils: Iterable[Council], names: Sequence[str]) -> list[Council]:
    """Councils named on the command line: a name (any case and spacing), or a unique part of one."""
    by_name = {c.authority: c for c in councils}
    return [by_name[name] for name in select_names(by_name, names)]


def select_names(authorities: Iterable[str], names: Sequence[str]) -> list[str]:
    """The authorities `names` choose: each an authority's name (any case and spacing), or a
    unique part of one; in the order given, each once."""
    authorities = list(authorities)
    chosen: dict[str, None] = {}
    for name in names:
        key = authority_key(name)
        # An exact name first, then whole words ("Derby" is Derby City Council, not Derbyshire),
        # then any part of a name.
        word = re.compile(rf"(?<!\w){re.escape(key)}(?!\w)")
        matches = (
            [a for a in authorities if authority_key(a) == key]
            or [a for a in authorities if word.search(authority_key(a))]
            or [a for a in authorities if key in authority_key(a)]
        )
        if not matches:
            raise InputError(f"'{name}' matches no authority in the workbook; check the spelling.")
        if len(matches) > 1:
            listed = "\n".join(f"  - {a}" for a in matches[:20])
            more = f"\n  ... and {len(matches) - 20} more" if len(matches) > 20 else ""
            raise InputError(
                f"'{name}' matches {counted(len(matches), 'authority')}; give more of the name:\n{listed}{more}"
            )
        chosen[matches[0]] = None
    return list(chosen)
