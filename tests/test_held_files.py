"""Files another program holds open, and a full disk.

Windows will not replace or remove a file that Word, Excel or a PDF viewer has open: it answers
PermissionError. Linux lets any file be replaced, so these tests simulate Windows by making the
one place letter-merge replaces and removes files refuse one chosen file, as Windows would; and
a full disk by making writes in the folder fail with ENOSPC, as a full OneDrive or share does.
"""

from __future__ import annotations

import errno
import hashlib
import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from letter_merge.cli import cli
from letter_merge.files import DiskFull, FileInUse, write_atomic
from tests.standin import STAND_IN

LEICS_PDF = "Leicestershire County Council - Annual Review 2020.pdf"


@pytest.fixture
def folder_built(built: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A copy of the four councils built and proofed once a run (conftest's `built`)."""
    folder = tmp_path / "batch"
    shutil.copytree(built, folder)
    monkeypatch.chdir(folder)
    return folder


def hold_open(monkeypatch: pytest.MonkeyPatch, *held: Path) -> None:
    """Make `held` unreplaceable and unremovable, as Windows makes a file another program has
    open (WinError 32: 'being used by another process')."""
    held_names = {os.path.normcase(os.path.abspath(p)) for p in held}
    real_replace, real_unlink = os.replace, Path.unlink

    def is_held(path: object) -> bool:
        return os.path.normcase(os.path.abspath(str(path))) in held_names

    def replace(source: str | Path, target: str | Path) -> None:
        if is_held(target):
            raise PermissionError(13, "being used by another process", str(target))
        real_replace(source, target)

    def unlink(path: Path, missing_ok: bool = False) -> None:
        if is_held(path):
            raise PermissionError(13, "being used by another process", str(path))
        real_unlink(path, missing_ok=missing_ok)

    monkeypatch.setattr(os, "replace", replace)
    monkeypatch.setattr(Path, "unlink", unlink)


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_simulated_windows_a_letter_pdf_held_open_fails_alone_and_the_next_build_finishes(
    folder_built: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    letters = folder_built / "output" / "2020" / "letters"
    held = letters / LEICS_PDF
    before = {p.name: digest(p) for p in letters.glob("*.pdf")}
    with monkeypatch.context() as windows:
        hold_open(windows, held)
        result = CliRunner().invoke(cli, obj=STAND_IN, args=["build", "--force"])
    assert result.exit_code == 1, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
    assert "Traceback" not in result.output
    assert f"close {LEICS_PDF} (open in another program" in result.output
    assert "and run build again" in result.output
    # The held file is as it was; nothing half-written beside it.
    assert digest(held) == before[LEICS_PDF]
    assert not list(letters.glob(".*.part"))
    manifest = json.loads((folder_built / "output" / "2020" / "manifest.json").read_text())
    records = {r["authority"]: r for r in manifest["letters"]}
    assert records["Leicestershire County Council"]["error"]
    assert all(
        r["files"]["pdf"] for n, r in records.items() if n != "Leicestershire County Council"
    )
    # Closed: the next build makes only what is missing.
    result = CliRunner().invoke(cli, obj=STAND_IN, args=["build"])
    assert result.exit_code == 0, result.output
    assert "Built 1 letter" in result.output
    assert "3 already up to date" in result.output


def test_simulated_windows_a_docx_open_in_word_fails_alone(
    folder_built: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    letters = folder_built / "output" / "2020" / "letters"
    held = letters / LEICS_PDF.replace(".pdf", ".docx")
    with monkeypatch.context() as windows:
        hold_open(windows, held)
        result = CliRunner().invoke(cli, obj=STAND_IN, args=["build", "--force"])
    assert result.exit_code == 1, result.output
    assert f"close {held.name} (open in another program" in result.output
    assert "Built 3 letters" in result.output
    result = CliRunner().invoke(cli, obj=STAND_IN, args=["build"])
    assert result.exit_code == 0, result.output


@pytest.mark.parametrize(
    ("target", "command"),
    [
        ("output/2020/manifest.json", ["build", "--force"]),
        ("output/2020/proof/index.html", ["proof"]),
        ("output/2020/proof/all-letters.pdf", ["proof"]),
    ],
)
def test_simulated_windows_a_record_held_open_is_one_message_naming_it(
    folder_built: Path, monkeypatch: pytest.MonkeyPatch, target: str, command: list[str]
) -> None:
    held = folder_built / target
    before = digest(held)
    with monkeypatch.context() as windows:
        hold_open(windows, held)
        result = CliRunner().invoke(cli, obj=STAND_IN, args=command)
    assert result.exit_code == 1, result.output
    assert isinstance(result.exception, SystemExit), result.exception
    assert f"{held.name} (in {held.parent}) cannot be replaced" in result.output
    assert "Close it, then run the command again." in result.output
    assert digest(held) == before
    result = CliRunner().invoke(cli, obj=STAND_IN, args=command)
    assert result.exit_code == 0, result.output


def test_simulated_windows_an_eml_held_open_when_queueing(
    folder_built: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    runner = CliRunner()
    assert runner.invoke(cli, obj=STAND_IN, args=["approve", "--by", "Pat"]).exit_code == 0
    outbox = folder_built / "output" / "2020" / "outbox"
    with monkeypatch.context() as windows:
        real = write_atomic

        def refuse_eml(path: Path, data: bytes, *, durable: bool = True) -> None:
            if path.suffix == ".eml" and "Leicestershire" in path.name:
                raise FileInUse(path)
            real(path, data, durable=durable)

        windows.setattr("letter_merge.mail.send.outbox.write_atomic", refuse_eml)
        result = runner.invoke(cli, obj=STAND_IN, args=["queue"])
    assert result.exit_code == 1, result.output
    assert "cannot be replaced" in result.output and "Leicestershire" in result.output
    assert "Traceback" not in result.output
    result = runner.invoke(cli, obj=STAND_IN, args=["queue"])
    assert result.exit_code == 0, result.output
    assert len(list(outbox.glob("*.eml"))) == 4


class _Full:
    """A file being written on a full disk: every write fails with ENOSPC."""

    def __init__(self, handle: int) -> None:
        os.close(handle)

    def __enter__(self) -> _Full:
        return self

    def __exit__(self, *_: object) -> None:
        pass

    def write(self, data: bytes) -> int:
        raise OSError(errno.ENOSPC, "No space left on device")


def fill_disk(monkeypatch: pytest.MonkeyPatch, folder: Path) -> None:
    """Every file written in `folder` meets a full disk (as a OneDrive at its quota does)."""
    real_mkstemp, real_fdopen = tempfile.mkstemp, os.fdopen
    full_handles: set[int] = set()

    def mkstemp(*args: Any, **kwargs: Any) -> tuple[int, str]:
        handle, name = real_mkstemp(*args, **kwargs)
        if Path(name).parent == folder:
            full_handles.add(handle)
        return handle, name

    def fdopen(handle: int, *args: Any, **kwargs: Any) -> Any:
        if handle in full_handles:
            full_handles.discard(handle)
            return _Full(handle)
        return real_fdopen(handle, *args, **kwargs)

    monkeypatch.setattr(tempfile, "mkstemp", mkstemp)
    monkeypatch.setattr(os, "fdopen", fdopen)


def test_a_full_disk_is_one_message_naming_the_folder_and_the_next_build_completes(
    folder_built: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    letters = folder_built / "output" / "2020" / "letters"
    before = {p.name: digest(p) for p in letters.iterdir()}
    with monkeypatch.context() as full:
        fill_disk(full, letters)
        result = CliRunner().invoke(cli, obj=STAND_IN, args=["build", "--force"])
    assert result.exit_code == 1, result.output
    assert isinstance(result.exception, SystemExit), result.exception
    assert f"The disk or share holding {letters} is full" in result.output
    assert "nothing was half-written" in result.output
    assert not list(letters.glob(".*.part"))
    # Every file left is whole: each is as it was (--force removed the PDFs it would remake).
    for path in letters.iterdir():
        assert digest(path) == before[path.name]
    result = CliRunner().invoke(cli, obj=STAND_IN, args=["build"])
    assert result.exit_code == 0, result.output
    assert len(list(letters.glob("*.pdf"))) == 4
    assert "Built 0 letters" not in result.output


def test_write_atomic_says_disk_full_and_leaves_the_old_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = tmp_path / "letter.pdf"
    target.write_bytes(b"%PDF old")
    fill_disk(monkeypatch, tmp_path)
    with pytest.raises(DiskFull) as raised:
        write_atomic(target, b"%PDF new")
    assert str(tmp_path) in str(raised.value)
    assert target.read_bytes() == b"%PDF old"
    assert [p.name for p in tmp_path.iterdir()] == ["letter.pdf"]


def test_simulated_windows_write_atomic_on_a_held_file_says_file_in_use(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = tmp_path / "Derby City Council - Annual Review 2020.pdf"
    target.write_bytes(b"%PDF old")
    hold_open(monkeypatch, target)
    with pytest.raises(FileInUse) as raised:
        write_atomic(target, b"%PDF new")
    assert raised.value.path == target
    assert target.read_bytes() == b"%PDF old"
    assert [p.name for p in tmp_path.iterdir()] == [target.name]
