"""Helpers the tests share: small workbooks and templates made in the test, PDFs and documents
read back, and headless Chromium."""

from __future__ import annotations

import asyncio
import contextlib
import email
import email.policy
import html
import http.server
import io
import os
import re
import shutil
import socket
import ssl
import subprocess
import sys
import threading
import time
import zipfile
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from click.testing import CliRunner, Result
from docx import Document
from openpyxl import Workbook

from letter_merge.cli import Frontend, cli
from letter_merge.pdf import reading
from letter_merge.records.ledger import Ledger

ROOT = Path(__file__).resolve().parent.parent
SEED_LETTER = ROOT / "tests" / "data" / "seed-letter.txt"

CONTACT_HEADERS = (
    "Authority",
    "Authority type",
    "GSS code",
    "Title",
    "First name",
    "Surname",
    "Job title",
    "Email",
    "Cc",
)
STATISTIC_HEADERS = (
    "Authority",
    "Detailed investigations",
    "Upheld",
    "Compliance outcomes",
    "Complied",
    "Satisfactory remedies",
    "Received: Housing",
    "Decided: Upheld",
)


def contact(
    authority: str,
    kind: str = "District Council",
    *,
    title: str = "Ms",
    first: str = "Ann",
    surname: str = "Smith",
    email: str | None = None,
    cc: str = "",
    code: str = "",
    job: str = "",
) -> list[Any]:
    slug = re.sub(r"[^a-z]+", "-", authority.lower()).strip("-")
    return [
        authority,
        kind,
        code,
        title,
        first,
        surname,
        job,
        email or f"ce@{slug}.example.org",
        cc,
    ]


def contacts_of(
    councils: Iterable[tuple[str, str, str, str, str]], cc: Mapping[str, str] | None = None
) -> list[list[Any]]:
    """Contacts rows for (authority, type, title, first name, surname) tuples, with the Cc of
    any authority named in `cc`."""
    return [
        contact(name, kind, title=title, first=first, surname=surname, cc=(cc or {}).get(name, ""))
        for name, kind, title, first, surname in councils
    ]


def statistics(
    authority: str,
    investigated: Any = 10,
    upheld: Any = 5,
    outcomes: Any = 4,
    complied: Any = 4,
    remedies: Any = 1,
    housing: Any = 7,
    decided_upheld: Any = 5,
) -> list[Any]:
    return [authority, investigated, upheld, outcomes, complied, remedies, housing, decided_upheld]


def write_workbook(
    path: Path,
    contacts: Iterable[Sequence[Any]],
    stats: Iterable[Sequence[Any]],
    *,
    contact_headers: Sequence[str] = CONTACT_HEADERS,
    statistic_headers: Sequence[str] = STATISTIC_HEADERS,
) -> Path:
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.title = "Contacts"
    sheet.append(list(contact_headers))
    for row in contacts:
        sheet.append(list(row))
    sheet = book.create_sheet("Statistics")
    sheet.append(list(statistic_headers))
    for row in stats:
        sheet.append(list(row))
    book.save(path)
    return path


DEFAULT_COUNCILS = (
    ("Leicestershire County Council", "County Council", "Mr", "John", "Sinnott"),
    ("Derby City Council", "Unitary Council", "Ms", "Siân", "O'Brien"),
    ("Brighton & Hove City Council", "Unitary Council", "Dr", "Kim", "Lee <Acting>"),
    ("Adur District Council", "District Council", "", "Alex", "Fairbairn"),
)


def pdf_text(path: Path) -> str:
    """The PDF's text as letter-merge reads it (pdfium), page footers ('Page 2') dropped."""
    lines = reading.pdf_text(path).splitlines()
    return "\n".join(line for line in lines if not re.fullmatch(r"\s*Page \d+\s*", line))


def normalise(text: str) -> str:
    """One space between words; curly apostrophes made straight."""
    return " ".join(text.replace("\u2019", "'").replace("\f", " ").split())


def docx_text(data: bytes | Path) -> str:
    """All text of a .docx (body paragraphs and table cells), in document order."""
    document = Document(io.BytesIO(data) if isinstance(data, bytes) else str(data))
    parts: list[str] = []
    for block in document.iter_inner_content():
        if hasattr(block, "rows"):
            parts.extend(cell.text for row in block.rows for cell in row.cells)
        else:
            parts.append(block.text)
    return "\n".join(parts)


def make_template(path: Path, *paragraphs: str, table_cells: tuple[str, ...] = ()) -> Path:
    document = Document()
    for text in paragraphs:
        document.add_paragraph(text)
    if table_cells:
        table = document.add_table(rows=len(table_cells), cols=1)
        for row, text in zip(table.rows, table_cells, strict=True):
            row.cells[0].text = text
    document.save(str(path))
    return path


CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--enable-logging=stderr",
    "--v=0",
]


def chromium(page: Path, profile: Path, *, fragment: str = "") -> tuple[str, list[str]]:
    """The page's DOM after its script ran, and what its console said."""
    program = shutil.which("chromium") or shutil.which("chromium-browser")
    assert program, "Chromium must be installed for this test (make test installs it)"
    result = subprocess.run(
        [
            program,
            *CHROMIUM_FLAGS,
            f"--user-data-dir={profile}",
            "--dump-dom",
            page.as_uri() + fragment,
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    console = [line for line in result.stderr.splitlines() if ":CONSOLE" in line]
    return result.stdout, console


def rewrite_part(package: Path, part: str, change: Callable[[str], str]) -> None:
    """Replace one part of a .docx or .xlsx package with `change(its text)`."""
    with zipfile.ZipFile(package) as source:
        parts = {info.filename: source.read(info) for info in source.infolist()}
    parts[part] = change(parts[part].decode("utf-8")).encode("utf-8")
    with zipfile.ZipFile(package, "w", zipfile.ZIP_DEFLATED) as target:
        for name, data in parts.items():
            target.writestr(name, data)


def as_word_saves_it(template: Path) -> None:
    """What Word does to a template as it is edited: each tag split over several runs, with
    spelling marks and a bookmark between the pieces (the tags' text is unchanged)."""

    def split(match: re.Match[str]) -> str:
        properties, text = match.group(1) or "", match.group(2)
        pieces = re.split(r"(?<=\{\{)|(?<=\{%)|(?=\}\})|(?=%\})|(?<=\s)(?=\w)", text)
        runs = [
            f'<w:r>{properties}<w:t xml:space="preserve">{html.escape(piece, quote=False)}</w:t></w:r>'
            for piece in pieces
            if piece
        ]
        noise = (
            '<w:proofErr w:type="spellStart"/>',
            '<w:bookmarkStart w:id="8001" w:name="_GoBack"/><w:bookmarkEnd w:id="8001"/>',
            '<w:proofErr w:type="spellEnd"/>',
        )
        joined = runs[0]
        for number, run in enumerate(runs[1:]):
            joined += noise[number % len(noise)] + run
        return joined

    def change(xml: str) -> str:
        return re.sub(
            r"<w:r>(<w:rPr>(?:(?!</w:rPr>).)*</w:rPr>)?<w:t(?: xml:space=\"preserve\")?>"
            r"([^<]*(?:\{\{|\{%)[^<]*)</w:t></w:r>",
            lambda m: (
                split(m) if "{%p" not in m.group(2) and "{%tr" not in m.group(2) else m.group(0)
            ),
            xml,
        )

    rewrite_part(template, "word/document.xml", change)


def with_tracked_changes_and_a_comment(template: Path) -> None:
    """A deletion, an insertion and a comment left in the template's first paragraphs with text."""
    stamp = 'w:author="Sam Smith" w:date="2020-07-01T09:00:00Z"'

    def change(xml: str) -> str:
        xml = xml.replace(
            "<w:t>By email</w:t></w:r>",
            f'<w:t>By email</w:t></w:r><w:del w:id="701" {stamp}><w:r><w:delText xml:space="preserve"> and post'
            f'</w:delText></w:r></w:del><w:ins w:id="702" {stamp}><w:r><w:t xml:space="preserve"> only'
            "</w:t></w:r>"
            '</w:ins><w:commentRangeStart w:id="0"/><w:r><w:commentReference w:id="0"/></w:r>',
            1,
        )
        assert "commentReference" in xml, "the template has no 'By email' paragraph"
        return xml

    rewrite_part(template, "word/document.xml", change)
    comments = (
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
        '<w:comments xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main">'
        f'<w:comment w:id="0" {stamp} w:initials="SS"><w:p><w:r><w:t>Check with legal</w:t>'
        "</w:r></w:p></w:comment></w:comments>"
    )
    with zipfile.ZipFile(template, "a") as package:
        package.writestr("word/comments.xml", comments)
    rewrite_part(
        template,
        "word/_rels/document.xml.rels",
        lambda xml: xml.replace(
            "</Relationships>",
            '<Relationship Id="rIdComments" Type="http://schemas.openxmlformats.org/'
            'officeDocument/2006/relationships/comments" Target="comments.xml"/></Relationships>',
        ),
    )
    rewrite_part(
        template,
        "[Content_Types].xml",
        lambda xml: xml.replace(
            "</Types>",
            '<Override PartName="/word/comments.xml" ContentType="application/vnd.openxmlformats-'
            'officedocument.wordprocessingml.comments+xml"/></Types>',
        ),
    )


# Sending: an SMTP server's handler that records what it accepts, and the CLI run in-process.

AUTHORITIES = [
    "Leicestershire County Council",
    "Derby City Council",
    "Brighton & Hove City Council",
    "Adur District Council",
]


@dataclass
class Received:
    message_id: str
    rcpt_tos: list[str]
    subject: str
    to: str
    body: str = ""


@dataclass
class Recorder:
    """An SMTP handler that keeps what it accepts and answers DATA as scripted."""

    received: list[Received] = field(default_factory=list)
    script: list[str] = field(default_factory=list)  # replies to the next DATAs; "drop" cuts
    connections: int = 0
    delay: float = 0.0
    refuse_recipients: set[str] = field(default_factory=set)  # answered 550 at RCPT

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, options: list[str]
    ) -> str:
        if address in self.refuse_recipients:
            return "550 5.1.1 No such user"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_EHLO(
        self, server: Any, session: Any, envelope: Any, hostname: str, responses: list[str]
    ) -> list[str]:
        self.connections += 1
        session.host_name = hostname
        return responses

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        if self.delay:
            await asyncio.sleep(self.delay)
        reply = self.script.pop(0) if self.script else "250 2.0.0 Message accepted"
        if reply.startswith("250") or reply == "drop":
            message = email.message_from_bytes(envelope.content, policy=email.policy.default)
            self.received.append(
                Received(
                    str(message["Message-ID"]),
                    list(envelope.rcpt_tos),
                    str(message["Subject"]),
                    str(message["To"]),
                    _plain_body(message),
                )
            )
        if reply == "drop":
            server.transport.close()  # the client never hears whether it arrived
            return "250 never seen"
        return reply


def _plain_body(message: Any) -> str:
    body = message.get_body(("plain",))
    return str(body.get_content()).replace("\r\n", "\n") if body is not None else ""


def soffice(document: Path, target: str, outdir: Path, profile: Path) -> None:
    """Run LibreOffice's own --convert-to on `document`, as a person would at the command line."""
    from letter_merge.pdf.soffice import find_libreoffice

    program = find_libreoffice()
    assert program is not None
    subprocess.run(
        [
            str(program),
            f"-env:UserInstallation={profile.as_uri()}",
            "--headless",
            "--convert-to",
            target,
            "--outdir",
            str(outdir),
            str(document),
        ],
        check=True,
        capture_output=True,
        timeout=120,
    )


@contextlib.contextmanager
def desk_process(
    folder: Path, environ: dict[str, str] | None = None
) -> Iterator[tuple[subprocess.Popen[str], str]]:
    """`letter-merge desk --no-browser` running in `folder`, and the address it printed first."""
    with subprocess.Popen(
        [sys.executable, "-m", "letter_merge", "desk", "--no-browser"],
        cwd=folder,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        env=environ,
    ) as desk:
        try:
            assert desk.stdout is not None
            yield desk, desk.stdout.readline().strip()
        finally:
            if desk.poll() is None:
                desk.terminate()
            desk.wait(timeout=30)


class StandInHandler(http.server.BaseHTTPRequestHandler):
    """A stand-in's request handler: each method goes to `reply(method)`; no log lines."""

    def reply(self, method: str) -> None:
        raise NotImplementedError

    def do_GET(self) -> None:
        self.reply("GET")

    def do_POST(self) -> None:
        self.reply("POST")

    def do_PATCH(self) -> None:
        self.reply("PATCH")

    def do_DELETE(self) -> None:
        self.reply("DELETE")

    def log_message(self, format: str, *args: object) -> None:
        pass


def start_http(
    handler: type[http.server.BaseHTTPRequestHandler],
    *,
    tls: ssl.SSLContext | None = None,
    port: int = 0,
) -> http.server.ThreadingHTTPServer:
    """A stand-in's HTTP server on 127.0.0.1 (`port`, or a free one), over TLS with `tls`,
    serving in a thread of its own until shut down."""
    server = http.server.ThreadingHTTPServer(("127.0.0.1", port), handler)
    server.daemon_threads = True
    if tls is not None:
        server.socket = tls.wrap_socket(server.socket, server_side=True)
    threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True).start()
    return server


@contextlib.contextmanager
def serving_http(
    handler: type[http.server.BaseHTTPRequestHandler], *, tls: ssl.SSLContext | None = None
) -> Iterator[int]:
    """`start_http` for as long as the block runs; gives the port."""
    server = start_http(handler, tls=tls)
    try:
        yield int(server.server_address[1])
    finally:
        server.shutdown()
        server.server_close()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# An HTML email with the office's logo, its text alternative and the letter's PDF, part by part.
HTML_EMAIL_PARTS = [
    "multipart/mixed",
    "multipart/alternative",
    "text/plain",
    "multipart/related",
    "text/html",
    "image/png",
    "application/pdf",
]

# What `run` gives the command line: its converter. A fixture that builds with the stand-in
# for LibreOffice sets FRONTEND to tests.standin.STAND_IN for its tests.
FRONTEND = Frontend()


def run(*args: str) -> Result:
    return CliRunner().invoke(cli, list(args), obj=FRONTEND)


def approve_and_queue() -> None:
    assert run("approve", "--by", "Jo Bloggs").exit_code == 0
    result = run("queue")
    assert result.exit_code == 0, result.output


def ledger_states(folder: Path) -> dict[str, str]:
    with Ledger(folder / "output" / "2020" / "ledger.sqlite") as ledger:
        return {m.authority: m.state for m in ledger.messages()}


def at_a_terminal(folder: Path, args: Sequence[str], answer: str, asked: str) -> tuple[int, str]:
    """Run `letter-merge args` in `folder` in a pseudo-terminal, as a person at a terminal does,
    typing `answer` once it has printed `asked`: its exit code and what it showed. POSIX only
    (Windows has no pty): the caller skips there, saying so."""
    import pty  # imported here, where it exists, so that the other tests run on Windows

    controller, terminal = pty.openpty()
    process = subprocess.Popen(
        [sys.executable, "-m", "letter_merge", *args],
        cwd=folder,
        stdin=terminal,
        stdout=terminal,
        stderr=terminal,
        env={**os.environ, "COLUMNS": "200"},
    )
    os.close(terminal)
    seen = b""
    deadline = time.monotonic() + 60
    while asked.encode() not in seen:
        assert time.monotonic() < deadline and process.poll() is None, seen.decode(errors="replace")
        seen += os.read(controller, 4096)
    os.write(controller, f"{answer}\n".encode())
    while True:
        try:
            chunk = os.read(controller, 4096)
        except OSError:  # the terminal closed: the program has ended
            break
        if not chunk:
            break
        seen += chunk
    process.wait(timeout=60)
    os.close(controller)
    return process.returncode, seen.decode(errors="replace").replace("\r\n", "\n")
