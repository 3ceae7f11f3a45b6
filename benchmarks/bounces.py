"""How well the report reader reads real bounces: run it over a collection of real messages with
their expected answers and print the figures issue 31 names.

    .venv/bin/python benchmarks/bounces.py COLLECTION [EXPECTED.json]

COLLECTION is a folder of messages (sisimai's set-of-emails `maildir/`, whose `bsd/`, `dos/` and
`mac/` hold the same kinds of messages with each line ending); EXPECTED maps each message's path
below it to what sisimai (a well-known bounce parser) finds in it, one row a recipient: recipient,
action, status, reason and the original's Message-ID. `bounces_expected.json` beside this script
holds that for set-of-emails' maildir, with two corrections: sisimai calls every "expired"
delayed, here a report that says its delivery failed is a failure and a delay warning a delay;
and a Message-ID sisimai made up (from a queue id) is not one the report carries. tests/data/bounces/ holds a copy of some of those messages
with their expected answers, and tests/test_bounces.py asserts the same bars on them.

tests/data/bounces_more/ holds real messages from four other collections (flufl.bounce,
Mail::DeliveryStatus::BounceParser, bounce_email, PHP Bounce Handler) with their own
expected.json (give both: COLLECTION tests/data/bounces_more, EXPECTED its expected.json), where
a row's action may also be "reply" (an automatic or personal reply: never a failure) or
"challenge" (a challenge-response), and a third of the messages are marked held out: the figures
are printed for the messages the rules were written against and, apart, for those held out.
"""

from __future__ import annotations

import json
import re
import sys
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from letter_merge.mail.inbox.reports.reading import (
    AUTO_REPLY,
    BOUNCED,
    CHALLENGE,
    COMPLAINT,
    DELAYED,
    REPLY,
    UNREADABLE,
    Report,
    read_report,
)

EXPECTED = Path(__file__).with_name("bounces_expected.json")


@dataclass
class Figures:
    """The counts behind the figures, and the messages behind each miss."""

    messages: int = 0
    servers: set[str] = field(default_factory=set)
    failures: int = 0  # final failures: one a recipient
    recipient_right: int = 0
    with_id: int = 0  # reports that carry the original's Message-ID
    id_found: int = 0
    failures_as_replies: int = 0
    replies: int = 0  # automatic or personal replies the expected answers name as such
    replies_as_failures: int = 0
    replies_read: int = 0  # read as an automatic or a personal reply
    challenges: int = 0  # challenge-responses: "confirm you are a person"
    challenges_named: int = 0
    confused: int = 0  # a delay read as a failure, or a failure as a delay
    complaints: int = 0
    complaints_named: int = 0
    tracebacks: int = 0
    reasons: int = 0  # failures whose reason sisimai names in a way ours can be held to
    reasons_agree: int = 0
    auto_replies: int = 0  # RFC 3834 automatic replies in the collection
    auto_replies_read: int = 0
    misses: dict[str, list[str]] = field(default_factory=dict)

    def miss(self, what: str, name: str) -> None:
        self.misses.setdefault(what, []).append(name)

    def lines(self) -> list[str]:
        def per_100(part: int, whole: int) -> str:
            return f"{100 * part / whole:.1f}" if whole else "-"

        return [
            f"messages read: {self.messages}, from {len(self.servers)} kinds of server",
            f"failed recipient right: {self.recipient_right}/{self.failures} final failures "
            f"({per_100(self.recipient_right, self.failures)} per 100)",
            f"original Message-ID found: {self.id_found}/{self.with_id} reports that carry it "
            f"({per_100(self.id_found, self.with_id)} per 100)",
            f"final failures read as automatic or personal replies: {self.failures_as_replies}",
            f"replies read as failures or delays: {self.replies_as_failures}/{self.replies}",
            f"replies read as replies: {self.replies_read}/{self.replies}",
            f"challenge-responses named: {self.challenges_named}/{self.challenges}",
            f"delays and failures confused: {self.confused}",
            f"spam complaints named: {self.complaints_named}/{self.complaints}",
            f"tracebacks: {self.tracebacks}",
            f"automatic replies read as such: {self.auto_replies_read}/{self.auto_replies}",
            f"reason as sisimai names it: {self.reasons_agree}/{self.reasons} failures "
            f"({per_100(self.reasons_agree, self.reasons)} per 100; for information, no bar)",
        ]


def score(messages: dict[str, bytes], expected: dict[str, list[dict[str, str]]]) -> Figures:
    """The figures for these messages (path -> raw bytes) against their expected answers."""
    figures = Figures()
    for name, raw in sorted(messages.items()):
        rows = expected.get(name)
        if rows is None:
            continue
        figures.messages += 1
        figures.servers.add(_server(name))
        report = read_report(raw)
        if report.problem.startswith(UNREADABLE):  # read_report's last guard caught a fault
            figures.tracebacks += 1
            figures.miss("traceback", name)
        _score_one(figures, name, rows, report)
    return figures


# sisimai's reasons, as mail/reasons.py folds them (its "onhold" and "undefined" say nothing);
# its "filtered" is "refused by a filter, or an unknown user the filter hid", and its
# "securityerror" a refusal that is often the sender's authentication.
AMBIGUOUS_REASONS = {
    "filtered": ("refused as spam or by policy", "address unknown"),
    "securityerror": ("refused as spam or by policy", "sender not authenticated"),
}
SISIMAI_REASONS = {
    "userunknown": "address unknown",
    "hasmoved": "address unknown",
    "hostunknown": "domain not found",
    "suspend": "mailbox closed",
    "mailboxfull": "mailbox full",
    "mesgtoobig": "message too big",
    "exceedlimit": "message too big",
    "authfailure": "sender not authenticated",
    "requireptr": "sender not authenticated",
    "expired": "expired after retries",
    **dict.fromkeys(
        "blocked spamdetected policyviolation rejected badreputation norelaying "
        "virusdetected contenterror notcompliantrfc".split(),
        "refused as spam or by policy",
    ),
    **dict.fromkeys(
        "networkerror systemerror systemfull mailererror toomanyconn speeding notaccept "
        "syntaxerror".split(),
        "server or network trouble",
    ),
}


def _score_one(figures: Figures, name: str, rows: list[dict[str, str]], report: Report) -> None:
    # The address we sent to counts as well as the one the server delivered to (an alias).
    found = {f.original_recipient: f.kind for f in report.findings if f.original_recipient}
    found |= {f.recipient: f.kind for f in report.findings}
    reasons = {f.recipient: f.reason for f in report.findings}
    if not rows and "/rfc3834-" in name:
        figures.auto_replies += 1
        figures.auto_replies_read += report.kind == AUTO_REPLY
    actions = {r["action"] for r in rows}
    if "reply" in actions:
        figures.replies += 1
        figures.replies_read += report.kind in (AUTO_REPLY, REPLY)
        if report.kind in (BOUNCED, DELAYED):
            figures.replies_as_failures += 1
            figures.miss("reply read as a failure", name)
    if "challenge" in actions:
        figures.challenges += 1
        if report.kind == CHALLENGE:
            figures.challenges_named += 1
        else:
            figures.miss("challenge-response", name)
    failed = [r for r in rows if r["action"] == "failed" and r.get("reason") != "feedback"]
    if failed and report.kind in (AUTO_REPLY, REPLY, CHALLENGE):
        figures.failures_as_replies += 1
        figures.miss("failure read as a reply", name)
    for row in (r for r in failed if r["recipient"]):  # some reports name no address
        figures.failures += 1
        if found.get(row["recipient"].lower()) == BOUNCED:
            figures.recipient_right += 1
        else:
            figures.miss("recipient", name)
        said = row.get("reason", "")
        accepted = AMBIGUOUS_REASONS.get(said) or (SISIMAI_REASONS.get(said),)
        if accepted[0]:
            figures.reasons += 1
            figures.reasons_agree += reasons.get(row["recipient"].lower()) in accepted
    for row in rows:
        said_kind = found.get(row["recipient"].lower(), report.kind)
        if (row["action"] == "failed" and said_kind == DELAYED) or (
            row["action"] == "delayed" and said_kind == BOUNCED
        ):
            figures.confused += 1
            figures.miss("delay/failure confused", name)
        if row.get("reason") == "feedback":
            figures.complaints += 1
            if report.kind == COMPLAINT:
                figures.complaints_named += 1
            else:
                figures.miss("complaint", name)
    ids = {r["messageid"] for r in rows if r.get("messageid") and r["action"] != "delivered"}
    for message_id in ids:
        figures.with_id += 1
        if f"<{message_id}>" in report.original_ids:
            figures.id_found += 1
        else:
            figures.miss("message-id", name)


def _server(name: str) -> str:
    """The kind of server, from a file's name: "lhost-postfix-01.eml", "postfix_01.txt"."""
    return re.split(r"[-_]\d+$", Path(name).stem)[0]


def load_expected(path: Path) -> tuple[dict[str, list[dict[str, str]]], set[str]]:
    """The expected answers, and the messages held out (kept apart from the rules' writing).
    A file maps each message either to its rows, or to {"rows": [...], "held_out": bool}."""
    expected: dict[str, list[dict[str, str]]] = {}
    held_out: set[str] = set()
    for name, entry in json.loads(path.read_text("utf-8")).items():
        if isinstance(entry, dict):
            expected[name] = entry["rows"]
            if entry.get("held_out"):
                held_out.add(name)
        else:
            expected[name] = entry
    return expected, held_out


def main(argv: list[str]) -> int:
    if not argv or len(argv) > 2:
        print(__doc__)
        return 2
    collection = Path(argv[0])
    expected, held_out = load_expected(Path(argv[1] if len(argv) > 1 else EXPECTED))
    messages = {
        path.relative_to(collection).as_posix(): path.read_bytes()
        for path in collection.rglob("*")
        if path.is_file()
    }
    parts = {"": expected}
    if held_out:
        parts = {
            "development (the rules were written against these)": {
                n: r for n, r in expected.items() if n not in held_out
            },
            "held out (kept apart while the rules were written)": {
                n: r for n, r in expected.items() if n in held_out
            },
        }
    for title, part in parts.items():
        if title:
            print(f"\n== {title}")
        figures = score(messages, part)
        for line in figures.lines():
            print(line)
        for what, names in figures.misses.items():
            counts = Counter(names)
            print(f"\n{what}: {len(names)}")
            for name, count in sorted(counts.items()):
                print(f"  {name}" + (f" ({count})" if count > 1 else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
