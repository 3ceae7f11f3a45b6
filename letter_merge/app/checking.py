"""`check`: the workbook and the templates checked together, building nothing."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

from letter_merge.app.inputs import Inputs
from letter_merge.batch import prove
from letter_merge.config import Settings
from letter_merge.errors import Problem, ProblemsFound
from letter_merge.fields import british_date
from letter_merge.template import doctor
from letter_merge.words import counted


@dataclass(frozen=True)
class TemplateFixes:
    """A corrected copy of the template, written where that was safe (`check --fix`)."""

    copy: Path
    fixes: tuple[str, ...]  # what was corrected, in words; none: the copy was not kept


@dataclass(frozen=True)
class CheckReport:
    """All is well: what was checked, and what is worth a look."""

    workbook: Path
    template: Path
    councils: int
    fields: int  # {{ }} fields the templates use
    merge_fields: int  # Word merge fields (Mailings tab), IF rules apart
    if_rules: int
    merge_codes: tuple[tuple[str, str], ...]  # (where, field code as Word shows it)
    unused: tuple[str, ...]  # workbook columns no template uses
    warnings: tuple[Problem, ...]


def fix_the_template(inputs: Inputs) -> TemplateFixes:
    """Write letter.fixed.docx with every safe fix; removed again when nothing needed one."""
    copy, fixed = doctor.fix(inputs.settings.template)
    if not fixed:
        copy.unlink(missing_ok=True)
    return TemplateFixes(copy, tuple(str(finding) for finding in fixed))


def check(inputs: Inputs) -> CheckReport:
    """Read and cross-check everything, then render every letter and email in memory;
    ProblemsFound (with the warnings) when anything must be fixed."""
    batch = inputs.batch()
    problems = prove(batch)  # about a millisecond a letter: no progress bar needed
    if problems:
        raise ProblemsFound(
            problems,
            heading=f"{counted(len(problems), 'problem')} must be fixed first (letters cannot "
            "be made):",
            warnings=batch.warnings,
        )
    uses = [use for part_uses in batch.template.merge_uses.values() for use in part_uses]
    rules = sum(1 for use in uses if use.kind == "IF")
    return CheckReport(
        workbook=inputs.settings.workbook,
        template=inputs.settings.template,
        councils=len(batch.workbook.councils),
        fields=len(batch.template.fields_used()),
        merge_fields=len(uses) - rules,
        if_rules=rules,
        merge_codes=tuple(
            (use.where.where if use.where else "the template", use.instruction) for use in uses
        ),
        unused=tuple(batch.unused_columns()),
        warnings=batch.warnings + publication_warnings(inputs.settings),
    )


def publication_warnings(settings: Settings, today: dt.date | None = None) -> tuple[Problem, ...]:
    """The publication date the letters promise, where it cannot be kept: before the letter
    date, or gone by already (letters sent now would promise a day that has passed). A past
    year's batch (the sample's 2020, a batch run again) is dated in the past on purpose."""
    where, file = "[batch] publish_on", settings.config_file.name if settings.config_file else ""
    day, words = settings.publication_date, british_date(settings.publication_date)
    today = today or dt.date.today()
    if day < settings.letter_date:
        return (
            Problem(
                where,
                f"the letters promise publication on {words}, before their own date "
                f"({british_date(settings.letter_date)}); set publish_on to a later day",
                file,
            ),
        )
    if day < today and settings.year >= today.year:
        return (
            Problem(
                where,
                f"the publication date, {words}, has passed: letters sent now would promise a "
                "day gone by; set publish_on to a day still to come",
                file,
            ),
        )
    return ()
