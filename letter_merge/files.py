"""Writing output files atomically, hashing them, naming them safely on every system, and the
locks that keep two runs from writing the same files at once."""

from __future__ import annotations

import errno
import hashlib
import os
import re
import shutil
import sys
import tempfile
import time
import unicodedata
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path, PurePath

from filelock import FileLock, Timeout

from letter_merge.errors import AlreadyRunning, InputError, LetterMergeError

# Names Windows refuses whatever the extension.
WINDOWS_RESERVED = {"con", "prn", "aux", "nul"} | {
    f"{p}{n}" for p in ("com", "lpt") for n in range(1, 10)
}
MAX_STEM = 150  # leaves room for the folder path under Windows' 260-character limit


# Temporary files and folders of a conversion in the letters folder; what a killed run leaves.
CONVERTING_PREFIX = ".converting-"

# Windows' MAX_PATH is 260 characters, the ending NUL among them: Explorer, Word and LibreOffice
# on the office's PCs cannot open a longer path, so letters are named to fit wherever they are
# built (they are copied and synced to Windows PCs from anywhere).
MAX_PATH = 259
# What a letter's path has beyond its folder and stem, at the longest: the separator and ".docx",
# and while it is converted the scratch folder it is made in (".converting-<8 characters>/out/",
# see pdf/libreoffice.py), which also covers Word's ".converting-" copy and write_atomic's ".part" file.
PATH_BEYOND_STEM = len("/.docx") + len(CONVERTING_PREFIX) + len("12345678/out/")
# Shorter than this, a council's name loses what tells it from the others.
MIN_STEM = 30


def _current_umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


# mkstemp makes private (0600) files; output files get the permissions any new file would.
FILE_MODE = 0o666 & ~_current_umask()


# What a full disk says: no space left, or over a quota (a OneDrive at its limit, a network share).
DISK_FULL = {errno.ENOSPC, errno.EDQUOT} if hasattr(errno, "EDQUOT") else {errno.ENOSPC}
WINDOWS_DISK_FULL = {39, 112}  # ERROR_HANDLE_DISK_FULL, ERROR_DISK_FULL


class FileInUse(LetterMergeError):
    """A file could not be replaced or removed: another program has it open (Windows refuses to
    replace a file that Word or a PDF viewer holds), or it is read-only. Nothing was half-written:
    the file is as it was."""

    def __init__(self, path: Path) -> None:
        self.path = path
        super().__init__(
            f"{path.name} (in {path.parent}) cannot be replaced: it is open in another program "
            "(Word, Excel, a PDF viewer) or read-only. Close it, then run the command again."
        )

    @property
    def advice(self) -> str:
        """For one letter among many: 'close X.pdf (open in another program)'."""
        return f"close {self.path.name} (open in another program, or read-only)"


class DiskFull(LetterMergeError):
    """The folder being written to has no room left. What was being written was removed, and
    every file is as it was before or whole."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        super().__init__(
            f"The disk or share holding {folder} is full (or over its quota, as a OneDrive can "
            "be): nothing was half-written. Make room there (empty the recycle bin, free "
            "OneDrive space) or set a folder with room as output in letter-merge.toml, then run "
            "the command again: it goes on from where it stopped."
        )


def is_disk_full(error: OSError) -> bool:
    return error.errno in DISK_FULL or getattr(error, "winerror", None) in WINDOWS_DISK_FULL


def replace_file(source: Path | str, target: Path) -> None:
    """Put `source` in `target`'s place in one step (the one place output files are replaced, so
    that a test can make a target unreplaceable, as Windows makes a file another program holds)."""
    for wait in (0.05, 0.1, 0.2, 0.4, 0.8, None) if sys.platform == "win32" else (None,):
        try:
            os.replace(source, target)
            return
        except PermissionError:
            # Windows: a virus scanner or OneDrive may hold a new file for a moment.
            if wait is None:
                raise FileInUse(target) from None
            time.sleep(wait)


def remove_file(path: Path) -> None:
    """Remove `path` if it is there; FileInUse when another program holds it."""
    try:
        path.unlink(missing_ok=True)
    except PermissionError:
        raise FileInUse(path) from None


def write_atomic(path: Path, data: bytes, *, durable: bool = True) -> None:
    """Write to a temporary file beside `path`, then rename: readers never see half a file.

    `durable` also forces the data to disk before the rename, so that even a power cut cannot
    leave an empty file. Letters skip that (a third of a build's time): one damaged that way
    fails the manifest's hash check and is made again. A file held open by another program is
    FileInUse, a full disk DiskFull; either way `path` is left as it was."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        handle, temporary = tempfile.mkstemp(
            dir=path.parent, prefix=f".{path.name[:40]}.", suffix=".part"
        )
    except OSError as error:
        if is_disk_full(error):
            raise DiskFull(path.parent) from None
        raise
    try:
        with os.fdopen(handle, "wb") as stream:
            stream.write(data)
            stream.flush()
            if durable:
                os.fsync(stream.fileno())
        os.chmod(temporary, FILE_MODE)
        replace_file(temporary, path)
    except BaseException as error:
        Path(temporary).unlink(missing_ok=True)
        if isinstance(error, OSError) and is_disk_full(error):
            raise DiskFull(path.parent) from None
        raise


def remove_leftovers(folder: Path) -> None:
    """Temporary files of a run that was killed (half-written files, a converter's scratch
    files and folders): never finished output, so safe to delete."""
    for leftover in (*folder.glob(".*.part"), *folder.glob(f"{CONVERTING_PREFIX}*")):
        if leftover.is_dir():
            shutil.rmtree(leftover, ignore_errors=True)
        else:
            leftover.unlink(missing_ok=True)


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as stream:
        for block in iter(lambda: stream.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def safe_stem(text: str, longest: int = MAX_STEM) -> str:
    """A file name stem that Windows, macOS and Linux all accept, as close to `text` as possible,
    of at most `longest` characters (see longest_stem)."""
    text = unicodedata.normalize("NFC", text)
    text = re.sub(r'[<>:"/\\|?*\x00-\x1f\x7f]', " ", text)
    text = " ".join(text.split()).strip(" .")
    if text.split(".")[0].casefold() in WINDOWS_RESERVED:
        text = f"_{text}"
    return text[:longest].rstrip(" .") or "letter"


def longest_stem(folder: PurePath) -> int:
    """The longest stem a letter in `folder` may have, for its paths to stay within Windows'
    MAX_PATH; InputError when the folder is too deep for names that say whose letter it is."""
    room = MAX_PATH - len(str(folder)) - PATH_BEYOND_STEM
    if room < MIN_STEM:
        raise InputError(
            f"The letters folder {folder} is {len(str(folder))} characters long: with letters "
            f"named for their councils in it, paths would pass Windows' limit of {MAX_PATH + 1} "
            "characters. Move the output folder nearer the drive root (for example "
            "C:\\Letters\\output), or set output in letter-merge.toml: [paths] output = "
            "'C:\\Letters\\output'."
        )
    return min(room, MAX_STEM)


def unique_stems(stems: Iterable[str], longest: int = MAX_STEM) -> list[str]:
    """Make stems unique ignoring case (Windows and macOS ignore it): 'X', 'X (2)', 'X (3)',
    each at most `longest` characters (the number fits by shortening the stem before it)."""
    seen: set[str] = set()
    result = []
    for stem in stems:
        candidate, number = stem, 1
        while candidate.casefold() in seen:
            number += 1
            suffix = f" ({number})"
            candidate = f"{stem[: longest - len(suffix)].rstrip(' .')}{suffix}"
        seen.add(candidate.casefold())
        result.append(candidate)
    return result


def try_lock(path: Path) -> FileLock | None:
    """Hold the lock file `path` if no other run (process or thread) holds it; None if one does.

    filelock uses the system's own locks (flock on Linux and macOS, LockFileEx on Windows), which
    the system releases when a process dies: a killed run never leaves a stale lock behind."""
    path.parent.mkdir(parents=True, exist_ok=True)
    lock = FileLock(path, thread_local=False, preserve_lock_file=True)
    try:
        lock.acquire(timeout=0)
    except Timeout:
        return None
    return lock


@contextmanager
def exclusive(path: Path, busy: str) -> Iterator[None]:
    """Run the block holding the lock `path`; if another run holds it, stop with `busy`."""
    lock = try_lock(path)
    if lock is None:
        raise AlreadyRunning(busy)
    try:
        yield
    finally:
        lock.release()
