"""The fields a letter sees: every workbook column of its council, the figures, and the dates."""

from __future__ import annotations

import datetime as dt
from typing import Any

from letter_merge.config import Settings
from letter_merge.figures import FIGURE_FIELDS, Figures
from letter_merge.workbook import Council

MONTHS = (
    "January February March April May June July August September October November December".split()
)
# Fields every letter has besides the workbook's columns.
COMPUTED_FIELDS = frozenset(
    {
        "salutation",
        "letter_date",
        "publication_date",
        "year",
        "period_start",
        "period_end",
        "received",
        "decisions",
        "chart",
        *FIGURE_FIELDS,
    }
)


# Fields only the email (subject and body) has: whether the message corrects a letter already
# sent, and what the council is told about it (`queue --tell-council`; never the reason recorded
# for the office, which stays in the ledger). `correction_reason` is the note's older name.
EMAIL_FIELDS = frozenset({"correction", "correction_note", "correction_reason"})


def email_fields(*, correction: bool = False, note: str = "") -> dict[str, object]:
    return {"correction": correction, "correction_note": note, "correction_reason": note}


def british_date(day: dt.date) -> str:
    """'22 July 2020', whatever the machine's locale."""
    return f"{day.day} {MONTHS[day.month - 1]} {day.year}"


def letter_fields(council: Council, figures: Figures, settings: Settings) -> dict[str, Any]:
    """Everything a template can use for one council."""
    statistics = council.statistics
    fields: dict[str, Any] = dict(council.fields)
    fields.update(
        authority=council.authority,
        authority_type=council.authority_type,
        gss_code=council.gss_code,
        title=council.title,
        first_name=council.first_name,
        surname=council.surname,
        job_title=council.job_title,
        email=council.email,
        cc="; ".join(council.cc),
        detailed_investigations=statistics.detailed_investigations,
        upheld=statistics.upheld,
        compliance_outcomes=statistics.compliance_outcomes,
        complied=statistics.complied,
        satisfactory_remedies=statistics.satisfactory_remedies,
        salutation=council.salutation,
        letter_date=british_date(settings.letter_date),
        publication_date=british_date(settings.publication_date),
        year=settings.year,
        period_start=british_date(settings.period_start),
        period_end=british_date(settings.period_end),
        received=[{"label": c.label, "count": c.count} for c in statistics.received],
        decisions=[{"label": c.label, "count": c.count} for c in statistics.decisions],
        **figures.as_fields(),
    )
    return fields
