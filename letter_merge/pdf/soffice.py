"""Finding LibreOffice's soffice program: [pdf] soffice or LETTER_MERGE_SOFFICE, else PATH, else
where its installers put it (Program Files, the registry's App Paths, /Applications on macOS)."""

from __future__ import annotations

import os
import shutil
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path, PurePath, PurePosixPath, PureWindowsPath

from letter_merge.environment import SOFFICE
from letter_merge.errors import ConverterUnavailable

# Finding LibreOffice: what names it, then PATH, then where its installers put it.
SOFFICE_VARIABLE = SOFFICE
SOFFICE_SETTING = "[pdf] soffice in letter-merge.toml"
DOWNLOAD = "https://www.libreoffice.org/download/"
# Windows: a folder named by an environment variable (the usual one when it is not set) and the
# program in it. The per-user install (no administrator needed) goes under %LOCALAPPDATA%.
WINDOWS_PLACES = (
    ("ProgramFiles", r"C:\Program Files", r"LibreOffice\program\soffice.exe"),
    ("ProgramFiles(x86)", r"C:\Program Files (x86)", r"LibreOffice\program\soffice.exe"),
    ("ProgramW6432", "", r"LibreOffice\program\soffice.exe"),
    ("LOCALAPPDATA", "", r"Programs\LibreOffice\program\soffice.exe"),
)
# The installer also registers soffice.exe here, for the machine (HKLM) or for the user (HKCU).
APP_PATHS = r"SOFTWARE\Microsoft\Windows\CurrentVersion\App Paths\soffice.exe"
MACOS_PLACES = (
    "/Applications/LibreOffice.app/Contents/MacOS/soffice",
    "~/Applications/LibreOffice.app/Contents/MacOS/soffice",
)
# A folder given as the setting: LibreOffice's program folder, its install folder, or the .app.
IN_A_FOLDER = (
    "soffice.exe",
    "soffice",
    "program/soffice.exe",
    "program/soffice",
    "Contents/MacOS/soffice",
)
INSTALL_HINT = (
    f"Install LibreOffice from {DOWNLOAD} (Debian/Ubuntu: 'sudo apt-get install "
    "libreoffice-writer-nogui'). If it is installed somewhere else, name its soffice program in "
    f"letter-merge.toml ([pdf] soffice = '…') or in the environment variable {SOFFICE_VARIABLE}. "
    "Or use --converter word on Windows/macOS with Microsoft Word, or build with --no-pdf."
)


# The default value of a key in the Windows registry: (hive "HKLM" or "HKCU", key) -> value.
RegistryReader = Callable[[str, str], str | None]


def read_registry(hive: str, key: str) -> str | None:
    """The default value of `key` under HKLM or HKCU; None when there is none, and on every
    system but Windows (winreg exists only there)."""
    if sys.platform != "win32":
        return None
    import winreg

    root = {"HKLM": winreg.HKEY_LOCAL_MACHINE, "HKCU": winreg.HKEY_CURRENT_USER}[hive]
    try:
        with winreg.OpenKey(root, key) as opened:
            value, kind = winreg.QueryValueEx(opened, "")
    except OSError:
        return None
    if not isinstance(value, str):
        return None
    return winreg.ExpandEnvironmentStrings(value) if kind == winreg.REG_EXPAND_SZ else value


@dataclass(frozen=True)
class Place:
    """Where LibreOffice's installer may have put soffice: a path, or the registry key that
    names one."""

    path: PurePath | None
    registry_key: str = ""  # "" for an install folder

    def __str__(self) -> str:
        if not self.registry_key:
            return str(self.path)
        if self.path is None:
            return f"{self.registry_key} (nothing registered)"
        return f"{self.path} (registered at {self.registry_key})"


def libreoffice_places(
    environ: Mapping[str, str] | None = None,
    platform: str | None = None,
    read_registry: RegistryReader = read_registry,
) -> list[Place]:
    """Where LibreOffice's installers put it on `platform`, in the order they are looked at
    after PATH (none on Linux, whose packages put it on PATH)."""
    environ = os.environ if environ is None else environ
    platform = sys.platform if platform is None else platform
    places: list[Place] = []
    if platform == "win32":
        folders = [(environ.get(name, usual), inside) for name, usual, inside in WINDOWS_PLACES]
        # ProgramW6432 is usually ProgramFiles: each folder once (Windows ignores case).
        paths = dict.fromkeys(PureWindowsPath(f, inside) for f, inside in folders if f)
        places += [Place(path) for path in paths]
        for hive in ("HKLM", "HKCU"):
            registered = (read_registry(hive, APP_PATHS) or "").strip().strip('"')
            key = f"{hive}\\{APP_PATHS}"
            places.append(Place(PureWindowsPath(registered) if registered else None, key))
    elif platform == "darwin":
        home = environ.get("HOME", "")
        for place in MACOS_PLACES:
            if place.startswith("~/"):
                if not home:
                    continue
                place = f"{home.rstrip('/')}{place[1:]}"
            places.append(Place(PurePosixPath(place)))
    return places


def _is_file(path: PurePath) -> bool:
    return Path(str(path)).is_file()


def find_libreoffice(
    setting: str = "",
    *,
    environ: Mapping[str, str] | None = None,
    platform: str | None = None,
    read_registry: RegistryReader = read_registry,
    is_file: Callable[[PurePath], bool] = _is_file,
) -> Path | None:
    """LibreOffice's soffice program: the one LETTER_MERGE_SOFFICE or else `setting` ([pdf]
    soffice) names; else soffice or libreoffice on PATH; else the first of
    `libreoffice_places`. None when it is nowhere. A name that is not LibreOffice is an error,
    not a reason to look elsewhere: the PDFs would be made by another LibreOffice than meant.

    `environ`, `platform`, `read_registry` and `is_file` stand for this machine's; tests give
    another's (Windows, simulated on Linux)."""
    environ = os.environ if environ is None else environ
    named = _named_soffice(setting, environ)
    if named is not None:
        return named
    for name in ("soffice", "libreoffice"):
        # PATH as `environ` has it; none at all when it has none (not Python's default PATH).
        found = shutil.which(name, path=environ.get("PATH", ""))
        if found:
            return Path(found)
    for place in libreoffice_places(environ, platform, read_registry):
        if place.path is not None and is_file(place.path):
            return Path(str(place.path))
    return None


def _named_soffice(setting: str, environ: Mapping[str, str]) -> Path | None:
    """The soffice that LETTER_MERGE_SOFFICE, else `setting`, names (a folder: the soffice in
    it); None when neither is set."""
    # Pasted from Windows' "Copy as path", quotes and all.
    value = environ.get(SOFFICE_VARIABLE, "").strip().strip('"').strip()
    source = f"The environment variable {SOFFICE_VARIABLE}"
    if not value:
        value, source = setting.strip(), SOFFICE_SETTING
    if not value:
        return None
    named = Path(value).expanduser()
    if named.is_dir():
        inside = next((named / p for p in IN_A_FOLDER if (named / p).is_file()), None)
        if inside is None:
            raise ConverterUnavailable(
                f"{source} names the folder {named}, which has no soffice program in it (looked "
                f"for {', '.join(str(PurePath(p)) for p in IN_A_FOLDER)}). Name LibreOffice's "
                "soffice program itself (on Windows …\\LibreOffice\\program\\soffice.exe), or "
                "its install folder."
            )
        return inside
    for candidate in (named, Path(f"{named}.exe")):  # soffice.exe written as soffice
        if candidate.is_file():
            return candidate
    raise ConverterUnavailable(
        f"{source} names {named}, and there is no such file. Correct it to where LibreOffice's "
        "soffice program is (on Windows …\\LibreOffice\\program\\soffice.exe; on macOS "
        "/Applications/LibreOffice.app/Contents/MacOS/soffice), or remove it to have "
        "letter-merge look on PATH and in the usual install folders."
    )


def libreoffice_not_found(
    environ: Mapping[str, str] | None = None,
    platform: str | None = None,
    read_registry: RegistryReader = read_registry,
) -> str:
    """What to say when find_libreoffice found nothing: every place it looked, and what to do."""
    looked = [
        f"{SOFFICE_SETTING} and the environment variable {SOFFICE_VARIABLE}: neither is set",
        "soffice and libreoffice on PATH",
        *map(str, libreoffice_places(environ, platform, read_registry)),
    ]
    lines = "\n".join(f"  - {place}" for place in looked)
    return (
        f"LibreOffice is needed to make PDFs and was not found. Looked at:\n{lines}\n{INSTALL_HINT}"
    )
