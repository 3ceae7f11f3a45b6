"""The letters' own commands: build, preview, proof, and the recipients workbook for Word."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from letter_merge.app.inputs import Inputs
from letter_merge.build import BuildReport, build_letters
from letter_merge.config import Settings
from letter_merge.pdf.convert import Converter
from letter_merge.pdf.converters import make_converter
from letter_merge.progress import Progress, no_progress
from letter_merge.proof.pack import ProofReport, make_proof
from letter_merge.proof.preview import Preview, preview_letter
from letter_merge.recipients import write_recipients
from letter_merge.records.join import Records


def converter_for(settings: Settings, name: str) -> Converter:
    """The converter `name` ("libreoffice" or "word") names, set up for the batch: its
    LibreOffice profiles kept with the output (a new one costs about two seconds)."""
    return make_converter(
        name,
        profile_dir=settings.paths.libreoffice_profiles,
        pdf=settings.pdf,
        verdicts=settings.paths.combining_checks,
    )


@dataclass(frozen=True)
class BuildResult:
    report: BuildReport
    # Letters whose approved PDF this build removed (their letter changed and was made again
    # without a PDF): those approvals no longer hold.
    voided_approvals: tuple[str, ...] = ()


def build(
    inputs: Inputs,
    *,
    only: Sequence[str] = (),
    converter: Converter | None,
    force: bool = False,
    on_progress: Progress = no_progress,
) -> BuildResult:
    """Build the chosen letters (every one not up to date; all of them with `force`); with no
    converter, .docx only."""
    batch = inputs.batch()
    if only:
        batch.letters(only)  # an unknown or ambiguous name is said before anything is done
    report = build_letters(
        batch, only=only, converter=converter, force=force, on_progress=on_progress
    )
    voided: tuple[str, ...] = ()
    if report.removed_pdfs:
        records = Records.load(inputs.settings)
        voided = tuple(a for a, sha256 in report.removed_pdfs if records.was_approved(a, sha256))
    return BuildResult(report, voided)


def preview(inputs: Inputs, name: str, converter: Converter) -> Preview:
    """One council's letter as PDF and PNG pages in output/<year>/preview/."""
    return preview_letter(inputs.batch(), name, converter)


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
