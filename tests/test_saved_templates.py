"""Templates as staff really bring them, with real LibreOffice: saved by LibreOffice Writer, saved
by Word (runs split, spelling marks and bookmarks inside tags), with tracked changes and comments
left in; and a build stopped with Ctrl-C."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import pytest
from click.testing import CliRunner

from letter_merge.cli import cli
from tests.helpers import (
    ROOT,
    as_word_saves_it,
    pdf_text,
    soffice,
    with_tracked_changes_and_a_comment,
)

pytestmark = pytest.mark.libreoffice

COUNCILS = ("Leicestershire County Council", "Brighton & Hove City Council")


def save_with_libreoffice(template: Path, scratch: Path) -> None:
    """Open and save the template in LibreOffice Writer, as staff who use Writer do."""
    soffice(template, "docx:MS Word 2007 XML", scratch / "saved", scratch / "profile")
    shutil.copy(scratch / "saved" / template.name, template)


def letters_text(folder: Path) -> dict[str, str]:
    result = CliRunner().invoke(cli, ["build", *(f"--only={name}" for name in COUNCILS)])
    assert result.exit_code == 0, result.output
    letters = folder / "output" / "2020" / "letters"
    return {name: pdf_text(letters / f"{name} - Annual Review 2020.pdf") for name in COUNCILS}


@pytest.fixture(scope="module")
def original_text(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    folder = tmp_path_factory.mktemp("original")
    for name in ("templates", "input"):
        shutil.copytree(ROOT / name, folder / name)
    shutil.copy(ROOT / "letter-merge.toml", folder)
    old = Path.cwd()
    os.chdir(folder)
    try:
        return letters_text(folder)
    finally:
        os.chdir(old)


@pytest.fixture
def sample(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The repository's working folder (all 343 councils), copied."""
    folder = tmp_path / "work"
    for name in ("templates", "input"):
        shutil.copytree(ROOT / name, folder / name)
    shutil.copy(ROOT / "letter-merge.toml", folder)
    monkeypatch.chdir(folder)
    return folder


def test_a_template_saved_by_libreoffice_makes_the_same_letters(
    sample: Path, tmp_path: Path, original_text: dict[str, str]
) -> None:
    template = sample / "templates" / "letter.docx"
    save_with_libreoffice(template, tmp_path)
    assert "&apos;" in body_xml(template)  # as Writer writes quotes inside tags
    check = CliRunner().invoke(cli, ["check"])
    assert check.exit_code == 0, check.output
    assert letters_text(sample) == original_text


def test_a_template_saved_by_word_makes_the_same_letters(
    sample: Path, original_text: dict[str, str]
) -> None:
    template = sample / "templates" / "letter.docx"
    as_word_saves_it(template)
    xml = body_xml(template)
    assert "<w:proofErr" in xml and "_GoBack" in xml
    assert letters_text(sample) == original_text


def test_tracked_changes_and_comments_are_found_after_saving_in_writer(
    sample: Path, tmp_path: Path
) -> None:
    template = sample / "templates" / "letter.docx"
    with_tracked_changes_and_a_comment(template)
    save_with_libreoffice(template, tmp_path)  # Writer keeps them, as it would for staff
    for command in (["check"], ["build", "--only", COUNCILS[0]]):
        result = CliRunner().invoke(cli, command)
        assert result.exit_code == 1, result.output
        lines = result.output.splitlines()
        assert lines[0] == "Error: 2 problems must be fixed first:"
        assert lines[1].startswith(
            "  - letter.docx, paragraph 3 'By email only': has tracked changes (a deletion "
            "'and post', an insertion 'only'); accept or reject every change"
        )
        assert lines[2].startswith(
            "  - letter.docx, paragraph 3 'By email only': has a comment; delete the comments"
        )
    assert not (sample / "output" / "2020" / "letters").exists()


def test_ctrl_c_stops_a_build_within_two_seconds_and_leaves_nothing_half_written(
    sample: Path,
) -> None:
    if sys.platform == "win32":
        pytest.skip("Ctrl-C as a terminal sends it here is SIGINT to a process group (POSIX)")
    build = subprocess.Popen(
        [sys.executable, "-m", "letter_merge", "build"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,  # its own process group, as a terminal gives it
        # Ctrl-C heard, as in a terminal, even where these tests were started in the background
        # (a shell without job control starts background commands with SIGINT ignored).
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    letters = sample / "output" / "2020" / "letters"
    deadline = time.monotonic() + 120
    while not (letters.is_dir() and any(letters.glob(".converting-*"))):
        assert time.monotonic() < deadline and build.poll() is None, "LibreOffice never started"
        time.sleep(0.05)
    time.sleep(0.5)
    started = time.monotonic()
    os.killpg(build.pid, signal.SIGINT)  # what Ctrl-C in a terminal sends
    build.wait(timeout=30)  # the prompt is back when the build has ended
    stopped = time.monotonic() - started
    _, stderr = build.communicate(timeout=30)
    assert stopped < 2, (stopped, stderr)
    assert build.returncode == 130
    assert stderr.splitlines()[-1] == (
        "Stopped (Ctrl-C). What was finished is kept and nothing half-written was left: run the "
        "same command again to carry on."
    )
    assert [p.name for p in letters.iterdir() if p.name.startswith(".")] == []
    for pdf in letters.glob("*.pdf"):
        assert pdf.read_bytes().startswith(b"%PDF-") and pdf.read_bytes().rstrip().endswith(
            b"%%EOF"
        )
    # and running it again carries on to the end
    result = CliRunner().invoke(cli, ["build", "--no-pdf"])
    assert result.exit_code == 0, result.output


def body_xml(template: Path) -> str:
    with zipfile.ZipFile(template) as package:
        return package.read("word/document.xml").decode("utf-8")
