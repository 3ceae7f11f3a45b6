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
import os
import re
import sys
from collections.abc import Callable, Mapping
from pathlib import Path, PurePath

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
RECORDS = ("ledger.sqlite", "manifest.json", "decisions.json")

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
    said = environ.get("LETTER_MERGE_SYNCED", "").strip()
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
    if environ.get("LETTER_MERGE_STATE_DIR"):
        return Path(environ["LETTER_MERGE_STATE_DIR"])
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
