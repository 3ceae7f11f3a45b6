"""The `letter-merge` command line: click glue over app/. Each command parses its options, calls
one of app/'s functions and hands the result to console.py, the one place that prints."""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import click

from letter_merge import __version__, console
from letter_merge.app import checking, letters, mailing, programs, publishing, statuses
from letter_merge.app.inputs import Inputs
from letter_merge.config import Settings, load_settings
from letter_merge.errors import (
    EXIT_INTERRUPTED,
    EXIT_PROBLEMS,
    EXIT_USAGE,
    LetterMergeError,
)


class _Group(click.Group):
    """Turns the application's errors into a message on stderr and the documented exit code."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except LetterMergeError as error:
            failure = _UsageFailure if error.exit_code == EXIT_USAGE else click.ClickException
            raise failure(console.error_text(error)) from None
        except KeyboardInterrupt:
            programs.stop_all_programs()
            raise _Interrupted() from None

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        """Each command with the whole first sentence of its help (click cuts it to fit one
        line otherwise), wrapped under it as needed."""
        rows = []
        for name in self.list_commands(ctx):
            command = self.get_command(ctx, name)
            if command is not None and not command.hidden:
                rows.append((name, command.get_short_help_str(limit=10_000)))
        if rows:
            with formatter.section("Commands"):
                formatter.write_dl(rows)


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
        console.stopped(self.message)


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
    given = ctx.obj if isinstance(ctx.obj, Frontend) else Frontend()
    ctx.obj = dataclasses.replace(given, config_file=config_file)


@dataclass(frozen=True)
class Frontend:
    """What the command line works with from outside: the settings file (--config) and what
    makes PDFs. A program (or a test) that runs the commands passes its own converter as
    `cli(obj=Frontend(converter=...))`."""

    config_file: Path | None = None
    converter: Callable[[Settings, str], letters.Converter] = letters.converter_for


def _frontend(ctx: click.Context) -> Frontend:
    frontend = ctx.find_root().obj
    assert isinstance(frontend, Frontend)
    return frontend


def _settings(ctx: click.Context) -> Settings:
    return load_settings(_frontend(ctx).config_file)


def _inputs(ctx: click.Context) -> Inputs:
    return Inputs(_settings(ctx))


def only_option(what: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """--only NAME, repeatable: `what` says what it chooses the councils for."""
    return click.option(
        "--only",
        "only",
        multiple=True,
        metavar="NAME",
        help=f"{what} (a council's name or a unique part of it). Repeat for more.",
    )


converter_option = click.option(
    "--converter",
    type=click.Choice(["libreoffice", "word"]),
    default="libreoffice",
    show_default=True,
    help="What turns .docx into PDF; 'word' needs Microsoft Word on Windows or macOS.",
)


def _converter(ctx: click.Context, settings: Settings, name: str) -> letters.Converter:
    return _frontend(ctx).converter(settings, name)


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
    inputs = _inputs(ctx)
    if fix:
        console.template_fixes(checking.fix_the_template(inputs), inputs.settings.template)
    console.check_report(ctx, checking.check(inputs))


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
    console.recipients_written(*letters.recipients(_inputs(ctx), target))


@cli.command()
@only_option("Build only this council's letter")
@click.option("--no-pdf", is_flag=True, help="Make the .docx letters only.")
@converter_option
@click.option("--force", is_flag=True, help="Make every letter again, even those up to date.")
@click.option("--yes", is_flag=True, help="Do not ask before building again letters already sent.")
@click.pass_context
def build(
    ctx: click.Context,
    only: Sequence[str],
    no_pdf: bool,
    converter: str,
    force: bool,
    yes: bool,
) -> None:
    """Build one .docx and one PDF per council into output/<year>/letters/.

    Checks the workbook and template first and builds nothing while any problem remains.
    Letters whose template, fields and files are unchanged since the last build are not made
    again (--force makes them all). Writes output/<year>/manifest.json with the SHA-256 of every
    input and every letter. Before building again letters already sent it says so, and asks
    at a terminal (--yes does not ask; with no terminal, it builds them only with --yes);
    afterwards it says how many of them now differ from what was sent. Letters whose figures wait for a decision about a moved average are not
    built until it is made (letter-merge decide).

    \b
    Examples:
      letter-merge build
      letter-merge build --only Leicestershire --only "Derby City"
      letter-merge build --no-pdf
    """
    inputs = _inputs(ctx)
    settings = inputs.settings
    plan = letters.plan_build(inputs, only=only, force=force)
    if plan.sent_again and not console.confirm_rebuild(plan, yes=yes):
        console.say("Nothing was built.")
        return
    pdf_converter = None if no_pdf else _converter(ctx, settings, converter)
    with console.ProgressBars() as bars:
        result = letters.build(
            inputs, plan, converter=pdf_converter, force=force, on_progress=bars.update
        )
    console.build_summary(ctx, result, settings)
    if result.plan.held or (result.report is not None and result.report.failed):
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
    inputs = _inputs(ctx)
    result = letters.preview(inputs, " ".join(name), _converter(ctx, inputs.settings, converter))
    console.previews(result, letters.email_preview(inputs, " ".join(name)))
    if open_pdf:
        click.launch(str(result.pdf))


@cli.command()
@only_option("Proof only this council's letter; the others keep their last proof")
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
    with console.ProgressBars() as bars:
        report = letters.proof(_inputs(ctx), only=only, on_progress=bars.update)
    console.proof_report(ctx, report)
    if report.with_problems:
        ctx.exit(EXIT_PROBLEMS)


@cli.command()
@click.option("--by", "by", required=True, metavar="NAME", help="Who checked the letters.")
@only_option("Approve only this council's letter")
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
    report = mailing.approve(_inputs(ctx), by, only=only, despite_proof=despite_proof)
    console.approve_report(ctx, report, by=by, despite_proof=despite_proof)
    if report.refused:
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
    report = mailing.queue(
        _inputs(ctx), corrections=corrections, reason=reason, note=note, resends=resends
    )
    console.queue_report(ctx, report, reason=reason)
    if report.skipped:
        ctx.exit(EXIT_PROBLEMS)


@cli.command()
@click.option(
    "--test-to",
    metavar="ADDRESS",
    help="Send a copy of each message to this address only, marked [TEST]; nothing is marked sent.",
)
@only_option(
    "With --test-to: only this council's message; with --resolve: settle only this council's"
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
      letter-merge send --resolve sent --only Derby
    """
    settings = _settings(ctx)
    if resolve:
        console.settled(mailing.settle(settings, resolve, only), resolve)
        return
    request = mailing.SendRequest(test_to, tuple(only), limit, retry_failed)
    if dry_run:
        report = mailing.plan_send(settings, request)
    else:
        with console.ProgressBars() as bars:
            report = mailing.send(
                settings,
                request,
                confirm=None if test_to else lambda plan: console.confirm_send(plan, yes=yes),
                on_progress=bars.update,
            )
    console.send_report(ctx, report, dry_run=dry_run, test_to=test_to)
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
    tokens = mailing.sign_in(_settings(ctx))
    if show_status:
        signed_in = tokens.status()
        console.sign_in_status(signed_in)
        if signed_in is None:
            ctx.exit(EXIT_PROBLEMS)
        return
    console.signed_in(tokens.sign_in(console.say))


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

    settings = _settings(ctx)  # a wrong folder or settings file: said now, not in the page
    make = _frontend(ctx).converter
    # A [pdf] soffice or LETTER_MERGE_SOFFICE naming no LibreOffice: said now, too.
    previews = programs.desk_previews(settings, converter, make)

    serve_desk(
        _frontend(ctx).config_file,
        port=port,
        open_browser=not no_browser,
        converter=lambda current: make(current, converter),
        previews=previews,
        announce=lambda address: console.desk_open(settings.year, address, printed=no_browser),
    )


@cli.command()
@click.pass_context
def logout(ctx: click.Context) -> None:
    """Forget the OAuth 2.0 sign-in for sending (removes it from the system keyring).

    Example: letter-merge logout
    """
    console.signed_out(mailing.sign_in(_settings(ctx)).sign_out())


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

    States, in the order a letter moves through them: {states}. After `letter-merge
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
    inputs = _inputs(ctx)
    if name:
        console.history(statuses.council_history(inputs, " ".join(name)))
        return
    report = statuses.status(inputs)
    console.status_counts(ctx, report)
    if csv_file:  # the counts above, and each letter in the file rather than on the screen
        statuses.write_status_csv(report, csv_file)
        console.say(f"\nWrote {console.shown(csv_file)}.")
        return
    console.status_letters(report)


# Every state, from the records' own list, so that the help cannot leave one out.
status.help = (status.help or "").replace("{states}", ", ".join(statuses.STATES))


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
    inputs = _inputs(ctx)
    settings = inputs.settings
    found = mailing.read_mailbox(settings, since=since.date() if since else None)
    console.delivery_report(settings, found, inputs.records().delivery_summary())


@cli.command()
@click.argument("choice", type=click.Choice([mailing.KEEP, mailing.CORRECT]))
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

    The same as letter-merge decide, for averages only. keep: every letter of that authority
    type, the corrected one too, states the average the letters already sent state. correct: every letter it reaches is built again and queued as a
    correction (letter-merge queue does so by itself, with the reason). The choice, who made it
    and when, is kept on the record; status shows it.

    \b
    Examples:
      letter-merge averages keep --by "Jo Bloggs"
      letter-merge averages correct --by "Jo Bloggs" --type "Unitary Council"
    """
    console.decisions(mailing.decide(_inputs(ctx), choice, by, authority_type=authority_type))


@cli.command()
@click.argument("choice", type=click.Choice([mailing.KEEP, mailing.CORRECT]))
@click.option("--by", "by", required=True, metavar="NAME", help="Who decides.")
@click.option(
    "--reason",
    default="",
    metavar="TEXT",
    help="Why, kept on the record (needed for letters reworded since they were sent).",
)
@click.option(
    "--type",
    "authority_type",
    default="",
    metavar="TYPE",
    help='Decide only for this authority type (e.g. "Unitary Council").',
)
@click.pass_context
def decide(ctx: click.Context, choice: str, by: str, reason: str, authority_type: str) -> None:
    """Take, on the record, every decision waiting about letters already sent.

    Two things wait for one: an average a correction moved (see letter-merge averages, the
    same decision for averages only), and letters sent whose template was reworded since
    (built again, they read otherwise: status names the paragraphs). keep: the letters stay
    as sent (an average stays as the letters sent state it; a rewording is wording only, and
    no letter goes again). correct: every letter it reaches is built again where it needs to
    be, proofed, approved and queued as a correction, with the reason. Who decided, when and
    why is kept on the record; status shows it.

    \b
    Examples:
      letter-merge decide keep --reason "typo fixed in the template" --by "Jo Bloggs"
      letter-merge decide correct --by "Jo Bloggs" --type "Unitary Council"
    """
    made = mailing.decide_all(
        _inputs(ctx), choice, by, reason=reason, authority_type=authority_type
    )
    console.decisions(made.averages)
    console.wording_decisions(made.wording)


@cli.command()
@click.pass_context
def publish(ctx: click.Context) -> None:
    """Publication day: each council's letter as it last received it, and the map's data.

    \b
    Example (output/<year>/publish/; see docs/publishing.md):
      letter-merge publish
    """
    console.publish_report(ctx, publishing.publish(_inputs(ctx)))


def main() -> None:
    console.any_console()
    cli(prog_name="letter-merge")
