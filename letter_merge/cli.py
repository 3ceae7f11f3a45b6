"""The `letter-merge` command line: click glue over the library, and the one place that prints."""

from __future__ import annotations

import datetime as dt
import logging
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import click
from email_validator import EmailNotValidError, validate_email

from letter_merge import __version__
from letter_merge.approve import approve_letters
from letter_merge.averages import decide_averages, decided
from letter_merge.batch import load_batch, prove, select_names
from letter_merge.build import BuildReport, build_letters
from letter_merge.config import Settings, load_settings
from letter_merge.decisions import CORRECT, KEEP
from letter_merge.errors import (
    EXIT_INTERRUPTED,
    EXIT_PROBLEMS,
    EXIT_USAGE,
    InputError,
    LetterMergeError,
    Problem,
    ProblemsFound,
)
from letter_merge.mail.delivery import read_deliveries
from letter_merge.mail.oauth import token_source
from letter_merge.mail.outbox import queue_messages
from letter_merge.mail.send import (
    SendPlan,
    SendReport,
    resolve_in_doubt,
    send_messages,
)
from letter_merge.mail.transport import smtp_password
from letter_merge.pdf.convert import Converter, find_libreoffice, make_converter
from letter_merge.process import stop_all_programs
from letter_merge.proof.pack import make_proof
from letter_merge.proof.preview import preview_email, preview_letter
from letter_merge.recipients import write_recipients
from letter_merge.records.audit import History, history, write_csv
from letter_merge.records.standing import STATES, Records
from letter_merge.sync import conflict_copies, local_copy_of, synced_by
from letter_merge.template.doctor import fix as fix_template
from letter_merge.words import counted
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
@click.option(
    "-v", "--verbose", is_flag=True, help="Show what is run, and every item of long lists."
)
@click.version_option(__version__, prog_name="letter-merge")
@click.pass_context
def cli(ctx: click.Context, config_file: Path | None, verbose: bool) -> None:
    """Personalised letters from an Excel workbook and a Word template, as .docx and PDF.

    Run it in the working folder (the one with letter-merge.toml). Exit codes: 0 success,
    1 problems found or some letters failed, 2 wrong usage or unreadable input.
    """
    # -v shows what letter-merge does, never the libraries' own debug logs: some of those
    # (requests-oauthlib's, for one) print tokens.
    logging.basicConfig(level=logging.WARNING, format="%(message)s")
    logging.getLogger("letter_merge").setLevel(logging.DEBUG if verbose else logging.WARNING)
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
    return make_converter(
        name,
        profile_dir=settings.paths.libreoffice_profiles,
        pdf=settings.pdf,
        verdicts=settings.paths.combining_checks,
    )


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
            click.echo(f"Wrote {_show(fixed_copy)}, with {counted(len(fixed), 'fix')}:")
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
    merged = batch.template.merge_uses
    uses = [use for part_uses in merged.values() for use in part_uses]
    click.echo(
        f"Workbook {_show(settings.workbook)}: {counted(len(batch.workbook.councils), 'council')}."
    )
    kinds = [counted(len(used), "{{ }} field")] if used or not uses else []
    if uses:
        rules = sum(1 for use in uses if use.kind == "IF")
        kinds.append(counted(len(uses) - rules, "Word merge field"))
        if rules:
            kinds.append(counted(rules, "IF rule"))
    click.echo(f"Template {_show(settings.template)}: {', '.join(kinds)}, all known.")
    if uses and ctx.find_root().params.get("verbose"):
        click.echo("Word merge fields (Mailings tab), as letter-merge merges them:")
        for use in uses:
            place = use.where.where if use.where else "the template"
            click.echo(f"  - {place}: {{ {use.instruction} }}")
    unused = batch.unused_columns()
    if unused:
        click.echo(f"For information, columns no template uses: {', '.join(unused)}.")
    if batch.warnings:
        click.echo(
            f"{counted(len(batch.warnings), 'warning')}; the letters can be built, but look at:"
        )
        for warning in batch.warnings:
            click.echo(f"  - {warning}")
    click.echo("No problems found.")


@cli.command()
@click.option(
    "--output",
    "target",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Where to write the workbook (default: output/<year>/recipients.xlsx).",
)
@click.pass_context
def recipients(ctx: click.Context, target: Path | None) -> None:
    """Write every field a template can use, one row per council, as a workbook for Word.

    For templates made with Word's Mailings tab: in Word, Mailings › Select Recipients › Use an
    Existing List, choose this workbook (sheet Recipients); Insert Merge Field then lists every
    field (the workbook's columns, the rates, averages, salutation and dates) and Preview
    Results shows each council's letter. letter-merge builds the letters itself, and each
    letter it makes is a plain letter, not connected to any list.

    \b
    Examples:
      letter-merge recipients
      letter-merge recipients --output recipients-2020.xlsx
    """
    settings = _settings(ctx)
    batch = load_batch(settings)
    target = target or settings.paths.year_dir / "recipients.xlsx"
    councils, fields = write_recipients(batch, target)
    click.echo(
        f"Wrote {_show(target)}: {counted(councils, 'council')}, {counted(fields, 'field')}."
    )
    click.echo(
        "In Word: Mailings › Select Recipients › Use an Existing List, choose it (sheet "
        "Recipients); then Insert Merge Field lists every field, and Preview Results shows each "
        "council's letter."
    )


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
    _print_build_summary(ctx, report, settings)
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
    mail = preview_email(batch, " ".join(name))
    click.echo(f"  the email, as it will be seen: {_show(mail.page)}")
    click.echo(f"  the email as plain text: {_show(mail.text)}")
    if open_pdf:
        click.launch(str(result.pdf))


@cli.command()
@click.option(
    "--only",
    "only",
    multiple=True,
    metavar="NAME",
    help="Proof only this council's letter (name or a unique part of it); the others keep "
    "their last proof. Repeat for more.",
)
@click.pass_context
def proof(ctx: click.Context, only: Sequence[str]) -> None:
    """The proof pack in output/<year>/proof/: a page to look through, one PDF, and checks.

    index.html has a card per letter (page 1, recipient, the figures it states, checks) with
    filters; all-letters.pdf holds every letter with a bookmark each. Each letter must be built
    from the inputs as they are now, and each PDF's own text is checked: no template tags,
    «placeholders» or error values left, its council and recipient named and no other council,
    its page numbers agreeing with its page count, the page count within [proof] pages, fonts
    embedded, and tagged PDF/UA-1 and PDF/A-2b as [pdf] asks. Exit 1 if any check fails.

    \b
    Examples:
      letter-merge proof
      letter-merge proof --only "Derby City"
    """
    settings = _settings(ctx)
    with _ProgressBars() as bars:
        report = make_proof(load_batch(settings), only, on_progress=bars.update)
    click.echo(
        f"Proof of {counted(len(report.cards), 'letter')}: {_show(report.index)} and "
        f"{_show(report.combined)}."
    )
    for change in report.changes:
        click.echo(f"  {change}")
    if report.with_problems:
        _list_problems(
            ctx,
            f"{counted(len(report.with_problems), 'letter')} failed a check",
            [
                (
                    card.authority,
                    "; ".join(
                        f"{c.name}{f' ({c.detail})' if c.detail else ''}" for c in card.problems
                    ),
                )
                for card in report.with_problems
            ],
        )
        ctx.exit(EXIT_PROBLEMS)
    click.echo("Every check passed.")


@cli.command()
@click.option("--by", "by", required=True, metavar="NAME", help="Who checked the letters.")
@click.option(
    "--only",
    "only",
    multiple=True,
    metavar="NAME",
    help="Approve only this council's letter (name or a unique part of it). Repeat for more.",
)
@click.option(
    "--despite-proof",
    metavar="WHY",
    default="",
    help="Approve letters whose proof failed or is missing, for this reason (recorded).",
)
@click.pass_context
def approve(ctx: click.Context, by: str, only: Sequence[str], despite_proof: str) -> None:
    """Record that these exact PDFs were checked, and by whom.

    Every built letter, or those named with --only. An approval is bound to the PDF's
    SHA-256 and never changed: a letter already approved with the same PDF keeps its approval
    (who and when); a letter rebuilt afterwards must be approved again. Only letters built from
    the inputs as they are now are approved; one whose proof failed, or that was rebuilt since
    the last proof, is refused unless --despite-proof says why. Every letter not approved is
    listed with why and what to do. Exit 1 if any letter was refused.

    \b
    Examples:
      letter-merge approve --by "Jo Bloggs"
      letter-merge approve --by "Sam Smith" --only "Derby City"
      letter-merge approve --by "Sam Smith" --only Adur --despite-proof "page count checked by hand"
    """
    settings = _settings(ctx)
    report = approve_letters(load_batch(settings), by, only=only, despite_proof=despite_proof)
    approved = len(report.approved) + len(report.despite_proof)
    parts = [f"Approved {counted(approved, 'letter')} as checked by {by.strip()}"]
    if report.despite_proof:
        parts.append(f"{len(report.despite_proof)} of them despite the proof ({despite_proof})")
    if report.already:
        parts.append(
            f"{len(report.already)} already approved with the same PDF (kept as they were)"
        )
    click.echo("; ".join(parts) + ".")
    if report.refused:
        _list_problems(
            ctx, f"{counted(len(report.refused), 'letter')} not approved", report.refused
        )
        ctx.exit(EXIT_PROBLEMS)


@cli.command()
@click.option(
    "--correction",
    "corrections",
    multiple=True,
    metavar="NAME",
    help="Queue this council's changed letter although it was sent one before. Repeat for more.",
)
@click.option(
    "--reason",
    default="",
    metavar="TEXT",
    help="Why the correction is made, for the office's record (the ledger and the audit); "
    "it is not put in the email.",
)
@click.option(
    "--tell-council",
    "note",
    default="",
    metavar="TEXT",
    help="What the correction's email tells the council about it (the email template's "
    "{{ correction_note }}); without it the email says only that the letter replaces the "
    "one sent before.",
)
@click.option(
    "--resend",
    "resends",
    multiple=True,
    metavar="NAME",
    help="Send this council's letter again, unchanged, to the address now in the workbook, "
    "after its message bounced (letter-merge delivery says which did). Repeat for more.",
)
@click.pass_context
def queue(
    ctx: click.Context,
    corrections: Sequence[str],
    reason: str,
    note: str,
    resends: Sequence[str],
) -> None:
    """Queue one email per approved letter, as an .eml in output/<year>/outbox/.

    From and Subject come from letter-merge.toml, To and Cc from the workbook, the body from
    templates/email.txt; the PDF is attached. Queueing again adds nothing twice, and each
    message keeps its own .eml (they open in Outlook and Thunderbird). A council that was
    already sent a letter is never queued again silently: name it with --correction and give
    a --reason, which is recorded for the office and never sent. What the email tells the
    council is --tell-council (optional); the email templates see {{ correction }} (true for a
    correction) and {{ correction_note }}.

    \b
    Examples:
      letter-merge queue
      letter-merge queue --correction "Derby City Council" --reason "upheld figure corrected"
      letter-merge queue --correction "Derby City Council" --reason "row 14 keyed wrongly" --tell-council "the number of complaints upheld was wrong"
      letter-merge queue --resend "Derby City Council"
    """
    settings = _settings(ctx)
    if (reason or note) and not corrections:
        raise click.UsageError("--reason and --tell-council go with --correction NAME.")
    wanted = {name: reason for name in corrections}
    report = queue_messages(load_batch(settings), wanted, note, resends)
    total = len(report.queued) + len(report.corrections) + len(report.resends)
    parts = [f"Queued {counted(total, 'message')}"]
    if report.corrections:
        parts.append(f"{len(report.corrections)} of them corrections ({reason})")
    if report.resends:
        parts.append(
            f"{len(report.resends)} of them re-sent to a corrected address "
            f"({', '.join(report.resends)})"
        )
    if report.already:
        parts.append(f"{len(report.already)} were already queued or sent")
    click.echo("; ".join(parts) + ".")
    if report.skipped:
        _list_problems(ctx, f"{counted(len(report.skipped), 'letter')} not queued", report.skipped)
        ctx.exit(EXIT_PROBLEMS)


@cli.command()
@click.option(
    "--test-to",
    metavar="ADDRESS",
    help="Send a copy of each message to this address only, marked [TEST]; nothing is marked sent.",
)
@click.option(
    "--only",
    "only",
    multiple=True,
    metavar="NAME",
    help="With --test-to: only this council's message (name or a unique part). Repeat for more.",
)
@click.option("--limit", type=click.IntRange(min=1), metavar="N", help="Send at most N messages.")
@click.option(
    "--dry-run", is_flag=True, help="Connect to nothing, change nothing; say what would go."
)
@click.option(
    "--retry-failed",
    is_flag=True,
    help="Also send again the messages the server refused before (once the cause is fixed).",
)
@click.option("--yes", is_flag=True, help="Do not ask before sending (for scripts).")
@click.option(
    "--resolve",
    type=click.Choice(["sent", "retry"]),
    help="Settle messages left in doubt by an interrupted send: they arrived, or send them again.",
)
@click.pass_context
def send(
    ctx: click.Context,
    test_to: str | None,
    only: Sequence[str],
    limit: int | None,
    dry_run: bool,
    retry_failed: bool,
    yes: bool,
    resolve: str | None,
) -> None:
    """Send what is queued and not yet sent, over SMTP as configured in letter-merge.toml.

    Before a real send it says which server, which From address, how many messages (and how
    many are corrections) and how long they take at the configured rate, then asks; --yes skips
    the question, and without a terminal to ask on it must be given. Each message is checked
    against its approval just before it goes. The password comes from
    LETTER_MERGE_SMTP_PASSWORD or the system keyring, never from a file.

    \b
    Examples:
      letter-merge send --dry-run
      letter-merge send --test-to me@ombudsman.example --only Leicestershire --only Derby
      letter-merge send
      letter-merge send --retry-failed
      letter-merge send --resolve retry
    """
    settings = _settings(ctx)
    if resolve:
        settled = resolve_in_doubt(settings, resolve)
        click.echo(f"Settled {counted(len(settled), 'message')} in doubt as {resolve}.")
        return
    if only and not test_to:
        raise click.UsageError(
            "--only chooses councils for a test send: use it with --test-to ADDRESS."
        )
    if test_to:
        test_to = _test_address(test_to)
    with _ProgressBars() as bars:
        report = send_messages(
            settings,
            test_to=test_to,
            only=only,
            limit=limit,
            dry_run=dry_run,
            retry_failed=retry_failed,
            password=None
            if dry_run or settings.smtp.auth == "oauth2"
            else smtp_password(settings.smtp),
            confirm=None if test_to else lambda plan: _confirm(plan, yes=yes),
            on_progress=bars.update,
        )
    _print_send_report(ctx, report, dry_run=dry_run, test_to=test_to)
    if report.problems:
        ctx.exit(EXIT_PROBLEMS)


@cli.command()
@click.option("--status", "show_status", is_flag=True, help="Say who is signed in, and until when.")
@click.pass_context
def login(ctx: click.Context, show_status: bool) -> None:
    """Sign in once for sending with OAuth 2.0 (Microsoft 365), as [oauth2] in letter-merge.toml says.

    Prints an address to visit and a code to enter there (in any browser, on any device), waits
    while you sign in, and says who signed in. The sign-in is kept in the system keyring
    (Windows Credential Manager, macOS Keychain, Secret Service), never in a file; send then
    renews its tokens by itself. With flow = "client-credentials" no one signs in: the app uses
    its client secret.

    \b
    Examples:
      letter-merge login
      letter-merge login --status
    """
    settings = _settings(ctx)
    tokens = token_source(settings)
    if show_status:
        signed_in = tokens.status()
        if signed_in is None:
            click.echo("Nobody is signed in for sending. Sign in with: letter-merge login")
            ctx.exit(EXIT_PROBLEMS)
        click.echo(
            f"Signed in for sending as {signed_in.username}; {_until(signed_in.expires_at)}."
        )
        return
    signed_in = tokens.sign_in(lambda message: click.echo(message))
    click.echo(f"Signed in as {signed_in.username}. letter-merge send will use this sign-in.")


@cli.command()
@click.option(
    "--port",
    type=click.IntRange(min=0, max=65535),
    default=0,
    show_default="a free one",
    help="The port on 127.0.0.1 to serve the desk on.",
)
@click.option(
    "--no-browser",
    is_flag=True,
    help="Do not open the browser; print the address (with its key) on the first line instead.",
)
@converter_option
@click.pass_context
def desk(ctx: click.Context, port: int, no_browser: bool, converter: str) -> None:
    """The whole batch from a page in the browser: files, check, preview, build, proof,
    approve, queue, test send, send and status, each step as the commands do it.

    Serves on 127.0.0.1 only, for this machine's user: the address it opens carries a key,
    and nothing is served without it. Ctrl-C (or closing the terminal) stops it. The desk and
    the commands can run side by side.

    \b
    Examples:
      letter-merge desk
      letter-merge desk --no-browser --port 8765
    """
    from letter_merge.desk.server import serve_desk  # the web server only when it is wanted
    from letter_merge.pdf.warm import WarmLibreOffice

    settings = _settings(ctx)  # a wrong folder or settings file: said now, not in the page
    warm = None
    # A [pdf] soffice or LETTER_MERGE_SOFFICE naming no LibreOffice: said now, too.
    program = find_libreoffice(settings.pdf.soffice) if converter == "libreoffice" else None
    if program is not None:
        # Previews through a LibreOffice kept running, with a profile of its own.
        profile = settings.paths.libreoffice_profiles / "desk"
        warm = WarmLibreOffice(program, profile, _converter(settings, converter), settings.pdf)

    def announce(address: str) -> None:
        if no_browser:
            click.echo(address)
        click.echo(
            f"The desk for {settings.year}'s batch is open at {address}\n"
            "Keep this window open while you work; press Ctrl-C to stop the desk.",
            err=not no_browser,
        )

    serve_desk(
        ctx.find_root().obj,
        port=port,
        open_browser=not no_browser,
        converter=lambda current: _converter(current, converter),
        warm=warm,
        announce=announce,
    )


@cli.command()
@click.pass_context
def logout(ctx: click.Context) -> None:
    """Forget the OAuth 2.0 sign-in for sending (removes it from the system keyring).

    Example: letter-merge logout
    """
    settings = _settings(ctx)
    if token_source(settings).sign_out():
        click.echo("Signed out: the sign-in for sending was removed from the system keyring.")
    else:
        click.echo("Nobody was signed in for sending.")


def _until(expires_at: int) -> str:
    if not expires_at:
        return "the current access token is renewed when it is needed"
    stamp = dt.datetime.fromtimestamp(expires_at, dt.UTC).astimezone()
    return (
        f"the current access token lasts until {stamp:%d %B %Y %H:%M} and is renewed by itself "
        "after that"
    )


def _test_address(address: str) -> str:
    try:
        return validate_email(address, check_deliverability=False).normalized
    except EmailNotValidError as error:
        raise click.BadParameter(f"{address!r} is not an email address ({error}).") from None


def _confirm(plan: SendPlan, *, yes: bool) -> bool:
    """Say what is about to go, and ask (unless --yes)."""
    count = len(plan.messages)
    corrections = f", {plan.corrections} of them corrections" if plan.corrections else ""
    retries = sum(1 for m in plan.messages if m.retry)
    retried = f", {retries} sent again after failing" if retries else ""
    minutes = plan.minutes
    duration = "under a minute" if minutes < 1 else f"about {round(minutes)} minutes"
    click.echo(f"About to send {counted(count, 'message')}{corrections}{retried}:")
    click.echo(f"  server  {plan.server}{f', signed in as {plan.login}' if plan.login else ''}")
    click.echo(f"  from    {plan.sender}")
    click.echo(f"  time    {duration} at {plan.rate_per_minute} a minute")
    for outgoing in plan.messages:
        if outgoing.correction:
            click.echo(
                f"  correction for {outgoing.authority} (sent before on {outgoing.sent_before}):"
                f" {outgoing.correction}"
            )
    if yes:
        return True
    if not sys.stdin.isatty():
        raise InputError(
            "Nothing was sent: there is no terminal to ask on. Run it again with --yes to send "
            "without asking."
        )
    return click.confirm(f"Send {counted(count, 'message')} now?", default=False)


def _print_send_report(
    ctx: click.Context, report: SendReport, *, dry_run: bool, test_to: str | None
) -> None:
    if dry_run:
        plan = report.plan
        click.echo(f"Would send {counted(len(report.would_send), 'message')}:")
        if plan is not None:
            click.echo(
                f"  server  {plan.server}{f', signed in as {plan.login}' if plan.login else ''}"
            )
            click.echo(f"  from    {plan.sender}")
        for outgoing in report.would_send:
            note = ""
            if outgoing.correction:
                note = (
                    f"  [correction, sent before on {outgoing.sent_before}: {outgoing.correction}]"
                )
            elif outgoing.retry:
                note = "  [sent again: it failed before]"
            click.echo(f"  - {outgoing.authority}: {', '.join(outgoing.recipients)}{note}")
    elif report.cancelled:
        click.echo("Nothing was sent.")
    elif test_to:
        click.echo(
            f"Sent {counted(len(report.sent), 'test message')} to {test_to}; nothing marked as sent."
        )
    else:
        click.echo(f"Sent {counted(len(report.sent), 'message')}.")
    for title, items in (
        ("Not sent: they do not match their approval", report.refused),
        (
            "Failed: the server refused them (fix the cause, then send --retry-failed)",
            report.failed,
        ),
        ("Still queued after temporary failures (send again later)", report.deferred),
    ):
        if items:
            _list_problems(ctx, title, items)
    if report.in_doubt:
        _list_problems(
            ctx,
            "In doubt (a send was cut off; check the recipient's mailbox or the server's log, "
            "then run 'letter-merge send --resolve sent' or '--resolve retry')",
            [(authority, "") for authority in report.in_doubt],
        )
    for authority, went in report.settled:
        click.echo(
            f"Settled from the mailbox: {authority} was in doubt, and "
            + ("had been sent." if went else "had not been sent, so it was sent now.")
        )


@cli.command()
@click.argument("name", nargs=-1)
@click.option(
    "--csv",
    "csv_file",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write the audit record to this CSV file (every message, re-sends included) instead of "
    "listing each letter.",
)
@click.pass_context
def status(ctx: click.Context, name: tuple[str, ...], csv_file: Path | None) -> None:
    """Where every letter stands, or one council's whole history.

    States: out of date, build failed, built (.docx only), built, approval void, approved,
    queued, in doubt, failed, sent, bounced, correction approved. After `letter-merge
    delivery`, the letters sent are counted as delivered as far as we know, bounced, delayed,
    or answered. NAME (a council's name, or a unique
    part of one) shows that council's approvals and messages, with every event. --csv writes
    one row per message ever queued (corrections and re-sends too) with the approval behind it.

    \b
    Examples:
      letter-merge status
      letter-merge status Derby City
      letter-merge status --csv sent-2020.csv
    """
    settings = _settings(ctx)
    records = _records(settings)
    standings = records.standings()
    if name:
        (authority,) = select_names([s.authority for s in standings], [" ".join(name)])
        _print_history(history(records, authority))
        return
    totals = records.counts()
    width = max(len(state) for state in STATES) + 2
    for state, (meaning, _) in STATES.items():
        if totals[state]:
            click.echo(f"{state + ':':<{width}}{totals[state]:>4}  {meaning}")
    came_back = records.delivery_summary()
    if came_back:
        click.echo(f"\nOf the letters sent: {came_back}.")
    _say_sync(settings)
    _say_moved_averages(records)
    if csv_file:  # the counts above, and each letter in the file rather than on the screen
        write_csv(records, csv_file)
        click.echo(f"\nWrote {_show(csv_file)}.")
        return
    click.echo()
    for item in standings:
        more = f"  ({counted(len(item.messages), 'message')})" if len(item.messages) > 1 else ""
        proof = f"  [proof: {item.proof_result}]" if item.record and item.record.pdf else ""
        click.echo(f"{item.state:<{width}}{item.authority}{more}  {item.why}{proof}")


def _say_sync(settings: Settings) -> None:
    """What letter-merge does because the folder is synced, and any conflict copies there."""
    year_dir = settings.paths.year_dir
    synced = synced_by(year_dir)
    if synced:
        click.echo(
            f"\nNote: {_show(year_dir)} is kept in sync by {synced}. The live ledger is kept on "
            f"this computer ({local_copy_of(settings.paths.ledger)}), and after every change a "
            f"whole copy is put in {_show(settings.paths.ledger)}, so the sync never copies it "
            "half-written."
        )
    for copy in conflict_copies(year_dir) if synced else []:
        click.echo(
            f"Warning: {_show(copy)} is a copy a sync client made when the file was changed on "
            "two computers at once. Compare it with the file beside it, then move it out of "
            "the folder."
        )


@cli.command()
@click.option(
    "--since",
    type=click.DateTime(formats=["%Y-%m-%d"]),
    metavar="YYYY-MM-DD",
    help="Read only what arrived on or after this day (default: everything in the folder).",
)
@click.pass_context
def delivery(ctx: click.Context, since: dt.datetime | None) -> None:
    """Read the sending mailbox for what came back: delivery reports, out-of-office answers and
    replies, matched to each council's letter and recorded (once, however often it is read).

    The mailbox is only read: nothing is marked read, moved or deleted. Settings are in
    [mailbox] in letter-merge.toml (host, security, username, folder, auth); the password comes
    from LETTER_MERGE_MAILBOX_PASSWORD or the keyring, or sign in with OAuth 2.0. A report is
    matched by the Message-ID of the message it is about, else by the address it went to;
    never by its subject. What matches no letter of this year is listed, never guessed.

    \b
    Examples:
      letter-merge delivery
      letter-merge delivery --since 2020-07-22
    """
    settings = _settings(ctx)
    found = read_deliveries(settings, since=since.date() if since else None)
    click.echo(
        f"Read {counted(found.read, 'message')} in {settings.mailbox.folder} on "
        f"{settings.mailbox.host}: {counted(len(found.new), 'new finding')} about this year's "
        f"letters" + (f"; {found.already} found before" if found.already else "") + "."
    )
    for item in found.new:
        click.echo(f"  {item.authority}: {item.summary()}")
    if found.marked:
        click.echo(f"Marked {counted(found.marked, 'message')} read, as [mailbox] mark asks.")
    if found.unmatched:
        click.echo(
            f"{counted(len(found.unmatched), 'report')} matched no letter of {settings.year} "
            "(listed, not guessed):"
        )
        for item in found.unmatched:
            what = item.summary()
            click.echo(f"  {item.subject or '(no subject)'} from {item.sender}: {what}")
    if found.unreadable:
        click.echo(f"{counted(len(found.unreadable), 'message')} could not be read:")
        for place, problem in found.unreadable:
            click.echo(f"  {place}: {problem}")
    summary = _records(settings).delivery_summary()
    if summary:
        click.echo(f"Of the letters sent: {summary}.")


@cli.command()
@click.argument("choice", type=click.Choice([KEEP, CORRECT]))
@click.option("--by", "by", required=True, metavar="NAME", help="Who decides.")
@click.option(
    "--type",
    "authority_type",
    default="",
    metavar="TYPE",
    help='Decide only the averages of this authority type (e.g. "Unitary Council").',
)
@click.pass_context
def averages(ctx: click.Context, choice: str, by: str, authority_type: str) -> None:
    """Decide what to do about an average a correction moved, under letters already sent.

    keep: every letter of that authority type, the corrected one too, states the average the
    letters already sent state. correct: every letter it reaches is built again and queued as a
    correction (letter-merge queue does so by itself, with the reason). The choice, who made it
    and when, is kept on the record; status shows it.

    \b
    Examples:
      letter-merge averages keep --by "Jo Bloggs"
      letter-merge averages correct --by "Jo Bloggs" --type "Unitary Council"
    """
    settings = _settings(ctx)
    made = decide_averages(load_batch(settings), choice, by, authority_type=authority_type)
    for decision in made:
        click.echo(decided(decision))


def _records(settings: Settings) -> Records:
    """The records, with the inputs as they are now, or without (saying so) when the workbook
    or template cannot be read: then which letters are out of date is not known."""
    try:
        batch = load_batch(settings)
    except LetterMergeError as error:
        first = str(error).splitlines()[0]
        click.echo(f"(Could not tell which letters are out of date: {first})", err=True)
        batch = None
    return Records.load(settings, batch)


def _say_moved_averages(records: Records) -> None:
    for moved in records.moved_averages():
        if moved.decision is None:
            click.echo(
                f"\n{str(moved)[:1].upper()}{str(moved)[1:]}. Decide, on the record:\n"
                f"  letter-merge averages keep --by NAME     the corrected letter states "
                f"{_percent(moved.sent)} too, as the letters sent do\n"
                f"  letter-merge averages correct --by NAME  every letter it reaches is built "
                "again and sent as a correction"
            )
        else:
            choice = (
                "kept as sent"
                if moved.decision.choice == KEEP
                else "to be corrected in every letter"
            )
            click.echo(
                f"\n{str(moved)[:1].upper()}{str(moved)[1:]}: {choice} "
                f"({moved.decision.by}, {moved.decision.at[:10]})."
            )


def _percent(value: int | None) -> str:
    return "not applicable" if value is None else f"{value}%"


def _print_history(record: History) -> None:
    standing = record.standing
    built = standing.record
    click.echo(f"{standing.authority}: {standing.state} ({standing.meaning})")
    click.echo(f"  why     {standing.why}")
    click.echo(f"  next    {standing.next_step}")
    pdf = built.pdf.path if built and built.pdf else "(no PDF)"
    click.echo(f"  letter  {pdf}  to {built.recipient.email if built else '?'}")
    click.echo(f"  proof   {standing.proof_result}")
    lines: list[tuple[str, str]] = []
    for approval in record.approvals:
        why = f", despite the proof: {approval.despite_proof}" if approval.despite_proof else ""
        lines.append(
            (
                approval.approved_at,
                f"approved by {approval.approved_by} (PDF {approval.pdf_sha256[:12]}){why}",
            )
        )
    subjects = {m.message_id: m for m in record.messages}
    for event in record.events:
        message = subjects.get(event.message_id)
        about = f" {event.message_id}" if event.message_id else ""
        kind = " (correction)" if message is not None and message.correction else ""
        detail = f": {event.detail}" if event.detail else ""
        lines.append((event.at, f"{event.event}{kind}{about}{detail}"))
    for at, text in sorted(lines, key=lambda line: line[0]):
        click.echo(f"  {at.replace('T', ' ')[:19]}  {text}")
    if not lines:
        click.echo("  nothing approved or sent yet")


LISTED = 5  # problems listed before "... and N more"


def _list_problems(ctx: click.Context, title: str, items: Sequence[tuple[str, str]]) -> None:
    """A heading and the first few items (all of them with -v), on stderr."""
    verbose = bool(ctx.find_root().params.get("verbose"))
    click.echo(f"{title}:", err=True)
    shown = items if verbose or len(items) <= LISTED + 1 else items[:LISTED]
    for authority, why in shown:
        click.echo(f"  - {authority}{f': {why}' if why else ''}", err=True)
    if len(shown) < len(items):
        click.echo(f"  ... and {len(items) - len(shown)} more (-v lists them all)", err=True)


def _problems_heading(problems: Sequence[Problem], what: str) -> str:
    count = len(problems)
    return f"{counted(count, 'problem')} must be fixed first ({what}):"


def _print_build_summary(ctx: click.Context, report: BuildReport, settings: Settings) -> None:
    made = [o for o in report.letters if not o.error and o.remade]
    kinds = "" if not made else " (docx and PDF)" if all(o.pdf for o in made) else " (docx only)"
    remade = len(made)
    note = f"; {len(report.unchanged)} already up to date" if report.unchanged else ""
    click.echo(
        f"Built {counted(remade, 'letter')}{kinds}{note} in "
        f"{_show(settings.paths.letters)} in {report.seconds:.1f} s."
    )
    for kind in AUTHORITY_TYPES:
        if report.by_type[kind]:
            click.echo(f"  {kind + ':':<22}{report.by_type[kind]:>4}")
    click.echo(f"Manifest: {_show(report.manifest)}")
    for notice in report.notices:
        click.echo(f"Note: {notice}", err=True)
    if report.removed_pdfs:
        approvals = Records.load(settings).approvals
        approved = [
            authority
            for authority, sha256 in report.removed_pdfs
            if authority in approvals and approvals[authority].pdf_sha256 == sha256
        ]
        click.echo(
            f"Removed {counted(len(report.removed_pdfs), 'PDF')} that no longer matched "
            "their changed letters (--no-pdf makes none in their place)"
            + (
                f"; {len(approved)} of them had been approved, and those approvals no longer "
                "hold: build with PDFs, proof and approve them again."
                if approved
                else "."
            ),
            err=True,
        )
    if report.failed:
        _list_problems(
            ctx,
            f"{counted(len(report.failed), 'letter')} failed",
            [(o.authority, o.error or "") for o in report.failed],
        )
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
