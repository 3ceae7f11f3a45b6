"""The letters' own commands: build, preview, proof, and the recipients workbook for Word."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from letter_merge.app.inputs import Inputs
from letter_merge.build import BuildReport as BuildReport
from letter_merge.build import build_letters
from letter_merge.config import Settings
from letter_merge.pdf.convert import Converter as Converter
from letter_merge.pdf.converters import make_converter
from letter_merge.progress import Progress, no_progress
from letter_merge.proof.pack import ProofReport as ProofReport
from letter_merge.proof.pack import make_proof
from letter_merge.proof.preview import EmailPreview as EmailPreview
from letter_merge.proof.preview import Preview as Preview
from letter_merge.proof.preview import preview_email, preview_letter
from letter_merge.recipients import write_recipients
from letter_merge.records.join import Records
from letter_merge.records.ledger import open_ledger
from letter_merge.steps import Blocker
from letter_merge.template.statement import statement_of
from letter_merge.words import counted, plural
from letter_merge.workbook import AUTHORITY_TYPES as AUTHORITY_TYPES


def converter_for(settings: Settings, name: str) -> Converter:
    """The converter `name` ("libreoffice" or "word") names, set up for the batch: its
    LibreOffice profiles kept with the output (a new one costs about a second)."""
    return make_converter(
        name,
        profile_dir=settings.paths.libreoffice_profiles,
        pdf=settings.pdf,
        verdicts=settings.paths.combining_checks,
    )


@dataclass(frozen=True)
class BuildPlan:
    """What a build would do, asked of the records before anything is made."""

    only: tuple[str, ...]  # the councils to build (empty: all), those held left out
    held: tuple[tuple[str, Blocker], ...]  # not built now, and why: a decision comes first
    sent_again: tuple[str, ...]  # letters already sent that would be built again
    nothing: bool = False  # every letter asked for is held

    @property
    def warning(self) -> str:
        """What to know before letters already sent are built again ("" when none are)."""
        count = len(self.sent_again)
        if not count:
            return ""
        return (
            f"{counted(count, 'letter')} of these {plural('was', count)} sent already. Building "
            "them again changes nothing that was sent: a letter that states what was sent stays "
            "sent, and one whose words or figures now differ needs a correction."
        )


@dataclass(frozen=True)
class BuildResult:
    report: BuildReport | None  # None: nothing was built (every letter asked for is held)
    plan: BuildPlan
    # Letters whose approved PDF this build removed (their letter changed and was made again
    # without a PDF): those approvals no longer hold.
    voided_approvals: tuple[str, ...] = ()
    # Of the letters already sent that were built again, those whose letter now states
    # something else than the letter sent: each needs a correction.
    differ: tuple[str, ...] = ()


def plan_build(inputs: Inputs, *, only: Sequence[str] = (), force: bool = False) -> BuildPlan:
    """Which letters a build makes (all, or `only`; with `force`, even those up to date),
    which wait for a decision first, and which of them were already sent."""
    batch = inputs.batch()
    chosen = [letter.council.authority for letter in batch.letters(only)]
    records = Records.load(inputs.settings, batch)
    held = tuple(
        (authority, blocker)
        for authority in chosen
        if (blocker := records.standing(authority).build_blocker()) is not None
    )
    waiting = {authority for authority, _ in held}
    building = [a for a in chosen if a not in waiting]
    sent_again = tuple(
        a
        for a in building
        if records.standing(a).sent and (force or not records.files_current(a).docx)
    )
    return BuildPlan(
        tuple(building) if held else tuple(only), held, sent_again, nothing=not building
    )


def build(
    inputs: Inputs,
    plan: BuildPlan,
    *,
    converter: Converter | None,
    force: bool = False,
    on_progress: Progress = no_progress,
) -> BuildResult:
    """Build the letters `plan` names (every one not up to date; all of them with `force`);
    with no converter, .docx only."""
    if plan.nothing:
        return BuildResult(None, plan)
    batch = inputs.batch()
    _remember_what_was_sent(Records.load(inputs.settings, batch))
    report = build_letters(
        batch, only=plan.only, converter=converter, force=force, on_progress=on_progress
    )
    records = Records.load(inputs.settings, batch)
    voided = tuple(a for a, sha256 in report.removed_pdfs if records.was_approved(a, sha256))
    differ = tuple(a for a in plan.sent_again if not records.standing(a).unchanged_since_sent)
    return BuildResult(report, plan, voided, differ)


def _remember_what_was_sent(records: Records) -> None:
    """Before letters are built again: what each letter sent before the ledger kept it states,
    read from its .docx while that is still the one sent, so that a letter built again is
    compared with what was sent by what it says (never by its PDF's bytes)."""
    missing = records.unremembered()
    if not missing:
        return
    paths = records.settings.paths
    with open_ledger(paths) as ledger:
        for message, record in missing:
            assert record.docx is not None
            docx = paths.absolute(record.docx.path).read_bytes()
            ledger.remember_statement(message.message_id, statement_of(docx), dict(record.figures))


def preview(inputs: Inputs, name: str, converter: Converter) -> Preview:
    """One council's letter as PDF and PNG pages in output/<year>/preview/."""
    return preview_letter(inputs.batch(), name, converter)


def email_preview(inputs: Inputs, name: str) -> EmailPreview:
    """One council's email as the chief executive will see it (a page) and as plain text."""
    return preview_email(inputs.batch(), name)


def proof(
    inputs: Inputs, *, only: Sequence[str] = (), on_progress: Progress = no_progress
) -> ProofReport:
    """The proof pack: the page, the combined PDF and each letter's checks."""
    return make_proof(inputs.batch(), only, on_progress=on_progress)


def recipients(inputs: Inputs, target: Path | None = None) -> tuple[Path, int, int]:
    """Every field of every council as a workbook for Word's Mailings tab: (where, councils,
    fields)."""
    target = target or inputs.settings.paths.year_dir / "recipients.xlsx"
    councils, fields = write_recipients(inputs.batch(), target)
    return target, councils, fields


def built_pdf(settings: Settings, name: str) -> Path | None:
    """The PDF of a letter of the batch, found by its file name among the built letters only
    (None: no such letter, or its PDF is gone)."""
    for record in Records.load(settings).built.values():
        if record.pdf is not None and Path(record.pdf.path).name == name:
            path = settings.paths.absolute(record.pdf.path)
            return path if path.is_file() else None
    return None
