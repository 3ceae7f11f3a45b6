"""LibreOffice's profiles record the version seen, so that it starts without its graphics
self-test (pdf/startup.py): the settings file as LibreOffice reads it, and LibreOffice itself."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest
from lxml import etree

from letter_merge.config import Settings
from letter_merge.pdf import startup
from letter_merge.pdf.convert import ConversionJob
from letter_merge.pdf.libreoffice import LibreOfficeConverter
from letter_merge.pdf.runs import Profiles
from letter_merge.pdf.soffice import find_libreoffice
from letter_merge.pdf.verify import Margins, difference
from letter_merge.process import ProgramResult, run_program
from tests.test_combined import jobs_for

VERSION = "LibreOffice 7.4.7.2 40(Build:2)"
RELEASE = "7.4"
LOG = Path("user", "GraphicsRenderTests.log")


def last_version(profile: Path) -> list[str]:
    root = etree.parse(str(profile / startup.SETTINGS)).getroot()
    oor = f"{{{startup.OOR}}}"
    return [
        value.text or ""
        for item in root.iterfind("item")
        if item.get(oor + "path") == "/org.openoffice.Setup/Product"
        for prop in item.iterfind("prop")
        if prop.get(oor + "name") == "ooSetupLastVersion"
        for value in prop.iterfind("value")
    ]


def test_the_release_is_what_libreoffice_compares() -> None:
    assert startup.release(VERSION) == "7.4"
    assert startup.release("LibreOffice 25.2.3.2 520(Build:2)") == "25.2"
    assert startup.release("Collabora Office 24.04.13.2") == "24.4"
    assert startup.release("LibreOffice (version unknown)") is None


def test_without_a_version_said_the_release_is_the_one_the_install_names(
    tmp_path: Path,
) -> None:
    # soffice.exe on Windows may print nothing for --version
    program = tmp_path / "LibreOffice" / "program" / "soffice.exe"
    settings = tmp_path / "LibreOffice" / "share" / "registry" / "main.xcd"
    settings.parent.mkdir(parents=True)
    settings.write_text(
        '<oor:data xmlns:oor="http://openoffice.org/2001/registry"><item>'
        '<prop oor:name="ooSetupVersion" oor:type="xs:string"><value/></prop>'
        '<prop oor:name="ooSetupVersion">\n  <value>24.8</value></prop></item></oor:data>',
        "utf-8",
    )
    assert startup.release_of("", program) == "24.8"
    assert startup.release_of(VERSION, program) == RELEASE, "what soffice says comes first"
    assert startup.release_of("", tmp_path / "elsewhere" / "program" / "soffice") is None


def test_a_new_profile_records_the_version_seen(tmp_path: Path) -> None:
    assert startup.record_seen(tmp_path / "profile", RELEASE)
    assert last_version(tmp_path / "profile") == ["7.4"]


def test_a_profile_libreoffice_wrote_keeps_its_settings_and_gains_the_version(
    tmp_path: Path,
) -> None:
    settings = tmp_path / startup.SETTINGS
    settings.parent.mkdir(parents=True)
    settings.write_text(
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<oor:items xmlns:oor="http://openoffice.org/2001/registry">'
        '<item oor:path="/org.openoffice.Setup/Office"><prop oor:name="ooSetupInstCompleted" '
        'oor:op="fuse"><value>true</value></prop></item>'
        '<item oor:path="/org.openoffice.Setup/Product"><prop oor:name="ooSetupLastVersion" '
        'oor:op="fuse"><value>6.4</value></prop><prop oor:name="ooName" oor:op="fuse">'
        "<value>LibreOffice</value></prop></item></oor:items>",
        "utf-8",
    )
    assert startup.record_seen(tmp_path, RELEASE)
    assert last_version(tmp_path) == ["7.4"], "an older version seen is replaced, not added to"
    assert b"ooSetupInstCompleted" in settings.read_bytes()
    assert b'oor:name="ooName"' in settings.read_bytes(), "what else its item says stays"


def test_a_later_version_seen_is_left_as_it_is(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert startup.record_seen(tmp_path, "25.2")

    def not_again(path: Path, data: bytes, **options: object) -> None:
        raise AssertionError("written again")

    monkeypatch.setattr(startup, "write_atomic", not_again)
    assert startup.record_seen(tmp_path, RELEASE)
    assert last_version(tmp_path) == ["25.2"]


@pytest.mark.parametrize(
    ("version", "settings"),
    [
        (None, None),
        (RELEASE, b"<oor:items"),  # cut short, as by a crash while writing it
    ],
)
def test_what_cannot_be_recorded_is_left_to_libreoffice(
    tmp_path: Path, version: str | None, settings: bytes | None
) -> None:
    if settings is not None:
        (tmp_path / startup.SETTINGS).parent.mkdir(parents=True)
        (tmp_path / startup.SETTINGS).write_bytes(settings)
    assert not startup.record_seen(tmp_path, version)
    assert (tmp_path / startup.SETTINGS).exists() == (settings is not None)
    if settings is not None:
        assert (tmp_path / startup.SETTINGS).read_bytes() == settings


def test_every_profile_a_conversion_uses_records_the_version(tmp_path: Path) -> None:
    with Profiles(tmp_path / "kept", 2, RELEASE) as kept:
        profiles = [kept.get(), kept.get()]
    with Profiles(None, 1, RELEASE) as temporary:
        profile = temporary.get()
        assert last_version(profile) == ["7.4"]
    assert [last_version(profile) for profile in profiles] == [["7.4"], ["7.4"]]


@pytest.mark.libreoffice
def test_libreoffice_starts_without_its_graphics_test_in_a_profile_of_ours(
    settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The real LibreOffice, twice (a new profile, then one used before): with the version
    recorded it never tests its drawing; without, as any script runs it, it does so (so this
    test would see if LibreOffice ever read the setting otherwise)."""
    program = find_libreoffice()
    assert program is not None
    jobs = jobs_for(settings, tmp_path / "letters")[:1]

    def convert_twice(profiles: Path) -> Path:
        converter = LibreOfficeConverter(program, workers=1, profile_dir=profiles, combine=False)
        for _ in range(2):
            assert [r.error for r in converter.convert(jobs)] == [None]
        return profiles / "profile-0"

    ours = convert_twice(tmp_path / "ours")
    said = startup.release(LibreOfficeConverter(program).version())
    assert last_version(ours) == [said]
    assert startup.release_of("", program) == said, "the install names the same release"
    assert not (ours / LOG).exists(), "no graphics test, at the first start or later"
    with monkeypatch.context() as patch:
        patch.setattr(startup, "record_seen", lambda profile, version: False)
        assert (convert_twice(tmp_path / "stock") / LOG).exists(), "without: it tests itself"


def test_libreoffice_is_started_with_jemalloc_on_linux_where_it_is_installed(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(sys, "platform", "linux")
    monkeypatch.setattr(startup, "jemalloc", lambda: "libjemalloc.so.2")
    monkeypatch.setenv("LD_PRELOAD", "libsomething.so")
    monkeypatch.delenv("LETTER_MERGE_LIBREOFFICE_MALLOC", raising=False)
    environment = startup.environment()
    assert environment is not None
    assert environment["LD_PRELOAD"] == "libjemalloc.so.2 libsomething.so", "others kept"
    assert environment["PATH"] == os.environ["PATH"]
    monkeypatch.setenv("LETTER_MERGE_LIBREOFFICE_MALLOC", "system")
    assert startup.environment() is None, "the system's allocator when asked for"
    monkeypatch.delenv("LETTER_MERGE_LIBREOFFICE_MALLOC")
    monkeypatch.setattr(startup, "jemalloc", lambda: None)
    assert startup.environment() is None, "not installed"
    monkeypatch.setattr(startup, "jemalloc", lambda: "libjemalloc.so.2")
    monkeypatch.setattr(sys, "platform", "win32")
    assert startup.environment() is None, "Windows and macOS: as they are"


@pytest.mark.libreoffice
def test_libreoffice_runs_with_jemalloc_and_makes_the_same_letters(
    settings: Settings, tmp_path: Path
) -> None:
    """Where jemalloc is installed (make test installs it on Debian): every LibreOffice run is
    given it, it is loaded into a program so started, and the letters are the same as with the
    system's allocator."""
    if startup.jemalloc() is None:
        pytest.skip("jemalloc is not installed here (Debian: libjemalloc2)")
    program = find_libreoffice()
    assert program is not None
    environment = startup.environment()
    assert environment is not None
    maps = subprocess.run(
        [sys.executable, "-c", "print(open('/proc/self/maps').read())"],
        env=environment,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert "libjemalloc" in maps
    given: list[str | None] = []

    def watching(args: Sequence[str | Path], **options: Any) -> ProgramResult:
        env = options.get("env")
        given.append(env.get("LD_PRELOAD") if env else None)
        return run_program(args, **options)

    jobs = jobs_for(settings, tmp_path / "letters")[:1]
    made = []
    for run, folder in ((watching, "jemalloc"), (run_program, "system")):
        with pytest.MonkeyPatch.context() as patch:
            if folder == "system":
                patch.setenv("LETTER_MERGE_LIBREOFFICE_MALLOC", "system")
            converter = LibreOfficeConverter(program, workers=1, combine=False, run=run)
            job = ConversionJob(jobs[0].docx, tmp_path / folder / jobs[0].pdf.name)
            job.pdf.parent.mkdir()
            assert [r.error for r in converter.convert([job])] == [None]
            made.append(job.pdf)
    assert given and all(preload and "libjemalloc" in preload for preload in given)
    assert difference(made[0].read_bytes(), made[1], Margins.of(jobs[0].docx)) is None
