"""Working folders that OneDrive, SharePoint (through OneDrive), Dropbox, Google Drive or iCloud
keep in sync, as office files usually are.

A sync client copies a file whenever it changes, and may copy a SQLite database between two of
its writes, or its write-ahead log apart from it; SQLite's own guidance is not to keep a live
database where something else copies it. When two PCs change the same file before the sync
catches up, the client keeps both: the second as a conflict copy beside it ("ledger-DESKTOP-
1A2B.sqlite", "ledger (1).sqlite", "ledger (Sam's conflicted copy).sqlite").

So in such a folder the live ledger is kept in this computer's own application data, unsynced,
and after every change a whole copy of it is put in the folder in one step (records/ledger.py):
whatever the client copies is a whole ledger. A conflict copy of the ledger means some approvals
or sends may be recorded only in it: nothing is approved, queued or sent until a person has
looked (see `conflict_copies`).
"""

from __future__ import annotations

import hashlib
import logging
import os
import platform
import re
import sqlite3
import sys
import tempfile
from collections.abc import Callable, Mapping
from pathlib import Path, PurePath

from filelock import FileLock

from letter_merge.environment import STATE_DIR, SYNCED
from letter_merge.errors import LetterMergeError
from letter_merge.files import sha256_file, write_atomic

log = logging.getLogger(__name__)

# Where Windows says OneDrive keeps its folders (personal, work or school).
ONEDRIVE_VARIABLES = ("OneDrive", "OneDriveCommercial", "OneDriveConsumer")
# Every folder OneDrive syncs on Windows, SharePoint libraries included, with the address it
# comes from (sharepoint.com for a SharePoint library).
SYNC_ENGINES = r"Software\SyncEngines\Providers\OneDrive"
# Folder names the clients give the folders they sync.
CLIENT_FOLDERS = (
    (re.compile(r"^OneDrive( - .+|-.+)?$", re.IGNORECASE), "OneDrive"),
    (re.compile(r"^Dropbox( \(.+\))?$", re.IGNORECASE), "Dropbox"),
    (re.compile(r"^(Google Drive|My Drive|GoogleDrive-.+)$", re.IGNORECASE), "Google Drive"),
    (re.compile(r"^com~apple~CloudDocs$"), "iCloud Drive"),
)
# The records that must never exist twice, and the shapes of the copies sync clients make.
RECORDS = ("ledger.sqlite", "manifest.json", "decisions.json", "wording-decisions.json")

SyncedFolders = Callable[[], list[tuple[str, str]]]  # (folder, what syncs it)


def _onedrive_folders() -> list[tuple[str, str]]:
    """The folders OneDrive syncs on this Windows PC, from the registry (none elsewhere)."""
    if sys.platform != "win32":
        return []
    import winreg

    found = []
    try:
        with winreg.OpenKey(winreg.HKEY_CURRENT_USER, SYNC_ENGINES) as providers:
            for index in range(winreg.QueryInfoKey(providers)[0]):
                name = winreg.EnumKey(providers, index)
                with winreg.OpenKey(providers, name) as provider:
                    try:
                        mount = str(winreg.QueryValueEx(provider, "MountPoint")[0])
                        url = str(winreg.QueryValueEx(provider, "UrlNamespace")[0])
                    except OSError:
                        continue
                what = "SharePoint (synced by OneDrive)" if "sharepoint" in url else "OneDrive"
                found.append((mount, what))
    except OSError:
        return []
    return found


def synced_by(
    folder: Path,
    environ: Mapping[str, str] | None = None,
    synced_folders: SyncedFolders = _onedrive_folders,
) -> str:
    """What keeps `folder` in sync ("OneDrive", "SharePoint (synced by OneDrive)", "Dropbox",
    "Google Drive", "iCloud Drive"), or "" when nothing is known to. LETTER_MERGE_SYNCED names
    one where it cannot be told (any other tool), or says "no"."""
    environ = os.environ if environ is None else environ
    said = environ.get(SYNCED, "").strip()
    if said:
        return "" if said.casefold() in ("no", "0", "false") else said
    place = _normal(folder)
    for variable in ONEDRIVE_VARIABLES:
        root = environ.get(variable, "").strip()
        if root and _within(place, _normal(Path(root))):
            return "OneDrive"
    for root, what in synced_folders():
        if _within(place, _normal(Path(root))):
            return what
    home = environ.get("HOME", "")
    if home:
        cloud = _normal(Path(home) / "Library" / "CloudStorage")  # macOS: every File Provider
        if _within(place, cloud) and len(place) > len(cloud):
            provider = place[len(cloud)]
            return next((w for p, w in CLIENT_FOLDERS if p.match(provider)), provider)
    for part in place:
        for pattern, what in CLIENT_FOLDERS:
            if pattern.match(part):
                return what
    return ""


def _normal(path: Path) -> tuple[str, ...]:
    try:
        path = path.resolve()
    except OSError:
        path = path.absolute()
    return tuple(os.path.normcase(part) for part in PurePath(path).parts)


def _within(place: tuple[str, ...], root: tuple[str, ...]) -> bool:
    return len(root) > 1 and place[: len(root)] == root


def conflict_copies(folder: Path) -> list[Path]:
    """Copies a sync client made of the batch's records in `folder`, when two PCs changed one
    at once: 'ledger-DESKTOP-1A2B.sqlite', 'manifest (1).json', 'ledger (Sam's conflicted
    copy 2020-07-22).sqlite'."""
    if not folder.is_dir():
        return []
    found = []
    for record in RECORDS:
        stem, suffix = record.rsplit(".", 1)
        shape = re.compile(
            rf"^{re.escape(stem)}(?:-[^.]+| ?\(.+\)| \d+| - Copy.*)\.{re.escape(suffix)}$",
            re.IGNORECASE,
        )
        found += sorted(p for p in folder.iterdir() if shape.match(p.name) and p.is_file())
    return found


def local_state(environ: Mapping[str, str] | None = None) -> Path:
    """This computer's own folder for what must not be synced: %LOCALAPPDATA%\\letter-merge on
    Windows, ~/Library/Application Support/letter-merge on macOS, $XDG_STATE_HOME (or
    ~/.local/state)/letter-merge elsewhere; LETTER_MERGE_STATE_DIR when set."""
    environ = os.environ if environ is None else environ
    if environ.get(STATE_DIR):
        return Path(environ[STATE_DIR])
    home = Path(environ.get("HOME") or Path.home())
    if sys.platform == "win32":
        return Path(environ.get("LOCALAPPDATA") or home / "AppData" / "Local") / "letter-merge"
    if sys.platform == "darwin":
        return home / "Library" / "Application Support" / "letter-merge"
    return Path(environ.get("XDG_STATE_HOME") or home / ".local" / "state") / "letter-merge"


def local_copy_of(record: Path, environ: Mapping[str, str] | None = None) -> Path:
    """Where this computer keeps the live `record` of a synced folder: named by the folder,
    so that each batch has its own."""
    key = hashlib.sha256(str(record.parent.resolve()).encode("utf-8")).hexdigest()[:16]
    return local_state(environ) / "synced" / key / record.name


def live_database(in_folder: Path, *, read_only: bool) -> tuple[Path, Path | None]:
    """Where the database `in_folder` (the ledger in the output folder) is really kept, and the
    folder's copy to put a whole copy in after every change (None: it is kept where it is).
    Outside a synced folder, in place. In one, this computer's own live copy; for reading, the
    folder's when another computer changed it since this one last put its own there. Before a
    change, another computer's copy is taken in, and a sync client's conflict copy beside it
    stops every change: approvals or sends may be recorded only in that copy."""
    folder = in_folder.parent
    synced = synced_by(folder)
    if not synced:
        return in_folder, None
    local = local_copy_of(in_folder)
    if read_only:
        current = sha256_file(in_folder) if in_folder.exists() else None
        mine = local.exists() and (current is None or _mark(local) == current)
        return (local if mine else in_folder), None
    copies = [p for p in conflict_copies(folder) if p.suffix == in_folder.suffix]
    if copies:
        raise LetterMergeError(
            f"{copies[0]} is a copy of the ledger that {synced} made when it was changed on two "
            "computers at once: approvals or sends may be recorded only in it, so nothing is "
            "approved, queued or sent meanwhile. Move the copy out of the folder (keep it: it "
            "is a whole ledger, and 'letter-merge status' run in a folder holding it as "
            f"{folder.parent.name}/{folder.name}/{in_folder.name} shows what it records), "
            "compare, then run the command again."
        )
    local.parent.mkdir(parents=True, exist_ok=True)
    with FileLock(local.with_name("ledger.lock")):
        _adopt(in_folder, local)
    return local, in_folder


def _mark(local: Path) -> str:
    """The SHA-256 of the copy this computer last put in the synced folder ("" if none)."""
    mark = local.with_name("published.sha256")
    return mark.read_text(encoding="utf-8").strip() if mark.exists() else ""


def _adopt(synced: Path, local: Path) -> None:
    """Take the folder's ledger into this computer's live copy when it was changed elsewhere
    (or this computer has none yet), through SQLite's backup (safe while others read it).
    Refused when this computer has changes that never reached the folder: both are kept."""
    if not synced.exists():
        return
    digest = sha256_file(synced)
    if local.exists() and _mark(local) == digest:
        return
    if local.with_name("unpublished").exists():
        raise LetterMergeError(
            f"{synced} was changed on another computer while this one had changes it could not "
            f"put there yet (kept in {local}). Ask for help before going on: nothing was changed."
        )
    source = sqlite3.connect(f"{synced.resolve().as_uri()}?mode=ro&immutable=1", uri=True)
    target = sqlite3.connect(local, timeout=30)
    try:
        source.backup(target)
    finally:
        source.close()
        target.close()
    write_atomic(local.with_name("published.sha256"), digest.encode("utf-8"))


def publish_database(db: sqlite3.Connection, live: Path, folder: Path) -> None:
    """Put a whole copy of the ledger in the synced folder, in one step (a sync client never
    sees it half-written), and remember which copy is this computer's. The change is
    recorded already: when the copy cannot be put there (the sync client holds the file),
    that is said, and the next change puts it there. When another computer changed the
    folder's copy meanwhile, this one's goes beside it, as a sync client's conflict copy
    would, and stops every change until a person has looked."""
    pending = live.with_name("unpublished")
    handle, name = tempfile.mkstemp(dir=live.parent, suffix=".sqlite")
    os.close(handle)
    scratch = Path(name)
    try:
        copy = sqlite3.connect(scratch)
        try:
            db.backup(copy)
            copy.execute("PRAGMA journal_mode=DELETE")  # one file, nothing beside it
        finally:
            copy.close()
        data = scratch.read_bytes()
    finally:
        scratch.unlink(missing_ok=True)
    digest = hashlib.sha256(data).hexdigest()
    target = folder
    if target.exists() and sha256_file(target) != _mark(live):
        target = target.with_name(f"{target.stem}-{platform.node() or 'this-computer'}.sqlite")
        log.warning("%s changed on another computer; this one's ledger is in %s", folder, target)
    try:
        write_atomic(target, data)
    except (LetterMergeError, OSError) as error:
        write_atomic(pending, b"")
        log.warning("the ledger's copy could not be put in %s (%s); it will be", target, error)
        return
    if target == folder:
        write_atomic(live.with_name("published.sha256"), digest.encode("utf-8"))
        pending.unlink(missing_ok=True)
