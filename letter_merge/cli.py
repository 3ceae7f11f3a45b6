"""The `letter-merge` command line: click glue over the library, and the one place that prints."""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import click
from email_validator import EmailNotValidError, validate_email

from letter_merge import __version__
from letter_merge.batch import load_batch, prove
from letter_merge.build import BuildReport, build_letters
from letter_merge.config import Settings, load_settings
from letter_merge.errors import (
    EXIT_INTERRUPTED,
    EXIT_PROBLEMS,
    EXIT_USAGE,
    LetterMergeError,
    Problem,
    ProblemsFound,
)
from letter_merge.mail.outbox import approve_letters, queue_messages
from letter_merge.mail.send import SendReport, resolve_in_doubt, send_messages, smtp_password
from letter_merge.mail.status import STATES, letter_statuses, write_csv
from letter_merge.mail.status import counts as status_counts
from letter_merge.pdf.convert import Converter, make_converter
from letter_merge.process import stop_all_programs
from letter_merge.proof.pack import make_proof
from letter_merge.proof.preview import preview_letter
from letter_merge.template.doctor import fix as fix_template
from letter_merge.workbook import AUTHORITY_TYPES


class _Group(click.Group):
    """Turns the application's errors into a message on stderr and the documented exit code."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except LetterMergeError as error:
            failure = _UsageFailure if error.exit_code == EXIT_USAGE else click.ClickException
            raise failure(str(error)) from None
        except KeyboardInterrupt:
            stop_all_programs()
            raise _Interrupted() from None


class _UsageFailure(click.ClickException):
    """Unreadable input or a wrong setting: the message on stderr, exit code 2."""

    exit_code = EXIT_USAGE


class _Interrupted(click.ClickException):
    """Ctrl-C: what was finished is kept, nothing half-written is left; exit code 130."""

    exit_code = EXIT_INTERRUPTED

    def __init__(self) -> None:
        super().__init__(
            "Stopped (Ctrl-C). What was finished is kept and nothing half-written was left: run "
            "the same command again to carry on."
        )

    def show(self, file: Any = None) -> None:
        click.echo(self.message, err=True)


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


converter_option = click.option(
    "--converter",
    type=click.Choice(["libreoffice", "word"]),
    default="libreoffice",
    show_default=True,
    help="What turns .docx into PDF; 'word' needs Microsoft Word on Windows or macOS.",
)


def _converter(settings: Settings, name: str) -> Converter:
    # LibreOffice's profiles are kept with the output: a new one costs about two seconds.
    return make_converter(name, profile_dir=settings.paths.libreoffice_profiles)


@cli.command()
@click.option(
    "--fix",
    is_flag=True,
    help="Also write a corrected copy of the template (letter.fixed.docx) where that is safe.",
)
@click.pass_context
def check(ctx: click.Context, fix: bool) -> None:
    """Check the workbook and the templates together, without building anything.

    Lists every problem with where it is (sheet!cell, template paragraph) and how to fix it,
    including what Word does to templates: fields split over differently formatted text, curly
    quotes inside tags, a {% without its %}, a {%tr %} outside a table row. Warnings do not fail
    the check. Exit 0 when all is well, 1 when something must be fixed.

    \b
    Examples:
      letter-merge check
      letter-merge check --fix
    """
    settings = _settings(ctx)
    if fix:
        fixed_copy, fixed = fix_template(settings.template)
        if fixed:
            click.echo(f"Wrote {_show(fixed_copy)}, with {len(fixed)} fix(es):")
            for finding in fixed:
                click.echo(f"  - {finding}")
            click.echo(
                f"Open it in Word, check it, and save it as {settings.template.name} to use it.\n"
            )
        else:
            fixed_copy.unlink(missing_ok=True)
            click.echo("Nothing in the template needed a safe fix.\n")
    batch = load_batch(settings)
    problems = prove(batch)  # about a millisecond a letter: no progress bar needed
    if problems:
        raise ProblemsFound(problems, heading=_problems_heading(problems, "letters cannot be made"))
    used = batch.template.fields_used()
    click.echo(f"Workbook {_show(settings.workbook)}: {len(batch.workbook.councils)} councils.")
    click.echo(f"Template {_show(settings.template)}: {len(used)} fields, all known.")
    unused = batch.unused_columns()
    if unused:
        click.echo(f"For information, columns no template uses: {', '.join(unused)}.")
    if batch.warnings:
        click.echo(f"{len(batch.warnings)} warning(s); the letters can be built, but look at:")
        for warning in batch.warnings:
            click.echo(f"  - {warning}")
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
@converter_option
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
    pdf_converter = None if no_pdf else _converter(settings, converter)
    with _ProgressBars() as bars:
        report = build_letters(
            batch, only=only, converter=pdf_converter, force=force, on_progress=bars.update
        )
    _print_build_summary(report, settings)
    if report.failed:
        ctx.exit(EXIT_PROBLEMS)


@cli.command()
@click.argument("name", nargs=-1, required=True)
@click.option("--open", "open_pdf", is_flag=True, help="Open the PDF with the system's viewer.")
@converter_option
@click.pass_context
def preview(ctx: click.Context, name: tuple[str, ...], open_pdf: bool, converter: str) -> None:
    """One council's letter as PDF and PNG pages in output/<year>/preview/, for a quick look.

    NAME is the council's name or a unique part of it. The batch's letters are not touched.

    \b
    Examples:
      letter-merge preview Leicestershire County
      letter-merge preview "Brighton & Hove" --open
    """
    settings = _settings(ctx)
    batch = load_batch(settings)
    result = preview_letter(batch, " ".join(name), _converter(settings, converter))
    click.echo(f"{result.authority}: {_show(result.pdf)}")
    for page in result.pages:
        click.echo(f"  {_show(page)}")
    if open_pdf:
        click.launch(str(result.pdf))


@cli.command()
@click.pass_context
def proof(ctx: click.Context) -> None:
    """The proof pack in output/<year>/proof/: a page to look through, one PDF, and checks.

    index.html has a card per letter (page 1, recipient, figures, checks) with filters;
    all-letters.pdf holds every letter with a bookmark each. Each PDF's own text is checked:
    no template tags or error values left, its council and recipient named and no other
    council, the page count within [proof] pages, fonts embedded. Exit 1 if any check fails.

    Example: letter-merge proof
    """
    settings = _settings(ctx)
    with _ProgressBars() as bars:
        report = make_proof(load_batch(settings), on_progress=bars.update)
    click.echo(
        f"Proof of {len(report.cards)} letters: {_show(report.index)} and {_show(report.combined)}."
    )
    for change in report.changes:
        click.echo(f"  {change}")
    if report.with_problems:
        click.echo(f"{len(report.with_problems)} letter(s) failed a check:", err=True)
        for card in report.with_problems:
            problems = "; ".join(
                f"{c.name}{f' ({c.detail})' if c.detail else ''}" for c in card.problems
            )
            click.echo(f"  - {card.authority}: {problems}", err=True)
        ctx.exit(EXIT_PROBLEMS)
    click.echo("Every check passed.")


@cli.command()
@click.option("--by", "by", required=True, metavar="NAME", help="Who checked the letters.")
@click.pass_context
def approve(ctx: click.Context, by: str) -> None:
    """Record that these exact PDFs were checked, and by whom.

    The approval is bound to each PDF's SHA-256: a letter rebuilt afterwards is no longer
    approved (status shows "approval void") until it is approved again.

    Example: letter-merge approve --by "Jo Bloggs"
    """
    settings = _settings(ctx)
    count = approve_letters(settings, by)
    click.echo(f"Approved {count} letters as checked by {by.strip()}.")


@cli.command()
@click.pass_context
def queue(ctx: click.Context) -> None:
    """Queue one email per approved letter, as an .eml in output/<year>/outbox/.

    From and Subject come from letter-merge.toml, To and Cc from the workbook, the body from
    templates/email.txt; the PDF is attached. Queueing again adds nothing twice. The .eml files
    open in Outlook and Thunderbird, for sending by hand if you prefer.

    Example: letter-merge queue
    """
    settings = _settings(ctx)
    report = queue_messages(load_batch(settings))
    click.echo(
        f"Queued {len(report.queued)} message{'s' if len(report.queued) != 1 else ''}"
        f"{f'; {len(report.already)} were already queued' if report.already else ''}."
    )
    if report.skipped:
        click.echo(f"{len(report.skipped)} letter(s) not queued:", err=True)
        for authority, why in report.skipped:
            click.echo(f"  - {authority}: {why}", err=True)
        ctx.exit(EXIT_PROBLEMS)


@cli.command()
@click.option(
    "--test-to",
    metavar="ADDRESS",
    help="Send every message to this address only, marked [TEST]; nothing is marked as sent.",
)
@click.option("--limit", type=click.IntRange(min=1), metavar="N", help="Send at most N messages.")
@click.option("--dry-run", is_flag=True, help="Connect to nothing; say what would be sent.")
@click.option(
    "--resolve",
    type=click.Choice(["sent", "retry"]),
    help="Settle messages left in doubt by an interrupted send: they arrived, or send them again.",
)
@click.pass_context
def send(
    ctx: click.Context, test_to: str | None, limit: int | None, dry_run: bool, resolve: str | None
) -> None:
    """Send what is queued and not yet sent, over SMTP as configured in letter-merge.toml.

    The password comes from LETTER_MERGE_SMTP_PASSWORD or the system keyring, never from a file.
    Each message is checked against its approval just before it goes.

    \b
    Examples:
      letter-merge send --dry-run
      letter-merge send --test-to me@ombudsman.example --limit 3
      letter-merge send
      letter-merge send --resolve retry
    """
    settings = _settings(ctx)
    if resolve:
        settled = resolve_in_doubt(settings, resolve)
        click.echo(f"Settled {len(settled)} message(s) in doubt as {resolve}.")
        return
    if test_to:
        test_to = _test_address(test_to)
    with _ProgressBars() as bars:
        report = send_messages(
            settings,
            test_to=test_to,
            limit=limit,
            dry_run=dry_run,
            password=None if dry_run else smtp_password(settings.smtp),
            on_progress=bars.update,
        )
    _print_send_report(report, dry_run=dry_run, test_to=test_to)
    if report.problems:
        ctx.exit(EXIT_PROBLEMS)


def _test_address(address: str) -> str:
    try:
        return validate_email(address, check_deliverability=False).normalized
    except EmailNotValidError as error:
        raise click.BadParameter(f"{address!r} is not an email address ({error}).") from None


def _print_send_report(report: SendReport, *, dry_run: bool, test_to: str | None) -> None:
    if dry_run:
        click.echo(f"Would send {len(report.would_send)} message(s):")
        for authority, recipients in report.would_send:
            click.echo(f"  - {authority}: {', '.join(recipients)}")
    elif test_to:
        click.echo(f"Sent {len(report.sent)} test message(s) to {test_to}; nothing marked as sent.")
    else:
        click.echo(f"Sent {len(report.sent)} message(s).")
    for title, items in (
        ("Not sent: they do not match their approval", report.refused),
        ("Failed: the server refused them", report.failed),
        ("Still queued after temporary failures (send again later)", report.deferred),
    ):
        if items:
            click.echo(f"{title}:", err=True)
            for authority, why in items:
                click.echo(f"  - {authority}: {why}", err=True)
    if report.in_doubt:
        click.echo(
            "In doubt (a send was cut off; check the recipient's mailbox or the server's log, then "
            "run 'letter-merge send --resolve sent' or '--resolve retry'):",
            err=True,
        )
        for authority in report.in_doubt:
            click.echo(f"  - {authority}", err=True)


@cli.command()
@click.option(
    "--csv",
    "csv_file",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Also write every letter's status to this CSV file (the audit record).",
)
@click.pass_context
def status(ctx: click.Context, csv_file: Path | None) -> None:
    """Where every letter stands: built, approved, queued, sent, failed, in doubt, and why.

    \b
    Examples:
      letter-merge status
      letter-merge status --csv sent-2020.csv
    """
    settings = _settings(ctx)
    statuses = letter_statuses(settings)
    totals = status_counts(statuses)
    for state, meaning in STATES.items():
        if totals[state]:
            click.echo(f"{state + ':':<15}{totals[state]:>4}  {meaning}")
    click.echo()
    for item in statuses:
        detail = "  ".join(v for v in (item.message_id, item.updated_at, item.last_reply) if v)
        click.echo(f"{item.state:<14} {item.authority}{'  ' + detail if detail else ''}")
    if csv_file:
        write_csv(statuses, csv_file)
        click.echo(f"\nWrote {_show(csv_file)}.")


def _problems_heading(problems: Sequence[Problem], what: str) -> str:
    count = len(problems)
    return f"{count} problem{'s' if count != 1 else ''} must be fixed first ({what}):"


def _print_build_summary(report: BuildReport, settings: Settings) -> None:
    made = [o for o in report.letters if not o.error]
    kinds = "docx and PDF" if made and all(o.pdf for o in made) else "docx only"
    remade = len(made) - len(report.unchanged)
    note = f"; {len(report.unchanged)} already up to date" if report.unchanged else ""
    click.echo(
        f"Built {remade} letter{'s' if remade != 1 else ''} ({kinds}){note} in "
        f"{_show(settings.paths.letters)} in {report.seconds:.1f} s."
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
