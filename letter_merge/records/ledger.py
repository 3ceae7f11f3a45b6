"""The ledger: approvals and the send queue, in a SQLite database in `output/<year>/`.

Every change is committed at once, in WAL mode with synchronous=FULL, so that a process killed at
any moment leaves the ledger as it was after its last change: a message is marked "sending"
before it is handed to the server and "sent" after, never the other way round.
"""

from __future__ import annotations

import json
import logging
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from letter_merge.clock import now
from letter_merge.errors import InputError, LetterMergeError
from letter_merge.files import DiskFull
from letter_merge.paths import OutputPaths
from letter_merge.reasons import CHALLENGED
from letter_merge.sync import live_database, publish_database

log = logging.getLogger(__name__)

QUEUED, SENDING, SENT, FAILED = "queued", "sending", "sent", "failed"
WITHDRAWN = "withdrawn"  # replaced by a newer version of its letter before it was sent

# The ledger's layout is numbered (PRAGMA user_version). MIGRATIONS[n] takes a ledger from
# version n to n + 1; opening an older ledger for writing runs the steps it lacks, each in one
# transaction, so a ledger is never half-migrated. A change to the tables is a new step at the end.
MIGRATIONS: tuple[str, ...] = (
    # 1: approvals and the send queue. Ledgers made before versioning have these tables and
    # version 0, which IF NOT EXISTS makes harmless.
    """
    CREATE TABLE IF NOT EXISTS approvals (
        authority   TEXT PRIMARY KEY,
        pdf_path    TEXT NOT NULL,
        pdf_sha256  TEXT NOT NULL,
        approved_by TEXT NOT NULL,
        approved_at TEXT NOT NULL
    );
    CREATE TABLE IF NOT EXISTS messages (
        message_id  TEXT PRIMARY KEY,
        authority   TEXT NOT NULL,
        pdf_sha256  TEXT NOT NULL,
        eml_path    TEXT NOT NULL,
        recipients  TEXT NOT NULL,
        subject     TEXT NOT NULL,
        state       TEXT NOT NULL,
        queued_at   TEXT NOT NULL,
        updated_at  TEXT NOT NULL,
        attempts    INTEGER NOT NULL DEFAULT 0,
        last_reply  TEXT NOT NULL DEFAULT '',
        UNIQUE (authority, pdf_sha256)
    );
    """,
    # 2: nothing is overwritten. Every approval is kept (the current one is the latest), with
    # the reason when it was given despite the proof; a message may be a correction, keeps
    # when it was sent and the approval behind it, and one authority may have several;
    # every change of a message's state is an event.
    """
    CREATE TABLE approval_history (
        id            INTEGER PRIMARY KEY AUTOINCREMENT,
        authority     TEXT NOT NULL,
        pdf_path      TEXT NOT NULL,
        pdf_sha256    TEXT NOT NULL,
        approved_by   TEXT NOT NULL,
        approved_at   TEXT NOT NULL,
        despite_proof TEXT NOT NULL DEFAULT ''
    );
    INSERT INTO approval_history (authority, pdf_path, pdf_sha256, approved_by, approved_at)
        SELECT authority, pdf_path, pdf_sha256, approved_by, approved_at FROM approvals
        ORDER BY approved_at;
    DROP TABLE approvals;
    CREATE TABLE messages_2 (
        message_id  TEXT PRIMARY KEY,
        authority   TEXT NOT NULL,
        pdf_sha256  TEXT NOT NULL,
        eml_path    TEXT NOT NULL,
        recipients  TEXT NOT NULL,
        subject     TEXT NOT NULL,
        state       TEXT NOT NULL,
        queued_at   TEXT NOT NULL,
        updated_at  TEXT NOT NULL,
        attempts    INTEGER NOT NULL DEFAULT 0,
        last_reply  TEXT NOT NULL DEFAULT '',
        sent_at     TEXT NOT NULL DEFAULT '',
        correction  TEXT NOT NULL DEFAULT '',
        approval_id INTEGER REFERENCES approval_history (id)
    );
    INSERT INTO messages_2 (message_id, authority, pdf_sha256, eml_path, recipients, subject,
            state, queued_at, updated_at, attempts, last_reply, sent_at, approval_id)
        SELECT m.message_id, m.authority, m.pdf_sha256, m.eml_path, m.recipients, m.subject,
            m.state, m.queued_at, m.updated_at, m.attempts, m.last_reply,
            CASE WHEN m.state = 'sent' THEN m.updated_at ELSE '' END,
            (SELECT max(a.id) FROM approval_history a
                WHERE a.authority = m.authority AND a.pdf_sha256 = m.pdf_sha256)
        FROM messages m;
    DROP TABLE messages;
    ALTER TABLE messages_2 RENAME TO messages;
    CREATE INDEX messages_by_authority ON messages (authority);
    CREATE TABLE events (
        id          INTEGER PRIMARY KEY AUTOINCREMENT,
        at          TEXT NOT NULL,
        authority   TEXT NOT NULL,
        message_id  TEXT NOT NULL DEFAULT '',
        event       TEXT NOT NULL,
        detail      TEXT NOT NULL DEFAULT ''
    );
    INSERT INTO events (at, authority, message_id, event, detail)
        SELECT queued_at, authority, message_id, 'queued', '' FROM messages;
    """,
    # 3: what came back to the sending mailbox (delivery reports, automatic replies, replies),
    # each kept once however often the mailbox is read; and a message may re-send a letter to
    # a corrected address after its first one bounced.
    """
    CREATE TABLE deliveries (
        id          INTEGER PRIMARY KEY AUTOINCREMENT,
        report      TEXT NOT NULL,
        recipient   TEXT NOT NULL DEFAULT '',
        kind        TEXT NOT NULL,
        found_at    TEXT NOT NULL,
        dated       TEXT NOT NULL DEFAULT '',
        authority   TEXT NOT NULL DEFAULT '',
        message_id  TEXT NOT NULL DEFAULT '',
        matched_by  TEXT NOT NULL DEFAULT '',
        status      TEXT NOT NULL DEFAULT '',
        diagnostic  TEXT NOT NULL DEFAULT '',
        sender      TEXT NOT NULL DEFAULT '',
        subject     TEXT NOT NULL DEFAULT '',
        words       TEXT NOT NULL DEFAULT '',
        place       TEXT NOT NULL DEFAULT '',
        UNIQUE (report, recipient, kind)
    );
    CREATE INDEX deliveries_by_authority ON deliveries (authority);
    ALTER TABLE messages ADD COLUMN resend_of TEXT NOT NULL DEFAULT '';
    """,
    # 4: why a letter did not arrive, in staff's words (mail/reasons.py: "address unknown").
    """
    ALTER TABLE deliveries ADD COLUMN reason TEXT NOT NULL DEFAULT '';
    """,
    # 5: what each message's letter states (its words and pictures, as a fingerprint, and its
    # figures), so that whether a letter would differ now is asked of what was sent, never of
    # a PDF's bytes; and the readings of the sending mailbox.
    """
    ALTER TABLE messages ADD COLUMN statement TEXT NOT NULL DEFAULT '';
    ALTER TABLE messages ADD COLUMN figures TEXT NOT NULL DEFAULT '';
    CREATE TABLE mailbox_readings (
        id          INTEGER PRIMARY KEY AUTOINCREMENT,
        at          TEXT NOT NULL,
        messages    INTEGER NOT NULL
    );
    """,
    # 6: each message's letter's paragraphs, packed small (words.packed), and the template it
    # was made from, so that a letter reworded since it was sent says which paragraphs read
    # otherwise now, and whether a template change did it.
    """
    ALTER TABLE messages ADD COLUMN paragraphs TEXT NOT NULL DEFAULT '';
    ALTER TABLE messages ADD COLUMN template TEXT NOT NULL DEFAULT '';
    """,
)
SCHEMA_VERSION = len(MIGRATIONS)


@dataclass(frozen=True)
class Approval:
    """Someone looked at this exact PDF (by its SHA-256) and approved it."""

    authority: str
    pdf_path: str
    pdf_sha256: str
    approved_by: str
    approved_at: str
    despite_proof: str = ""  # why it was approved although its proof failed or is missing
    id: int = 0  # its number in the ledger, once recorded


@dataclass(frozen=True)
class Message:
    message_id: str
    authority: str
    pdf_sha256: str
    eml_path: str
    recipients: tuple[str, ...]
    subject: str
    state: str
    queued_at: str
    updated_at: str
    attempts: int
    last_reply: str
    sent_at: str = ""
    correction: str = ""  # the reason, when it corrects a letter already sent
    approval_id: int | None = None
    resend_of: str = ""  # the message whose copy bounced, when this re-sends the same letter
    statement: str = ""  # what its letter states (template/statement.py); "" if not kept
    figures: dict[str, int | None] | None = None  # the figures its letter states (None: not kept)
    paragraphs: str = ""  # its letter's paragraphs, packed (words.packed); "" if not kept
    template: str = ""  # the template its letter was made from (records/sources.py); "" if not kept


@dataclass(frozen=True)
class Delivery:
    """One thing the sending mailbox said about a message (or about none of this batch's):
    bounced, delayed, delivered, an automatic reply, a reply, or a report nobody could read."""

    report: str  # the report's identity: its Message-ID, else a digest of its bytes
    recipient: str
    kind: str
    found_at: str
    dated: str = ""  # the report's own Date
    authority: str = ""  # "" when it matches no letter of this batch
    message_id: str = ""  # the letter's message it is about
    matched_by: str = ""  # "message-id" or "recipient"
    status: str = ""  # enhanced status code, e.g. 5.1.1
    diagnostic: str = ""  # the server's words
    sender: str = ""
    subject: str = ""
    words: str = ""  # a reply's first lines
    place: str = ""  # where it is in the mailbox
    reason: str = ""  # why it did not arrive, e.g. "address unknown" (mail/reasons.py)

    def summary(self) -> str:
        """In words, for the history: 'bounced for ce@x.gov.uk: 5.1.1 (550 5.1.1 User unknown)'."""
        words = {
            "bounced": "did not arrive",
            "delayed": "delayed (the mail system is still trying)",
            "delivered": "delivered (the receiving server said so)",
            "auto-reply": "an automatic reply",
            "reply": "a reply",
            "complaint": "marked as junk by the recipient",
            "challenge": "held by a filter that asks the sender to confirm",
        }.get(self.kind, self.kind)
        about = f" for {self.recipient}" if self.recipient else ""
        if self.kind in ("auto-reply", "reply"):
            about = f" from {self.sender}" if self.sender else ""
        detail = " ".join(
            p
            for p in (
                f"{self.reason}," if self.reason and self.kind == "bounced" else "",
                self.status,
                f"({self.diagnostic})" if self.diagnostic else "",
            )
            if p
        )
        quoted = f': "{self.words}"' if self.words else ""
        then = f". {CHALLENGED.next_step}" if self.kind == "challenge" else ""
        return f"{words}{about}{': ' + detail if detail else ''}{quoted}{then}"


DELIVERY_COLUMNS = (
    "report, recipient, kind, found_at, dated, authority, message_id, matched_by, status, "
    "diagnostic, sender, subject, words, place, reason"
)


@dataclass(frozen=True)
class Event:
    """One thing that happened to a council's messages: queued, sent, failed, retried, ..."""

    at: str
    authority: str
    message_id: str
    event: str
    detail: str


MESSAGE_COLUMNS = (
    "message_id, authority, pdf_sha256, eml_path, recipients, subject, state, queued_at, "
    "updated_at, attempts, last_reply, sent_at, correction, approval_id, resend_of, statement, "
    "figures, paragraphs, template"
)
APPROVAL_COLUMNS = "authority, pdf_path, pdf_sha256, approved_by, approved_at, despite_proof, id"


def open_ledger(paths: OutputPaths, *, read_only: bool = False) -> Ledger:
    """The year's ledger. In a folder a sync client keeps (OneDrive, SharePoint, ...), the live
    ledger is this computer's own unsynced copy, and each change puts a whole copy in the folder
    (see sync.py); a read-only open writes nothing anywhere."""
    live, publish = live_database(paths.ledger, read_only=read_only)
    return Ledger(live, read_only=read_only, publish=publish)


class Ledger:
    """The ledger at `path`. `read_only` opens it without writing a byte (a dry run); a ledger
    that does not exist yet then reads as empty."""

    def __init__(self, path: Path, *, read_only: bool = False, publish: Path | None = None) -> None:
        self.path = path
        self.read_only = read_only
        self.publish = publish  # a synced folder's copy, put there whole after every change
        try:
            if read_only and not path.exists():
                self._db = sqlite3.connect(":memory:", isolation_level=None)
                self._migrate()
            elif read_only:
                # With no write-ahead log beside it (every writer leaves none when it closes),
                # the file is opened as immutable: SQLite then creates no -wal or -shm file
                # either. With one, a writer may be busy: read through its log.
                wal = path.with_name(f"{path.name}-wal")
                mode = "mode=ro" if wal.exists() else "mode=ro&immutable=1"
                self._db = sqlite3.connect(
                    f"{path.resolve().as_uri()}?{mode}", uri=True, isolation_level=None
                )
                if self._check_version() < SCHEMA_VERSION:
                    # Written by an earlier letter-merge: read a copy brought up to date in
                    # memory (the file itself is brought up to date by the next change).
                    memory = sqlite3.connect(":memory:", isolation_level=None)
                    self._db.backup(memory)
                    self._db.close()
                    self._db = memory
                    self._migrate()
            else:
                path.parent.mkdir(parents=True, exist_ok=True)
                self._db = sqlite3.connect(path, isolation_level=None, timeout=30)
                self._db.execute("PRAGMA journal_mode=WAL")
                self._db.execute("PRAGMA synchronous=FULL")
                self._migrate()
                if publish is not None and not publish.exists():
                    self._publish()
        except sqlite3.DatabaseError as error:
            raise InputError(
                f"{path}: the ledger cannot be opened ({error}); restore it from a backup."
            ) from None

    def _check_version(self) -> int:
        version = int(self._db.execute("PRAGMA user_version").fetchone()[0])
        if version > SCHEMA_VERSION:
            raise InputError(
                f"{self.path}: the ledger was written by a newer letter-merge (layout {version}, "
                f"this one knows up to {SCHEMA_VERSION}); update letter-merge."
            )
        return version

    def _migrate(self) -> None:
        for number in range(self._check_version(), SCHEMA_VERSION):
            self._db.executescript(
                f"BEGIN IMMEDIATE; {MIGRATIONS[number]} PRAGMA user_version = {number + 1}; COMMIT;"
            )

    def _publish(self) -> None:
        """After a change in a synced folder, a whole copy of the ledger put there in one step
        (see sync.publish_database)."""
        if self.publish is not None:
            publish_database(self._db, self.path, self.publish)

    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> Ledger:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        if self.read_only:
            raise RuntimeError("a read-only ledger was asked to change")  # a bug, not a user's
        try:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield self._db
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")
        except sqlite3.OperationalError as error:
            raise self._cannot_write(error) from None
        self._publish()

    def _cannot_write(self, error: sqlite3.OperationalError) -> LetterMergeError:
        """What a failed change means for staff. SQLite rolled the change back whole."""
        words = str(error)
        if "full" in words:
            return DiskFull(self.path.parent)
        if "locked" in words or "busy" in words:
            return LetterMergeError(
                f"{self.path} is held by another program (another letter-merge, or a sync "
                "client such as OneDrive copying it), so nothing was changed. Wait a moment or "
                "close that program, then run the command again."
            )
        return LetterMergeError(
            f"{self.path} cannot be changed ({words}); nothing was changed. Check the folder "
            "is writable, then run the command again."
        )

    # approvals: added, never changed

    def approve(self, approvals: list[Approval]) -> None:
        with self._transaction() as db:
            db.executemany(
                "INSERT INTO approval_history (authority, pdf_path, pdf_sha256, approved_by,"
                " approved_at, despite_proof) VALUES (?, ?, ?, ?, ?, ?)",
                [
                    (
                        a.authority,
                        a.pdf_path,
                        a.pdf_sha256,
                        a.approved_by,
                        a.approved_at,
                        a.despite_proof,
                    )
                    for a in approvals
                ],
            )

    def approvals(self) -> dict[str, Approval]:
        """Each authority's current approval: its latest."""
        rows = self._db.execute(
            f"SELECT {APPROVAL_COLUMNS} FROM approval_history ORDER BY id"
        ).fetchall()
        return {row[0]: Approval(*row) for row in rows}

    def approval_history(self, authority: str | None = None) -> list[Approval]:
        query = f"SELECT {APPROVAL_COLUMNS} FROM approval_history"
        rows = (
            self._db.execute(query + " WHERE authority = ? ORDER BY id", (authority,))
            if authority is not None
            else self._db.execute(query + " ORDER BY id")
        ).fetchall()
        return [Approval(*row) for row in rows]

    # messages: added; their state changes, and every change is an event

    def add_message(
        self,
        *,
        message_id: str,
        authority: str,
        pdf_sha256: str,
        eml_path: str,
        recipients: tuple[str, ...],
        subject: str,
        approval_id: int | None = None,
        correction: str = "",
        resend_of: str = "",
        statement: str = "",
        figures: dict[str, int | None] | None = None,
        paragraphs: str = "",
        template: str = "",
    ) -> None:
        stamp = now()
        with self._transaction() as db:
            db.execute(
                f"INSERT INTO messages ({MESSAGE_COLUMNS}) VALUES"
                " (?, ?, ?, ?, ?, ?, ?, ?, ?, 0, '', '', ?, ?, ?, ?, ?, ?, ?)",
                (
                    message_id,
                    authority,
                    pdf_sha256,
                    eml_path,
                    json.dumps(list(recipients)),
                    subject,
                    QUEUED,
                    stamp,
                    stamp,
                    correction,
                    approval_id,
                    resend_of,
                    statement,
                    "" if figures is None else json.dumps(figures),
                    paragraphs,
                    template,
                ),
            )
            detail = f"correction: {correction}" if correction else ""
            if resend_of:
                detail = (
                    f"re-sent to {', '.join(recipients)}: the letter sent as {resend_of}, unchanged"
                )
            _event(db, stamp, authority, message_id, "queued", detail)

    def messages(self, *states: str, authority: str | None = None) -> list[Message]:
        query = f"SELECT {MESSAGE_COLUMNS} FROM messages"
        conditions, values = [], list(states)
        if states:
            conditions.append(f"state IN ({', '.join('?' * len(states))})")
        if authority is not None:
            conditions.append("authority = ?")
            values.append(authority)
        if conditions:
            query += " WHERE " + " AND ".join(conditions)
        rows = self._db.execute(query + " ORDER BY queued_at, rowid", values).fetchall()
        return [_message(row) for row in rows]

    def set_state(
        self,
        message_id: str,
        state: str,
        *,
        reply: str | None = None,
        attempt: bool = False,
        event: str | None = None,
    ) -> None:
        """Move a message to `state`, recording it as an event (`event` names it, if the state
        alone does not say what happened)."""
        stamp = now()
        with self._transaction() as db:
            db.execute(
                "UPDATE messages SET state = ?, updated_at = ?,"
                " last_reply = COALESCE(?, last_reply), attempts = attempts + ?,"
                " sent_at = CASE WHEN ? = 'sent' THEN ? ELSE sent_at END"
                " WHERE message_id = ?",
                (state, stamp, reply, int(attempt), state, stamp, message_id),
            )
            row = db.execute(
                "SELECT authority FROM messages WHERE message_id = ?", (message_id,)
            ).fetchone()
            if row is not None:
                _event(db, stamp, row[0], message_id, event or state, reply or "")

    def record(self, authority: str, event: str, detail: str = "", message_id: str = "") -> None:
        """An event that changes no message (a test copy sent, a send refused by its checks)."""
        with self._transaction() as db:
            _event(db, now(), authority, message_id, event, detail)

    # deliveries: what came back, each kept once; never changed

    def add_deliveries(self, found: list[Delivery]) -> list[Delivery]:
        """Record what the mailbox said; what is recorded already (the same report about the
        same recipient) is left as it is. Returns what was new. A report about one of this
        batch's messages is an event in its council's history too."""
        added = []
        with self._transaction() as db:
            for delivery in found:
                cursor = db.execute(
                    f"INSERT OR IGNORE INTO deliveries ({DELIVERY_COLUMNS}) VALUES"
                    " (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (
                        delivery.report,
                        delivery.recipient,
                        delivery.kind,
                        delivery.found_at,
                        delivery.dated,
                        delivery.authority,
                        delivery.message_id,
                        delivery.matched_by,
                        delivery.status,
                        delivery.diagnostic,
                        delivery.sender,
                        delivery.subject,
                        delivery.words,
                        delivery.place,
                        delivery.reason,
                    ),
                )
                if cursor.rowcount:
                    added.append(delivery)
                    if delivery.authority:
                        _event(
                            db,
                            delivery.found_at,
                            delivery.authority,
                            delivery.message_id,
                            delivery.kind,
                            delivery.summary(),
                        )
        return added

    def remember_statement(
        self, message_id: str, statement: str, figures: dict[str, int | None]
    ) -> None:
        """What the letter of a message sent before the ledger kept it states (once)."""
        with self._transaction() as db:
            db.execute(
                "UPDATE messages SET statement = ?, figures = ? WHERE message_id = ? "
                "AND statement = ''",
                (statement, json.dumps(figures), message_id),
            )

    def mailbox_read(self, messages: int) -> None:
        """The sending mailbox was read (`messages` in it): what came back is known as of now."""
        with self._transaction() as db:
            db.execute(
                "INSERT INTO mailbox_readings (at, messages) VALUES (?, ?)", (now(), messages)
            )

    def mailbox_readings(self) -> list[str]:
        """When the sending mailbox was read, oldest first."""
        return [
            str(row[0]) for row in self._db.execute("SELECT at FROM mailbox_readings ORDER BY id")
        ]

    def deliveries(self, authority: str | None = None) -> list[Delivery]:
        query = f"SELECT {DELIVERY_COLUMNS} FROM deliveries"
        rows = (
            self._db.execute(query + " WHERE authority = ? ORDER BY id", (authority,))
            if authority is not None
            else self._db.execute(query + " ORDER BY id")
        ).fetchall()
        return [Delivery(*row) for row in rows]

    def events(self, authority: str | None = None) -> list[Event]:
        query = "SELECT at, authority, message_id, event, detail FROM events"
        rows = (
            self._db.execute(query + " WHERE authority = ? ORDER BY id", (authority,))
            if authority is not None
            else self._db.execute(query + " ORDER BY id")
        ).fetchall()
        return [Event(*row) for row in rows]


def _event(
    db: sqlite3.Connection, at: str, authority: str, message_id: str, event: str, detail: str
) -> None:
    db.execute(
        "INSERT INTO events (at, authority, message_id, event, detail) VALUES (?, ?, ?, ?, ?)",
        (at, authority, message_id, event, detail),
    )


def _message(row: tuple[object, ...]) -> Message:
    values = list(row)
    values[4] = tuple(json.loads(str(values[4])))
    values[-3] = json.loads(str(values[-3])) if values[-3] else None
    return Message(*values)  # type: ignore[arg-type]
