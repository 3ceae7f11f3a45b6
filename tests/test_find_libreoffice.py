"""Finding LibreOffice: [pdf] soffice and LETTER_MERGE_SOFFICE first, then PATH, then where its
installers put it. Windows and macOS are simulated (their environment, registry and files given
to find_libreoffice), so these run the same on every system."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path, PurePath, PurePosixPath, PureWindowsPath

import pytest
from click.testing import CliRunner

from letter_merge.cli import cli
from letter_merge.config import load_settings
from letter_merge.errors import ConverterUnavailable, InputError
from letter_merge.pdf.soffice import RegistryReader, find_libreoffice, libreoffice_not_found

PROGRAM_FILES = PureWindowsPath(r"C:\Program Files\LibreOffice\program\soffice.exe")
PER_USER = PureWindowsPath(
    r"C:\Users\someone.name\AppData\Local\Programs\LibreOffice\program\soffice.exe"
)
# What a 64-bit Windows sets, as Python sees it.
WINDOWS = {
    "ProgramFiles": r"C:\Program Files",
    "ProgramFiles(x86)": r"C:\Program Files (x86)",
    "ProgramW6432": r"C:\Program Files",
    "LOCALAPPDATA": r"C:\Users\someone.name\AppData\Local",
}


def registry(values: dict[str, str]) -> RegistryReader:
    """A registry of App Paths default values by hive ("HKLM", "HKCU")."""
    return lambda hive, key: values.get(hive) if key.endswith(r"App Paths\soffice.exe") else None


def only(*files: PurePath) -> Callable[[PurePath], bool]:
    """A file system holding `files` and nothing else."""
    return lambda path: path in files


def simulated_windows(*files: PurePath, registered: dict[str, str] | None = None) -> Path | None:
    return find_libreoffice(
        environ=WINDOWS,  # no PATH: nothing on it
        platform="win32",
        read_registry=registry(registered or {}),
        is_file=only(*files),
    )


def test_simulated_windows_finds_it_in_program_files() -> None:
    assert str(simulated_windows(PROGRAM_FILES)) == str(PROGRAM_FILES)


def test_simulated_windows_finds_a_per_user_install() -> None:
    assert str(simulated_windows(PER_USER)) == str(PER_USER)


def test_simulated_windows_looks_in_program_files_before_the_per_user_install() -> None:
    assert str(simulated_windows(PER_USER, PROGRAM_FILES)) == str(PROGRAM_FILES)


def test_simulated_windows_finds_it_through_the_registry_s_app_paths() -> None:
    elsewhere = PureWindowsPath(r"D:\Apps\LibreOffice\program\soffice.exe")
    registered = {"HKCU": f'"{elsewhere}"'}  # quoted, as some installers write it
    assert str(simulated_windows(elsewhere, registered=registered)) == str(elsewhere)
    assert simulated_windows(registered=registered) is None  # registered, since removed


def test_simulated_windows_says_every_place_it_looked_and_where_to_download() -> None:
    message = libreoffice_not_found(
        environ=WINDOWS,
        platform="win32",
        read_registry=registry({"HKLM": r"E:\Gone\program\soffice.exe"}),
    )
    assert message.splitlines() == [
        "LibreOffice is needed to make PDFs and was not found. Looked at:",
        "  - [pdf] soffice in letter-merge.toml and the environment variable "
        "LETTER_MERGE_SOFFICE: neither is set",
        "  - soffice and libreoffice on PATH",
        r"  - C:\Program Files\LibreOffice\program\soffice.exe",
        r"  - C:\Program Files (x86)\LibreOffice\program\soffice.exe",
        r"  - C:\Users\someone.name\AppData\Local\Programs\LibreOffice\program\soffice.exe",
        r"  - E:\Gone\program\soffice.exe (registered at "
        r"HKLM\SOFTWARE\Microsoft\Windows\CurrentVersion\App Paths\soffice.exe)",
        r"  - HKCU\SOFTWARE\Microsoft\Windows\CurrentVersion\App Paths\soffice.exe "
        "(nothing registered)",
        "Install LibreOffice from https://www.libreoffice.org/download/ (Debian/Ubuntu: 'sudo "
        "apt-get install libreoffice-writer-nogui'). If it is installed somewhere else, name its "
        "soffice program in letter-merge.toml ([pdf] soffice = '…') or in the environment "
        "variable LETTER_MERGE_SOFFICE. Or use --converter word on Windows/macOS with Microsoft "
        "Word, or build with --no-pdf.",
    ]


def test_simulated_windows_without_its_environment_looks_in_the_usual_folders() -> None:
    found = find_libreoffice(
        environ={},
        platform="win32",
        read_registry=registry({}),
        is_file=only(PureWindowsPath(r"C:\Program Files (x86)\LibreOffice\program\soffice.exe")),
    )
    assert str(found) == r"C:\Program Files (x86)\LibreOffice\program\soffice.exe"


def test_simulated_macos_finds_it_in_the_user_s_own_applications_folder() -> None:
    mine = PurePosixPath("/Users/sam/Applications/LibreOffice.app/Contents/MacOS/soffice")
    found = find_libreoffice(
        environ={"HOME": "/Users/sam"},
        platform="darwin",
        is_file=only(mine),
    )
    assert found is not None and found.as_posix() == str(mine)
    message = libreoffice_not_found(environ={"HOME": "/Users/sam"}, platform="darwin")
    assert "  - /Applications/LibreOffice.app/Contents/MacOS/soffice\n" in message
    assert f"  - {mine}\n" in message


def fake_soffice(folder: Path) -> Path:
    """A file that passes for a program on this system (found by name, not run)."""
    folder.mkdir(parents=True, exist_ok=True)
    program = folder / ("soffice.exe" if sys.platform == "win32" else "soffice")
    program.write_bytes(b"")
    program.chmod(0o755)
    return program


def test_simulated_windows_looks_on_path_before_the_install_folders(tmp_path: Path) -> None:
    on_path = fake_soffice(tmp_path / "bin")
    found = find_libreoffice(
        environ={**WINDOWS, "PATH": str(on_path.parent)},
        platform="win32",
        is_file=only(PROGRAM_FILES),
    )
    assert found is not None and found.samefile(on_path)


def test_the_environment_variable_overrides_the_setting_which_overrides_path(
    tmp_path: Path,
) -> None:
    set_in_file = fake_soffice(tmp_path / "file")
    set_in_environment = fake_soffice(tmp_path / "environment")
    on_path = fake_soffice(tmp_path / "bin")
    environ = {"PATH": str(on_path.parent)}
    assert find_libreoffice(str(set_in_file), environ=environ) == set_in_file
    environ["LETTER_MERGE_SOFFICE"] = f'"{set_in_environment}"'  # as "Copy as path" gives it
    assert find_libreoffice(str(set_in_file), environ=environ) == set_in_environment


@pytest.mark.parametrize("given", ["program folder", "install folder", "program without .exe"])
def test_the_setting_may_name_the_folder_it_is_in(tmp_path: Path, given: str) -> None:
    program = tmp_path / "LibreOffice" / "program" / "soffice.exe"
    program.parent.mkdir(parents=True)
    program.write_bytes(b"")
    setting = {
        "program folder": program.parent,
        "install folder": program.parent.parent,
        "program without .exe": program.with_suffix(""),
    }[given]
    assert find_libreoffice(str(setting), environ={}) == program


def test_a_setting_that_names_no_soffice_says_so(tmp_path: Path) -> None:
    missing = tmp_path / "LibreOffice" / "program" / "soffice.exe"
    with pytest.raises(ConverterUnavailable) as error:
        find_libreoffice(str(missing), environ={"PATH": ""})
    assert str(error.value).startswith(
        f"[pdf] soffice in letter-merge.toml names {missing}, and there is no such file. "
    )
    with pytest.raises(ConverterUnavailable) as error:
        find_libreoffice("", environ={"LETTER_MERGE_SOFFICE": str(tmp_path)})
    assert str(error.value).startswith(
        f"The environment variable LETTER_MERGE_SOFFICE names the folder {tmp_path}, which has "
        "no soffice program in it (looked for soffice.exe, soffice, "
    )


def test_the_setting_is_read_relative_to_the_settings_file(tmp_path: Path) -> None:
    config = tmp_path / "letter-merge.toml"
    config.write_text("[pdf]\nsoffice = ' \"apps/soffice\" '\n", encoding="utf-8")
    settings = load_settings(config, environ={})
    assert settings.pdf.soffice == str(tmp_path.resolve() / "apps" / "soffice")
    config.write_text("[pdf]\nsoffice = 1\n", encoding="utf-8")
    with pytest.raises(InputError, match=r"\[pdf\] soffice = 1: write the path"):
        load_settings(config, environ={})


def test_a_build_with_a_wrong_setting_stops_with_the_setting_named(
    folder: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("LETTER_MERGE_SOFFICE", raising=False)
    with (folder / "letter-merge.toml").open("a", encoding="utf-8") as settings:
        settings.write("[pdf]\nsoffice = 'LibreOffice/program/soffice.exe'\n")
    result = CliRunner().invoke(cli, ["build"])
    assert result.exit_code == 2
    missing = folder.resolve() / "LibreOffice" / "program" / "soffice.exe"
    assert result.output.startswith(
        f"Error: [pdf] soffice in letter-merge.toml names {missing}, and there is no such file."
    )
