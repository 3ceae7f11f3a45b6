"""Writing output files atomically, hashing them, naming them safely on every system, and the
locks that keep two runs from writing the same files at once."""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import tempfile
import unicodedata
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path

from filelock import FileLock, Timeout

from letter_merge.errors import AlreadyRunning

# Names Windows refuses whatever the extension.
WINDOWS_RESERVED = {"con", "prn", "aux", "nul"} | {
    f"{p}{n}" for p in ("com", "lpt") for n in range(1, 10)
}
MAX_STEM = 150  # leaves room for the folder path under Windows' 260-character limit


# Temporary files and folders of a conversion in the letters folder; what a killed run leaves.
CONVERTING_PREFIX = ".converting-"


def _current_umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


# mkstemp makes private (0600) files; output files get the permissions any new file would.
FILE_MODE = 0o666 & ~_current_umask()


def write_atomic(path: Path, data: bytes, *, durable: bool = True) -> None:
    """Write to a temporary file beside `path`, then rename: readers never see half a file.

    `durable` also forces the data to disk before the rename, so that even a power cut cannot
    leave an empty file. Letters skip that (a third of a build's time): one damaged that way
    fails the manifest's hash check and is made again."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(
        dir=path.parent, prefix=f".{path.name[:40]}.", suffix=".part"
    )
    try:
        with os.fdopen(handle, "wb") as stream:
            stream.write(data)
            stream.flush()
            if durable:
                os.fsync(stream.fileno())
        os.chmod(temporary, FILE_MODE)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
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


def safe_stem(text: str) -> str:
    """A file name stem that Windows, macOS and Linux all accept, as close to `text` as possible."""
    text = unicodedata.normalize("NFC", text)
    text = re.sub(r'[<>:"/\\|?*\x00-\x1f\x7f]', " ", text)
    text = " ".join(text.split()).strip(" .")
    if text.split(".")[0].casefold() in WINDOWS_RESERVED:
        text = f"_{text}"
    return text[:MAX_STEM].rstrip(" .") or "letter"


def unique_stems(stems: Iterable[str]) -> list[str]:
    """Make stems unique ignoring case (Windows and macOS ignore it): 'X', 'X (2)', 'X (3)'."""
    seen: set[str] = set()
    result = []
    for stem in stems:
        candidate, number = stem, 1
        while candidate.casefold() in seen:
            number += 1
            candidate = f"{stem} ({number})"
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
