"""After the build: approving, the averages' decisions, queueing, sending, settling a send cut
off, reading the mailbox and signing in, each with the rules both front ends keep."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from email_validator import EmailNotValidError, validate_email

from letter_merge.app.inputs import Inputs
from letter_merge.approve import ApproveReport, approve_letters
from letter_merge.averages import decide_averages, decide_wording, waiting_decisions
from letter_merge.config import Settings
from letter_merge.decisions import CORRECT, KEEP, AverageDecision, WordingDecision
from letter_merge.errors import InputError
from letter_merge.mail.inbox.delivery import DeliveryReport, read_deliveries
from letter_merge.mail.send.outbox import QueueReport, asked_corrections, queue_messages
from letter_merge.mail.send.sending import (
    SendPlan,
    SendReport,
    resolve_in_doubt,
    send_messages,
    server_in_words,
)
from letter_merge.mail.send.transport import smtp_password
from letter_merge.mail.signin.common import SignedIn
from letter_merge.mail.signin.oauth import Tokens, token_source
from letter_merge.progress import Progress, no_progress

# What the front ends use, the results they render with it: named here so that they need
# nothing from below the application layer.
__all__ = [
    "CORRECT",
    "KEEP",
    "ApproveReport",
    "AverageDecision",
    "Decisions",
    "DeliveryReport",
    "QueueReport",
    "SendPlan",
    "SendReport",
    "SendRequest",
    "SignedIn",
    "Tokens",
    "WordingDecision",
    "approve",
    "decide",
    "decide_all",
    "mail_server",
    "plan_send",
    "queue",
    "read_mailbox",
    "send",
    "settle",
    "sign_in",
]


def approve(
    inputs: Inputs, by: str, *, only: Sequence[str] = (), despite_proof: str = ""
) -> ApproveReport:
    """Record that `by` checked these letters' PDFs as they are now."""
    return approve_letters(inputs.batch(), by, only=only, despite_proof=despite_proof)


def decide(
    inputs: Inputs, choice: str, by: str, *, authority_type: str = ""
) -> list[AverageDecision]:
    """The office's choice (keep or correct) about the averages a change moved."""
    return decide_averages(inputs.batch(), choice, by, authority_type=authority_type)


@dataclass(frozen=True)
class Decisions:
    """What one decision recorded: about the averages that moved, and about letters reworded
    since they were sent."""

    averages: tuple[AverageDecision, ...]
    wording: tuple[WordingDecision, ...]


def decide_all(
    inputs: Inputs, choice: str, by: str, *, reason: str = "", authority_type: str = ""
) -> Decisions:
    """The office's choice (keep or correct), once, for everything that waits for it: the
    averages a correction moved, and the letters sent whose wording reads otherwise now."""
    batch = inputs.batch()
    averages, reworded = waiting_decisions(batch, authority_type)
    if not averages and not reworded:
        raise InputError(
            "Nothing waits for a decision: no average has moved under letters already sent, "
            "and no letter sent reads otherwise now. The status shows where each letter stands."
        )
    if reworded and not reason.strip():
        raise InputError(
            "Say why (for example, a typo fixed in the template): the reason is kept on the "
            "record with each letter's decision."
        )
    made_averages = (
        decide_averages(batch, choice, by, authority_type=authority_type) if averages else []
    )
    made_wording = decide_wording(batch, choice, by, reason, authority_type=authority_type)
    return Decisions(tuple(made_averages), tuple(made_wording))


def queue(
    inputs: Inputs,
    *,
    corrections: Sequence[str] = (),
    reason: str = "",
    note: str = "",
    resends: Sequence[str] = (),
) -> QueueReport:
    """Queue a message for every approved letter not yet queued; `corrections` are councils
    already sent a letter whose changed letter goes as a correction, for `reason` (the
    office's record, never sent), telling the council `note`; `resends` go again, unchanged,
    to a corrected address."""
    asked = asked_corrections(corrections, reason, note)
    return queue_messages(inputs.batch(), asked, note, resends)


@dataclass(frozen=True)
class SendRequest:
    """What to send: every queued message, or test copies to `test_to` (of the councils in
    `only`, or all); at most `limit`; with `retry_failed`, those refused before too."""

    test_to: str | None = None
    only: tuple[str, ...] = ()
    limit: int | None = None
    retry_failed: bool = False

    def checked(self) -> SendRequest:
        """The request as it may be sent: councils are chosen for a test send only, and a test
        address is an email address."""
        if self.only and not self.test_to:
            raise InputError(
                "Choosing councils is for a test send: give the address the test copies go to "
                "as well, or send every queued message."
            )
        if self.test_to is None:
            return self
        try:
            address = validate_email(self.test_to, check_deliverability=False).normalized
        except EmailNotValidError as error:
            raise InputError(f"{self.test_to!r} is not an email address ({error}).") from None
        return SendRequest(address, self.only, self.limit, self.retry_failed)


def plan_send(settings: Settings, request: SendRequest) -> SendReport:
    """What a send would do, connecting to nothing and changing nothing."""
    return _send(settings, request, dry_run=True)


def send(
    settings: Settings,
    request: SendRequest,
    *,
    confirm: Callable[[SendPlan], bool] | None,
    on_progress: Progress = no_progress,
) -> SendReport:
    """Send (or test-send) what is queued; `confirm` sees the plan first and may say no. The
    password comes from LETTER_MERGE_SMTP_PASSWORD or the keyring, never from a file; with
    OAuth 2.0, from the sign-in."""
    password = None if settings.smtp.auth == "oauth2" else smtp_password(settings.smtp)
    return _send(settings, request, password=password, confirm=confirm, on_progress=on_progress)


def _send(settings: Settings, request: SendRequest, **how: Any) -> SendReport:
    request = request.checked()
    return send_messages(
        settings,
        test_to=request.test_to,
        only=request.only,
        limit=request.limit,
        retry_failed=request.retry_failed,
        **how,
    )


def settle(settings: Settings, outcome: str, only: Sequence[str] = ()) -> list[str]:
    """Settle messages whose send was cut off: "sent" (they arrived) or "retry"; those of the
    councils `only` names (a name or a unique part of one), or every one."""
    if outcome not in ("sent", "retry"):
        raise InputError(f"{outcome!r}: a send cut off is settled as 'sent' or 'retry'.")
    return resolve_in_doubt(settings, outcome, only)


def read_mailbox(settings: Settings, *, since: dt.date | None = None) -> DeliveryReport:
    """Read the sending mailbox once and record what came back about this year's letters."""
    return read_deliveries(settings, since=since)


def sign_in(settings: Settings) -> Tokens:
    """The OAuth 2.0 sign-in for sending that [oauth2] names."""
    return token_source(settings)


def mail_server(settings: Settings) -> str:
    """The mail server and how the connection to it is protected, in words."""
    return server_in_words(settings)
