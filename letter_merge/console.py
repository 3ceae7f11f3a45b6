"""The command line's words, and the one place it prints: how each command's result reads in a
terminal, the command that takes each next step, progress bars, and the questions before a
send and a build. Part of the command line (cli.py); the desk words the same results its own
way (desk/views.py)."""

from __future__ import annotations

import codecs
import datetime as dt
import io
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import click

from letter_merge.app import checking, letters, mailing, publishing, statuses
from letter_merge.config import Settings
from letter_merge.errors import InputError, LetterMergeError, Problem
from letter_merge.steps import Blocker, Next, actionable_first
from letter_merge.words import counted, percent, plural


def say(text: str = "") -> None:
    """A line on standard output."""
    click.echo(text)


def stopped(message: str) -> None:
    """Why the command stopped (Ctrl-C), on stderr."""
    click.echo(message, err=True)


# -- each command's result in words ------------------------------------------------------------


def template_fixes(fixed: checking.TemplateFixes, template: Path) -> None:
    if not fixed.fixes:
        click.echo("Nothing in the template needed a safe fix.\n")
        return
    click.echo(f"Wrote {shown(fixed.copy)}, with {counted(len(fixed.fixes), 'fix')}:")
    for finding in fixed.fixes:
        click.echo(f"  - {finding}")
    click.echo(f"Open it in Word, check it, and save it as {template.name} to use it.\n")


def check_report(ctx: click.Context, report: checking.CheckReport) -> None:
    click.echo(f"Workbook {shown(report.workbook)}: {counted(report.councils, 'council')}.")
    uses = report.merge_fields + report.if_rules
    kinds = [counted(report.fields, "{{ }} field")] if report.fields or not uses else []
    if uses:
        kinds.append(counted(report.merge_fields, "Word merge field"))
        if report.if_rules:
            kinds.append(counted(report.if_rules, "IF rule"))
    click.echo(f"Template {shown(report.template)}: {', '.join(kinds)}, all known.")
    if report.merge_codes and _verbose(ctx):
        click.echo("Word merge fields (Mailings tab), as letter-merge merges them:")
        for place, instruction in report.merge_codes:
            click.echo(f"  - {place}: {{ {instruction} }}")
    if report.unused:
        click.echo(f"For information, columns no template uses: {', '.join(report.unused)}.")
    if report.warnings:
        click.echo(
            f"{counted(len(report.warnings), 'warning')}; the letters can be built, but look at:"
        )
        for warning in report.warnings:
            click.echo(f"  - {warning}")
    click.echo("No problems found.")


def recipients_written(written: Path, councils: int, fields: int) -> None:
    click.echo(
        f"Wrote {shown(written)}: {counted(councils, 'council')}, {counted(fields, 'field')}."
    )
    click.echo(
        "In Word: Mailings › Select Recipients › Use an Existing List, choose it (sheet "
        "Recipients); then Insert Merge Field lists every field, and Preview Results shows each "
        "council's letter."
    )


def previews(letter: letters.Preview, email: letters.EmailPreview) -> None:
    click.echo(f"{letter.authority}: {shown(letter.pdf)}")
    for page in letter.pages:
        click.echo(f"  {shown(page)}")
    click.echo(f"  the email, as it will be seen: {shown(email.page)}")
    click.echo(f"  the email as plain text: {shown(email.text)}")


def proof_report(ctx: click.Context, report: letters.ProofReport) -> None:
    whole = (
        f" (the page shows all {report.shown}, each as last proofed)"
        if report.shown > len(report.cards)
        else ""
    )
    click.echo(
        f"Proof of {counted(len(report.cards), 'letter')}{whole}: {shown(report.index)} "
        f"and {shown(report.combined)}."
    )
    for change in report.changes:
        click.echo(f"  {change}")
    if report.with_problems:
        list_problems(
            ctx,
            f"{counted(len(report.with_problems), 'letter')} failed a check",
            [(card.authority, card.problems_in_words) for card in report.with_problems],
        )
    else:
        click.echo("Every check passed.")


def approve_report(
    ctx: click.Context, report: mailing.ApproveReport, *, by: str, despite_proof: str
) -> None:
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
        blocked(ctx, f"{counted(len(report.refused), 'letter')} not approved", report.refused)


def queue_report(ctx: click.Context, report: mailing.QueueReport, *, reason: str) -> None:
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
        blocked(ctx, f"{counted(len(report.skipped), 'letter')} not queued", report.skipped)


def settled(messages: Sequence[str], outcome: str) -> None:
    of = f": {', '.join(messages)}" if messages else ""
    click.echo(f"Settled {counted(len(messages), 'message')} in doubt as {outcome}{of}.")


def sign_in_status(signed_in: mailing.SignedIn | None) -> None:
    if signed_in is None:
        click.echo("Nobody is signed in for sending. Sign in with: letter-merge login")
    else:
        click.echo(f"Signed in for sending as {signed_in.username}; {until(signed_in.expires_at)}.")


def signed_in(signed_in: mailing.SignedIn) -> None:
    click.echo(f"Signed in as {signed_in.username}. letter-merge send will use this sign-in.")


def signed_out(was_signed_in: bool) -> None:
    if was_signed_in:
        click.echo("Signed out: the sign-in for sending was removed from the system keyring.")
    else:
        click.echo("Nobody was signed in for sending.")


def desk_open(year: int, address: str, *, printed: bool) -> None:
    """Where the desk is open: the address alone on the first line when no browser opens it
    (for a program that reads it), and the sentence on stderr when one does."""
    if printed:
        click.echo(address)
    click.echo(
        f"The desk for {year}'s batch is open at {address}\n"
        "Keep this window open while you work; press Ctrl-C to stop the desk.",
        err=not printed,
    )


def status_counts(ctx: click.Context, report: statuses.StatusReport) -> None:
    """How many letters are in each state, what came back, and what needs deciding."""
    unknown(ctx, report.unknown_because)
    for line in report.counts:
        click.echo(f"{line.state + ':':<{STATE_WIDTH}}{line.count:>4}  {line.meaning}")
    if report.came_back:
        click.echo(f"\n{report.came_back}.")
    sync_note(report.synced)
    moved_averages(report.moved_averages)
    reworded(report.letters)


def reworded(letters: Sequence[statuses.Standing]) -> None:
    """Letters sent that read otherwise now, waiting for the office: one block a rewording."""
    alike: dict[str, list[str]] = {}
    for letter in letters:
        if letter.awaiting_wording:
            alike.setdefault(letter.reworded_in_words, []).append(letter.authority)
    for changed, names in alike.items():
        click.echo(
            f"\n{counted(len(names), 'letter')} sent {plural('reads', len(names))} otherwise now: "
            f"{changed}. Decide, on the record, for every such letter:\n"
            '  letter-merge decide keep --reason "why" --by NAME     wording only: they stay as '
            "sent, and nothing goes again\n"
            '  letter-merge decide correct --reason "why" --by NAME  each is proofed, approved '
            f"and sent as a correction ({counted(len(names), 'correction email')})"
        )


def status_letters(report: statuses.StatusReport) -> None:
    """Each letter on a line: its state, council, why, and its proof beside a PDF."""
    click.echo()
    for item in report.letters:
        more = f"  ({counted(len(item.messages), 'message')})" if len(item.messages) > 1 else ""
        proof = statuses.proof_shown(item)
        said = f"  [proof: {proof}]" if proof else ""
        said += published(report.published.get(item.authority, ""))
        click.echo(f"{item.state:<{STATE_WIDTH}}{item.authority}{more}  {item.why}{said}")


STATE_WIDTH = max(len(state) for state in statuses.STATES) + 2  # status's first column


def delivery_report(settings: Settings, found: mailing.DeliveryReport, summary: str) -> None:
    """What reading the mailbox found, and (`summary`) what came back about the letters sent."""
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
    if summary:
        click.echo(f"{summary}.")


def decisions(made: Sequence[mailing.AverageDecision]) -> None:
    for decision in made:
        click.echo(decision.in_words())


def wording_decisions(made: Sequence[mailing.WordingDecision]) -> None:
    """Letters reworded since they were sent, decided: one line for each rewording."""
    alike: dict[tuple[str, str], list[str]] = {}
    for decision in made:
        alike.setdefault((decision.changed, decision.choice), []).append(decision.authority)
    for (changed, choice), names in alike.items():
        first = made[0]
        if choice == mailing.KEEP:
            what = "kept as sent: they stay sent, and nothing goes again"
        else:
            what = (
                "to be corrected: proof and approve them (letter-merge proof, then approve), "
                "then letter-merge queue sends each as a correction"
            )
        click.echo(
            f"{counted(len(names), 'letter')} reworded since sent ({changed}) {what}; "
            f"decided by {first.by}: {first.reason}."
        )


def _verbose(ctx: click.Context) -> bool:
    """-v: every item of long lists, each letter on a line of its own."""
    return bool(ctx.find_root().params.get("verbose"))


def until(expires_at: int) -> str:
    if not expires_at:
        return "the current access token is renewed when it is needed"
    stamp = dt.datetime.fromtimestamp(expires_at, dt.UTC).astimezone()
    return (
        f"the current access token lasts until {stamp:%d %B %Y %H:%M} and is renewed by itself "
        "after that"
    )


def confirm_send(plan: mailing.SendPlan, *, yes: bool) -> bool:
    """Say what is about to go, and ask (unless --yes)."""
    count = len(plan.messages)
    corrections = f", {plan.corrections} of them corrections" if plan.corrections else ""
    retried = f", {plan.retries} sent again after failing" if plan.retries else ""
    resent = f", {plan.resends} of them re-sent to a corrected address" if plan.resends else ""
    minutes = plan.minutes
    duration = "under a minute" if minutes < 1 else f"about {round(minutes)} minutes"
    click.echo(f"About to send {counted(count, 'message')}{corrections}{resent}{retried}:")
    click.echo(f"  server  {plan.server}{f', signed in as {plan.login}' if plan.login else ''}")
    click.echo(f"  from    {plan.sender}")
    click.echo(f"  time    {duration} at {plan.rate_per_minute} a minute")
    for outgoing in plan.messages:
        if outgoing.correction:
            click.echo(
                f"  correction for {outgoing.authority} (sent before on {outgoing.sent_before}):"
                f" {outgoing.correction}"
            )
        elif outgoing.resend:
            click.echo(
                f"  re-send for {outgoing.authority}, the letter sent before, to "
                f"{', '.join(outgoing.recipients)}"
            )
        elif outgoing.retry:
            click.echo(f"  retry for {outgoing.authority}: the server refused it before")
    if yes:
        return True
    if not sys.stdin.isatty():
        raise InputError(
            "Nothing was sent: there is no terminal to ask on. Run it again with --yes to send "
            "without asking."
        )
    return click.confirm(f"Send {counted(count, 'message')} now?", default=False)


def send_report(
    ctx: click.Context, report: mailing.SendReport, *, dry_run: bool, test_to: str | None
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
            elif outgoing.resend:
                note = "  [re-send: the letter sent before, to a corrected address]"
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
    if report.refused:
        blocked(ctx, "Not sent: they do not match their approval", report.refused)
    for title, items in (
        (
            "Failed: the server refused them (fix the cause, then send --retry-failed)",
            report.failed,
        ),
        ("Still queued after temporary failures (send again later)", report.deferred),
    ):
        if items:
            list_problems(ctx, title, items)
    if report.in_doubt:
        list_problems(
            ctx,
            "In doubt (a send was cut off; check the recipient's mailbox or the server's log, "
            "then run 'letter-merge send --resolve sent' or '--resolve retry', with --only "
            "NAME for one council)",
            report.doubts or [(authority, "") for authority in report.in_doubt],
        )
    for authority, went in report.settled:
        click.echo(
            f"Settled from the mailbox: {authority} was in doubt, and "
            + ("had been sent." if went else "had not been sent, so it was sent now.")
        )


def sync_note(synced: statuses.SyncNote | None) -> None:
    """What letter-merge does because the folder is synced, and any conflict copies there."""
    if synced is None:
        return
    click.echo(
        f"\nNote: {shown(synced.folder)} is kept in sync by {synced.by}. The live ledger is kept "
        f"on this computer ({synced.live_ledger}), and after every change a whole copy is put "
        f"in {shown(synced.folder_ledger)}, so the sync never copies it half-written."
    )
    for copy in synced.conflicts:
        click.echo(
            f"Warning: {shown(copy)} is a copy a sync client made when the file was changed on "
            "two computers at once. Compare it with the file beside it, then move it out of "
            "the folder."
        )


def unknown(ctx: click.Context, problems: Sequence[Problem]) -> None:
    """Why status cannot say which letters are out of date: every problem, on stderr."""
    if problems:
        list_problems(
            ctx,
            "Which letters are out of date cannot be told until "
            f"{counted(len(problems), 'problem')} in the inputs "
            f"{'is' if len(problems) == 1 else 'are'} fixed (letter-merge check lists them)",
            [(str(problem), "") for problem in problems],
        )
        click.echo(err=True)


def moved_averages(averages: Sequence[statuses.MovedAverage]) -> None:
    for moved in averages:
        if moved.decision is None:
            click.echo(
                f"\n{str(moved)[:1].upper()}{str(moved)[1:]}. Decide, on the record:\n"
                f"  letter-merge averages keep --by NAME     the corrected letter states "
                f"{percent(moved.sent)} too, as the letters sent do\n"
                f"  letter-merge averages correct --by NAME  every letter it reaches is built "
                "again and sent as a correction"
            )
        else:
            choice = (
                "kept as sent"
                if moved.decision.choice == mailing.KEEP
                else "to be corrected in every letter"
            )
            click.echo(
                f"\n{str(moved)[:1].upper()}{str(moved)[1:]}: {choice} "
                f"({moved.decision.by}, {moved.decision.at[:10]})."
            )


def history(record: statuses.History) -> None:
    standing = record.standing
    click.echo(f"{standing.authority}: {standing.state} ({standing.meaning})")
    click.echo(f"  why     {standing.why}")
    click.echo(f"  next    {next_command(standing.next_step, standing.authority)}")
    click.echo(f"  letter  {standing.pdf_path or '(no PDF)'}  {went_to(standing)}")
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


def went_to(standing: statuses.Standing) -> str:
    """Where its letter last went, and the address before when a re-send went elsewhere; where
    it would go, before it is sent."""
    if standing.went_to:
        before = standing.went_to_before
        earlier = f" (earlier to {', '.join(before)})" if before else ""
        return f"sent to {', '.join(standing.went_to)}{earlier}"
    return f"to {standing.email}" if standing.email else "to ?"


# Each next step as the command that takes it ({name}: the council's name).
NEXT_COMMANDS: dict[Next, str] = {
    Next.BUILD: "letter-merge build, then proof and approve it",
    Next.BUILD_PDF: "letter-merge build (without --no-pdf) makes its PDF",
    Next.FIX_BUILD: "fix what the build said, then letter-merge build",
    Next.PROOF: "letter-merge proof, look through it, and approve it",
    Next.FIX_OR_APPROVE_DESPITE: 'fix it and build again, or letter-merge approve --despite-proof "why"',
    Next.APPROVE: "letter-merge approve --by NAME",
    Next.QUEUE: "letter-merge queue",
    Next.SEND: "letter-merge send",
    Next.SETTLE: "check whether it arrived, then letter-merge send --resolve sent (or --resolve retry)",
    Next.RETRY: "fix the cause, then letter-merge send --retry-failed",
    Next.CORRECT: "letter-merge build, proof and approve it, then queue it as a correction",
    Next.QUEUE_CORRECTION: 'letter-merge queue --correction "{name}" --reason "what changed"',
    Next.DECIDE_AVERAGE: "letter-merge averages keep (or correct) --by NAME",
    Next.DECIDE_WORDING: 'letter-merge decide keep (or correct) --reason "why" --by NAME',
    Next.RESEND: "correct the address in the workbook's Contacts sheet, then letter-merge queue "
    '--resend "{name}" and send',
    Next.RESEND_NEW_ADDRESS: 'letter-merge queue --resend "{name}" sends the letter sent to the '
    "workbook's new address, then letter-merge send",
    Next.READ_MAILBOX: "letter-merge delivery reads what came back",
    Next.FIX_INPUTS: "letter-merge check lists what to fix",
    Next.SIGN_IN: "letter-merge login (the manual, For IT: Microsoft 365 or Gmail)",
    Next.NOTHING: "nothing",
}  # fmt: skip


def error_text(error: LetterMergeError) -> str:
    """An error as the command line says it: its message, and the command that fixes it."""
    if error.next_step is None:
        return str(error)
    return f"{error}\nNext: {next_command(error.next_step, 'NAME')}"


def next_command(step: Next, name: str) -> str:
    return NEXT_COMMANDS[step].format(name=name)


def blocked(ctx: click.Context, title: str, items: Sequence[tuple[str, Blocker]]) -> None:
    """Letters a step could not go ahead for, each with why and the command to take next; those
    one more word sends first, and many letters held for one same reason as one line."""
    alike: dict[Blocker, list[str]] = {}
    for name, blocker in actionable_first(items):
        alike.setdefault(blocker, []).append(name)
    every = _verbose(ctx)  # -v: each letter on a line of its own
    lines = []
    for blocker, names in alike.items():
        together = not every and len(names) > 2 and "{name}" not in NEXT_COMMANDS[blocker.next]
        for name in [names[0]] if together else names:
            said = blocker.why
            if blocker.next != Next.NOTHING:
                said += f"; {next_command(blocker.next, name)}"
            if together:
                shown = ", ".join(names[:3]) + (", …" if len(names) > 3 else "")
                lines.append((f"{counted(len(names), 'letter')} ({shown})", said))
            else:
                lines.append((name, said))
    list_problems(ctx, title, lines)


LISTED = 5  # problems listed before "... and N more"


def list_problems(ctx: click.Context, title: str, items: Sequence[tuple[str, str]]) -> None:
    """A heading and the first few items (all of them with -v), on stderr."""
    verbose = _verbose(ctx)
    click.echo(f"{title}:", err=True)
    shown = items if verbose or len(items) <= LISTED + 1 else items[:LISTED]
    for authority, why in shown:
        click.echo(f"  - {authority}{f': {why}' if why else ''}", err=True)
    if len(shown) < len(items):
        click.echo(f"  ... and {len(items) - len(shown)} more (-v lists them all)", err=True)


def confirm_rebuild(plan: letters.BuildPlan, *, yes: bool) -> bool:
    """Say that letters already sent are about to be built again, and ask at a terminal."""
    click.echo(plan.warning, err=True)
    if yes:
        return True
    if not sys.stdin.isatty():
        raise InputError(
            "Nothing was built: there is no terminal to ask on. Run it again with --yes to "
            "build the letters already sent again without asking."
        )
    count = len(plan.sent_again)
    return click.confirm(f"Build the {counted(count, 'letter')} sent again?", default=True)


def build_summary(ctx: click.Context, result: letters.BuildResult, settings: Settings) -> None:
    if result.plan.held:
        blocked(
            ctx,
            f"{counted(len(result.plan.held), 'letter')} not built: a decision comes first",
            result.plan.held,
        )
    report = result.report
    if report is None:
        return
    made = report.made
    kinds = "" if not made else " (docx and PDF)" if all(o.pdf for o in made) else " (docx only)"
    note = f"; {len(report.unchanged)} already up to date" if report.unchanged else ""
    click.echo(
        f"Built {counted(len(made), 'letter')}{kinds}{note} in "
        f"{shown(settings.paths.letters)} in {report.seconds:.1f} s."
    )
    for kind in letters.AUTHORITY_TYPES:
        if report.by_type[kind]:
            click.echo(f"  {kind + ':':<22}{report.by_type[kind]:>4}")
    click.echo(f"Manifest: {shown(report.manifest)}")
    for notice in report.notices:
        click.echo(f"Note: {notice}", err=True)
    if report.removed_pdfs:
        voided = len(result.voided_approvals)
        click.echo(
            f"Removed {counted(len(report.removed_pdfs), 'PDF')} that no longer matched "
            "their changed letters (--no-pdf makes none in their place)"
            + (
                f"; {voided} of them had been approved, and those approvals no longer "
                "hold: build with PDFs, proof and approve them again."
                if voided
                else "."
            ),
            err=True,
        )
    if report.failed:
        list_problems(
            ctx,
            f"{counted(len(report.failed), 'letter')} failed",
            [(o.authority, o.error or "") for o in report.failed],
        )
        click.echo("Fix the cause and run the same command again.", err=True)
    sent = result.plan.sent_again
    if sent:
        differ = result.differ
        click.echo(
            f"{counted(len(sent), 'letter')} already sent built again: "
            f"{len(differ)} {plural('differs', len(differ))} from what was sent"
            + (
                " (they stay sent)."
                if not differ
                else f": {', '.join(differ[:5])}{' …' if len(differ) > 5 else ''}; each goes "
                "as a correction once proofed and approved."
            )
        )


class ProgressBars:
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

    def __enter__(self) -> ProgressBars:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def shown(path: Path) -> str:
    """A path as the user would type it: relative to the current folder where possible."""
    try:
        return os.path.relpath(path)
    except ValueError:  # another drive on Windows
        return str(path)


# What a console that cannot show a character is given instead (Windows writes output that goes
# to a file or a pipe in its ANSI code page, which has no arrow; another terminal may lack more).
PLAINER = {
    "→": "->",
    "←": "<-",
    "‘": "'",
    "’": "'",
    "“": '"',
    "”": '"',
    "–": "-",
    "—": "-",
    "…": "...",
    "›": ">",
    "«": "<<",
    "»": ">>",
    "\u00a0": " ",
    "£": "GBP ",
    "€": "EUR ",
}
PLAIN_ERRORS = "letter-merge-plain"


def _plainer(error: UnicodeError) -> tuple[str, int]:
    """A stand-in for each character the stream cannot hold: a plain one, else '?'."""
    if not isinstance(error, UnicodeEncodeError):
        raise error
    text = error.object[error.start : error.end]
    return "".join(PLAINER.get(character, "?") for character in text), error.end


codecs.register_error(PLAIN_ERRORS, _plainer)


def any_console() -> None:
    """Never a traceback for a character the console, file or pipe cannot hold: standard
    output and error keep their encoding and write a plain stand-in for what it lacks."""
    for stream in (sys.stdout, sys.stderr):
        if isinstance(stream, io.TextIOWrapper) and stream.errors == "strict":
            stream.reconfigure(errors=PLAIN_ERRORS)


def published(at: str) -> str:
    """'  [published 2020-07-29 09:00]' after a letter's status line ('' if not published)."""
    return f"  [published {at.replace('T', ' ')[:16]}]" if at else ""


def publish_report(ctx: click.Context, report: publishing.PublishReport) -> None:
    """What `publish` put in the folder, what it left out and why, and whether it may go out."""
    day = f"{report.publication_date.day} {report.publication_date:%B %Y}"
    letters_ = counted(len(report.letters), "letter")
    click.echo(
        f"{shown(report.folder)}: {letters_}, each the PDF its council last received, byte "
        "for byte, checked against the ledger."
    )
    click.echo(
        f"  {publishing.DATA_NAME} and {publishing.JSON_NAME}: "
        f"{counted(len(report.letters), 'row')}, the figures as the letters state them"
    )
    click.echo(f"  {publishing.INDEX_NAME}: the letters by type of authority, for a look")
    click.echo(f"  {publishing.SUMS_NAME}: every file's SHA-256")
    if report.embargoed:
        click.echo(
            f"Embargoed until {day} ([batch] publish_on): prepared, not to go on the website "
            "before then. Run letter-merge publish again on the day."
        )
    else:
        click.echo(f"For the website on {day}: the web team uploads the folder as it is.")
        if report.recorded:
            click.echo(f"Recorded as published: {counted(report.recorded, 'council')}.")
    if report.left_out:
        blocked(ctx, f"Not published ({counted(len(report.left_out), 'council')})", report.left_out)
