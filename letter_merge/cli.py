"""The `letter-merge` command line: click glue over the library, and the one place that prints."""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import click

from letter_merge import __version__
from letter_merge.batch import load_batch
from letter_merge.build import BuildReport, build_letters
from letter_merge.config import Settings, load_settings
from letter_merge.convert import make_converter
from letter_merge.errors import EXIT_PROBLEMS, LetterMergeError
from letter_merge.workbook import AUTHORITY_TYPES


class _Group(click.Group):
    """Turns the application's errors into a message on stderr and the documented exit code."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except LetterMergeError as error:
            failure = click.ClickException(str(error))
            failure.exit_code = error.exit_code
            raise failure from None


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--config",
    "config_file",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Settings file (default: letter-merge.toml in the current folder).",
)
@click.option("-v", "--verbose", is_flag=True, help="Show what is run, for troubleshooting.")
@click.version_option(__version__, prog_name="letter-merge")
@click.pass_context
def cli(ctx: click.Context, config_file: Path | None, verbose: bool) -> None:
    """Personalised letters from an Excel workbook and a Word template, as .docx and PDF.

    Run it in the working folder (the one with letter-merge.toml). Exit codes: 0 success,
    1 problems found or some letters failed, 2 wrong usage or unreadable input.
    """
    logging.basicConfig(level=logging.DEBUG if verbose else logging.WARNING, format="%(message)s")
    ctx.obj = config_file


def _settings(ctx: click.Context) -> Settings:
    return load_settings(ctx.find_root().obj)


@cli.command()
@click.pass_context
def check(ctx: click.Context) -> None:
    """Check the workbook and the template together, without building anything.

    Lists every problem with where it is (sheet!cell, template paragraph) and how to fix it.
    Exit 0 when all is well, 1 when something must be fixed.

    Example: letter-merge check
    """
    settings = _settings(ctx)
    batch = load_batch(settings)
    used = batch.template.fields_used()
    click.echo(f"Workbook {_show(settings.workbook)}: {len(batch.workbook.councils)} councils.")
    click.echo(f"Template {_show(settings.template)}: {len(used)} fields, all known.")
    click.echo("No problems found.")


@cli.command()
@click.option(
    "--only",
    "only",
    multiple=True,
    metavar="NAME",
    help="Build only this council (name or a unique part of it). Repeat for more.",
)
@click.option("--no-pdf", is_flag=True, help="Make the .docx letters only.")
@click.option(
    "--converter",
    type=click.Choice(["libreoffice", "word"]),
    default="libreoffice",
    show_default=True,
    help="What turns .docx into PDF; 'word' needs Microsoft Word on Windows or macOS.",
)
@click.option("--force", is_flag=True, help="Make every letter again, even those up to date.")
@click.pass_context
def build(
    ctx: click.Context, only: Sequence[str], no_pdf: bool, converter: str, force: bool
) -> None:
    """Build one .docx and one PDF per council into output/<year>/letters/.

    Checks the workbook and template first and builds nothing while any problem remains.
    Letters whose template, fields and files are unchanged since the last build are not made
    again (--force makes them all). Writes output/<year>/manifest.json with the SHA-256 of every
    input and every letter.

    \b
    Examples:
      letter-merge build
      letter-merge build --only Leicestershire --only "Derby City"
      letter-merge build --no-pdf
    """
    settings = _settings(ctx)
    batch = load_batch(settings)
    profiles = settings.output / ".libreoffice"
    pdf_converter = None if no_pdf else make_converter(converter, profile_dir=profiles)
    with _ProgressBars() as bars:
        report = build_letters(
            batch, only=only, converter=pdf_converter, force=force, on_progress=bars.update
        )
    _print_build_summary(report, settings)
    if report.failed:
        ctx.exit(EXIT_PROBLEMS)


def _print_build_summary(report: BuildReport, settings: Settings) -> None:
    made = [o for o in report.letters if not o.error]
    kinds = "docx and PDF" if made and all(o.pdf for o in made) else "docx only"
    remade = len(made) - len(report.unchanged)
    note = f"; {len(report.unchanged)} already up to date" if report.unchanged else ""
    click.echo(
        f"Built {remade} letter{'s' if remade != 1 else ''} ({kinds}){note} in "
        f"{_show(settings.letters_dir)} in {report.seconds:.1f} s."
    )
    for kind in AUTHORITY_TYPES:
        if report.by_type[kind]:
            click.echo(f"  {kind + ':':<22}{report.by_type[kind]:>4}")
    click.echo(f"Manifest: {_show(report.manifest)}")
    if report.failed:
        click.secho(f"{len(report.failed)} letter(s) failed:", fg="red", err=True)
        for outcome in report.failed:
            click.echo(f"  - {outcome.authority}: {outcome.error}", err=True)
        click.echo("Fix the cause and run the same command again.", err=True)


class _ProgressBars:
    """One progress bar per stage, from the library's (stage, done, total) callbacks."""

    def __init__(self) -> None:
        self._stage = ""
        self._bar: Any = None

    def update(self, stage: str, done: int, total: int) -> None:
        if stage != self._stage:
            self.close()
            self._stage = stage
            self._bar = click.progressbar(length=total, label=f"{stage:<16}", show_pos=True)
            self._bar.__enter__()
        self._bar.update(done - self._bar.pos)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.__exit__(None, None, None)
            self._bar = None

    def __enter__(self) -> _ProgressBars:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _show(path: Path) -> str:
    """A path as the user would type it: relative to the current folder where possible."""
    try:
        return os.path.relpath(path)
    except ValueError:  # another drive on Windows
        return str(path)


def main() -> None:
    cli(prog_name="letter-merge")
