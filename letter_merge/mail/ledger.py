"""The ledger: approvals and the send queue, in a SQLite database in `output/<year>/`.

Every change is committed at once, in WAL mode with synchronous=FULL, so that a process killed at
any moment leaves the ledger as it was after its last change: a message is marked "sending"
before it is handed to the server and "sent" after, never the other way round.
"""

from __future__ import annotations

import datetime as dt
import json
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from letter_merge.errors import InputError
from letter_merge.paths import OutputPaths

QUEUED, SENDING, SENT, FAILED = "queued", "sending", "sent", "failed"

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
)
SCHEMA_VERSION = len(MIGRATIONS)


@dataclass(frozen=True)
class Approval:
    authority: str
    pdf_path: str
    pdf_sha256: str
    approved_by: str
    approved_at: str


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


def open_ledger(paths: OutputPaths, *, read_only: bool = False) -> Ledger:
    return Ledger(paths.ledger, read_only=read_only)


def now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds")


class Ledger:
    """The ledger at `path`. `read_only` opens it without writing a byte (a dry run); a ledger
    that does not exist yet then reads as empty."""

    def __init__(self, path: Path, *, read_only: bool = False) -> None:
        self.path = path
        self.read_only = read_only
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
                self._check_version()
            else:
                path.parent.mkdir(parents=True, exist_ok=True)
                self._db = sqlite3.connect(path, isolation_level=None, timeout=30)
                self._db.execute("PRAGMA journal_mode=WAL")
                self._db.execute("PRAGMA synchronous=FULL")
                self._migrate()
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
        self._db.execute("BEGIN IMMEDIATE")
        try:
            yield self._db
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        self._db.execute("COMMIT")

    # approvals

    def approve(self, approvals: list[Approval]) -> None:
        with self._transaction() as db:
            db.executemany(
                "INSERT OR REPLACE INTO approvals VALUES (?, ?, ?, ?, ?)",
                [
                    (a.authority, a.pdf_path, a.pdf_sha256, a.approved_by, a.approved_at)
                    for a in approvals
                ],
            )

    def approvals(self) -> dict[str, Approval]:
        rows = self._db.execute("SELECT * FROM approvals").fetchall()
        return {row[0]: Approval(*row) for row in rows}

    # messages

    def add_message(
        self,
        *,
        message_id: str,
        authority: str,
        pdf_sha256: str,
        eml_path: str,
        recipients: tuple[str, ...],
        subject: str,
    ) -> None:
        stamp = now()
        with self._transaction() as db:
            db.execute(
                "INSERT INTO messages (message_id, authority, pdf_sha256, eml_path, recipients,"
                " subject, state, queued_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
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
                ),
            )

    def message_for(self, authority: str, pdf_sha256: str) -> Message | None:
        row = self._db.execute(
            "SELECT * FROM messages WHERE authority = ? AND pdf_sha256 = ?",
            (authority, pdf_sha256),
        ).fetchone()
        return _message(row) if row else None

    def messages(self, *states: str) -> list[Message]:
        query = "SELECT * FROM messages"
        if states:
            query += f" WHERE state IN ({', '.join('?' * len(states))})"
        rows = self._db.execute(query + " ORDER BY queued_at, rowid", states).fetchall()
        return [_message(row) for row in rows]

    def set_state(
        self, message_id: str, state: str, *, reply: str | None = None, attempt: bool = False
    ) -> None:
        with self._transaction() as db:
            db.execute(
                "UPDATE messages SET state = ?, updated_at = ?,"
                " last_reply = COALESCE(?, last_reply), attempts = attempts + ?"
                " WHERE message_id = ?",
                (state, now(), reply, int(attempt), message_id),
            )


def _message(row: tuple[object, ...]) -> Message:
    values = list(row)
    values[4] = tuple(json.loads(str(values[4])))
    return Message(*values)  # type: ignore[arg-type]
