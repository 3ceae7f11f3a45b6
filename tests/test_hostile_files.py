"""Damaged and hostile files are refused early and cheaply, with a message naming the file, and
nothing is written: zip bombs, XML entity declarations, files that are not what they claim."""

from __future__ import annotations

import json
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from click.testing import CliRunner

from letter_merge.cli import cli

BILLION_LAUGHS = (
    b'<?xml version="1.0"?>\n<!DOCTYPE lolz [<!ENTITY lol "lol">'
    + b"".join(
        f'<!ENTITY lol{n} "{("&lol" + (str(n - 1) if n > 1 else "") + ";") * 10}">'.encode()
        for n in range(1, 10)
    )
    + b"]>\n"
)
EXTERNAL = b'<?xml version="1.0"?>\n<!DOCTYPE x [<!ENTITY secret SYSTEM "file:///etc/passwd">]>\n'


def replace_part(package: Path, part: str, data: bytes, *, stored: bool = False) -> None:
    with zipfile.ZipFile(package) as source:
        parts = {info.filename: source.read(info) for info in source.infolist()}
    parts[part] = data
    with zipfile.ZipFile(package, "w", zipfile.ZIP_DEFLATED) as target:
        for name, content in parts.items():
            target.writestr(
                name, content, compress_type=zipfile.ZIP_STORED if stored else zipfile.ZIP_DEFLATED
            )


def with_prolog(package: Path, part: str, prolog: bytes, reference: bytes = b"") -> None:
    with zipfile.ZipFile(package) as source:
        xml = source.read(part)
    body = xml.split(b"?>", 1)[1] if xml.startswith(b"<?xml") else xml
    if reference:
        body = body.replace(b"<w:t>", b"<w:t>" + reference, 1)
    replace_part(package, part, prolog + body.lstrip())


def check_in_a_subprocess(folder: Path) -> tuple[int, str, float, float]:
    """`letter-merge check` in its own process: exit code, stderr, CPU seconds, and peak MB. CPU
    time, not time on the clock: a machine busy with other work must not fail the test, and a
    bomb expanded costs minutes of CPU all the same."""
    # The process's peak memory since it started Python. Linux: VmHWM (getrusage would also
    # count the moment it was forked from the test, which holds the hostile file's bytes).
    # Windows: the peak working set. macOS: getrusage (in bytes; exec starts a new task there).
    script = (
        "import json, re, sys, time\n"
        "from pathlib import Path\n"
        "from letter_merge.cli import cli\n"
        "try:\n"
        "    cli(['check'], prog_name='letter-merge')\n"
        "except SystemExit as end:\n"
        "    code = end.code\n"
        "if sys.platform == 'linux':\n"
        "    status = Path('/proc/self/status').read_text(encoding='utf-8')\n"
        "    peak = int(re.search(r'VmHWM:\\s+(\\d+)', status).group(1)) / 1024\n"
        "elif sys.platform == 'win32':\n"
        "    import psutil\n"
        "    peak = psutil.Process().memory_info().peak_wset / 2**20\n"
        "else:\n"
        "    import resource\n"
        "    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20\n"
        "print(json.dumps([code, peak, time.process_time()]))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script], cwd=folder, capture_output=True, text=True, timeout=120
    )
    code, peak, seconds = json.loads(result.stdout.strip().splitlines()[-1])
    return code, result.stderr, seconds, peak


@pytest.mark.parametrize(
    ("file", "spoil", "message"),
    [
        (
            "templates/letter.docx",
            lambda p: replace_part(p, "word/document.xml", b"\0" * (40 * 1024 * 1024)),
            "its part word/document.xml would expand to 40 MB (",
        ),
        (
            "templates/letter.docx",
            lambda p: replace_part(p, "word/media/filler.bin", b"A" * (6 * 1024 * 1024)),
            "its part word/media/filler.bin would expand to 6 MB (",
        ),
        (
            "templates/letter.docx",
            lambda p: with_prolog(p, "word/document.xml", BILLION_LAUGHS, b"&lol9;"),
            "its part word/document.xml declares a DOCTYPE or entities",
        ),
        (
            "templates/letter.docx",
            lambda p: with_prolog(p, "word/settings.xml", EXTERNAL),
            "its part word/settings.xml declares a DOCTYPE or entities",
        ),
        (
            "templates/letter.docx",  # hidden behind a comment that looks like an element
            lambda p: with_prolog(
                p,
                "word/styles.xml",
                b"<?xml version='1.0'?><!-- <w:a> "
                + b"x" * 9000
                + b" -->"
                + EXTERNAL.split(b"?>", 1)[1],
            ),
            "its part word/styles.xml declares a DOCTYPE or entities",
        ),
        (
            "templates/letter.docx",
            lambda p: replace_part(p, "word/footer1.xml", b"\0" * (2 * 1024 * 1024)),
            "its part word/footer1.xml does not begin as XML does",
        ),
        (
            "input/councils.xlsx",
            lambda p: replace_part(p, "xl/worksheets/sheet1.xml", b" " * (120 * 1024 * 1024)),
            "its part xl/worksheets/sheet1.xml would expand to 120 MB (",
        ),
        (
            "input/councils.xlsx",
            lambda p: with_prolog(p, "xl/worksheets/sheet1.xml", EXTERNAL),
            "its part xl/worksheets/sheet1.xml declares a DOCTYPE or entities",
        ),
        (
            "input/councils.xlsx",
            lambda p: with_prolog(p, "xl/workbook.xml", BILLION_LAUGHS),
            "its part xl/workbook.xml declares a DOCTYPE or entities",
        ),
    ],
)
def test_hostile_packages_are_refused_quickly_and_cheaply(
    folder: Path, file: str, spoil: object, message: str
) -> None:
    assert callable(spoil)
    spoil(folder / file)
    code, stderr, seconds, peak = check_in_a_subprocess(folder)
    assert code == 2, stderr
    assert stderr.startswith(f"Error: {folder / file}: {message}"), stderr
    assert "Traceback" not in stderr
    assert seconds < 5.0 and peak < 200, (seconds, peak)  # a bomb expanded takes minutes
    assert not (folder / "output").exists()


def test_files_that_are_not_what_they_claim(folder: Path) -> None:
    runner = CliRunner()
    (folder / "templates" / "letter.docx").write_text("not a zip", encoding="utf-8")
    result = runner.invoke(cli, ["check"])
    assert result.exit_code == 2
    assert result.output == (
        f"Error: {folder / 'templates' / 'letter.docx'}: cannot be read as a Word document (File "
        "is not a zip file); save it again from Word or LibreOffice Writer as .docx.\n"
    )


def test_an_email_template_that_is_not_a_small_text_file(folder: Path) -> None:
    email = folder / "templates" / "email.txt"
    email.write_bytes(b"Dear \xff\xfe")
    result = CliRunner().invoke(cli, ["check"])
    assert result.exit_code == 2
    assert result.output == (
        f"Error: {email}: the email template is not UTF-8 text (byte 5); save it as plain text "
        "with UTF-8 encoding.\n"
    )
    email.write_bytes(b"x" * (3 * 1024 * 1024))
    result = CliRunner().invoke(cli, ["check"])
    assert result.exit_code == 2
    assert "the email template is 3 MB; an email body is a few KB" in result.output
