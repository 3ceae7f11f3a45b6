"""The whole batch through Microsoft Graph: the repository's 343 councils, built with the stand-in
for LibreOffice (tests/standin.py: the letters' bytes and words, not their looks, are what
sending checks), proofed, approved and queued as HTML email from templates/email.docx (logo
inline, a plain-text alternative, the PDF), then sent through GRAPH SENDING STAND-IN
(tests/graph_standin.py) as the app, from the team's shared mailbox, signed in with MSAL against
IDENTITY STAND-IN (tests/test_oauth.py). Microsoft's cloud cannot run here; both are named so.

On the way: one connection dropped after a send (the message went), one dropped before it
did, and the sender killed (SIGKILL) mid-batch; the next `send` settles the one in doubt from the
mailbox. At the end every letter must be in Sent Items exactly once, under the Message-ID it was
queued with, the ledger must say so, and `delivery` must match a bounce to it.

    python benchmarks/graph_send.py            # prints the times of each step
"""

from __future__ import annotations

import email
import email.policy
import os
import shutil
import signal
import sqlite3
import ssl
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import trustme  # noqa: E402
from click.testing import CliRunner  # noqa: E402

from letter_merge.cli import cli  # noqa: E402
from tests.graph_standin import GraphSendStandIn, serving  # noqa: E402
from tests.helpers import HTML_EMAIL_PARTS  # noqa: E402
from tests.standin import PLAIN_PDF, STAND_IN  # noqa: E402
from tests.test_delivery import postfix_bounce  # noqa: E402
from tests.test_oauth import CLIENT_ID, SECRET, TENANT, IdentityStandIn, serve_identity  # noqa: E402

TEAM = "annual.review@ombudsman.example"


def step(name: str, started: float) -> float:
    now = time.monotonic()
    print(f"  {name:<46} {now - started:7.1f} s", flush=True)
    return now


def cli_run(*args: str) -> str:
    result = CliRunner().invoke(cli, list(args), obj=STAND_IN)  # the stand-in makes the PDFs
    if result.exit_code != 0:
        raise SystemExit(f"letter-merge {' '.join(args)} failed:\n{result.output}")
    return result.output


def main() -> int:
    folder = Path(tempfile.mkdtemp(prefix="graph-send-343-"))
    shutil.copytree(ROOT / "input", folder / "input")
    shutil.copytree(ROOT / "templates", folder / "templates")
    settings = (ROOT / "letter-merge.toml").read_text(encoding="utf-8")
    settings = settings.replace("templates/email.txt", "templates/email.docx")
    settings = settings.replace("rate_per_minute = 30 ", "rate_per_minute = 6000 ")
    # The stand-in's PDFs are plain (tests/standin.py), as PLAIN_PDF sets.
    settings = settings.split("[pdf]")[0] + PLAIN_PDF.lstrip()
    (folder / "letter-merge.toml").write_text(settings, encoding="utf-8")
    os.chdir(folder)
    print(f"In {folder}:")
    started = time.monotonic()
    cli_run("build")
    started = step("build 343 letters (stand-in converter)", started)
    cli_run("proof")
    cli_run("approve", "--by", "Benchmark")
    started = step("proof, approve", started)
    cli_run("queue")
    emls = sorted((folder / "output/2020/outbox").glob("*.eml"))
    assert len(emls) == 343, len(emls)
    started = step("queue 343 HTML emails (Word email, mammoth)", started)
    queued = {
        str(email.message_from_bytes(p.read_bytes(), policy=email.policy.default)["Message-ID"])
        for p in emls
    }

    authority = trustme.CA()
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    authority.issue_cert("localhost", "127.0.0.1").configure_cert(context)
    ca_file = folder / "test-ca.pem"
    authority.cert_pem.write_to_path(str(ca_file))
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        identity_port = probe.getsockname()[1]
    identity = IdentityStandIn(identity_port)
    identity_server = serve_identity(identity, context)
    stand_in = GraphSendStandIn(valid=identity.valid, send_as={TEAM})
    with serving(stand_in, context):
        with (folder / "letter-merge.toml").open("a", encoding="utf-8") as more:
            more.write(
                '\n[send]\nvia = "graph"\n'
                f'[oauth2]\nprovider = "microsoft"\nflow = "client-credentials"\n'
                f'client_id = "{CLIENT_ID}"\ntenant = "{TENANT}"\n'
                f'authority = "{identity.authority}"\n'
                f'[mailbox]\nauth = "graph"\nusername = "{TEAM}"\n'
            )
        environ = {
            **os.environ,
            "REQUESTS_CA_BUNDLE": str(ca_file),
            "LETTER_MERGE_GRAPH_URL": stand_in.base,
            "LETTER_MERGE_OAUTH2_CLIENT_SECRET": SECRET,
        }
        os.environ.update(environ)
        command = [sys.executable, "-m", "letter_merge", "send", "--yes"]
        # A dropped connection after the 50th send (it went), one before the 60th (it did not).
        stand_in.script = [*[""] * 49, "drop-sent", *[""] * 9, "drop-unsent"]
        process = subprocess.Popen(command, env=environ, stdout=subprocess.PIPE, text=True)
        while len(stand_in.sent) < 170 and process.poll() is None:
            time.sleep(0.01)
        stand_in.delay = 0.5  # the next send is slow: the kill lands inside it
        time.sleep(0.25)
        os.kill(process.pid, signal.SIGKILL)
        process.wait()
        stand_in.delay = 0
        time.sleep(0.6)
        killed_at = len(stand_in.sent)
        started = step(f"send, killed after {killed_at} were sent", started)
        rest = subprocess.run(command, env=environ, capture_output=True, text=True, check=False)
        if rest.returncode != 0:
            raise SystemExit(rest.stdout + rest.stderr)
        started = step(f"send the rest ({len(stand_in.sent) - killed_at})", started)
        settled = [line for line in rest.stdout.splitlines() if line.startswith("Settled")]
        print("   ", *settled, sep="\n    ")

        sent_ids = [m.internet_message_id for m in stand_in.sent]
        assert len(sent_ids) == 343 and set(sent_ids) == queued, "not every letter exactly once"
        assert not [i for i in stand_in.items.values() if i.is_draft], "a draft left behind"
        sample = stand_in.sent[0].parsed()
        kinds = [part.get_content_type() for part in sample.walk()]
        assert kinds == HTML_EMAIL_PARTS, kinds
        with sqlite3.connect(folder / "output/2020/ledger.sqlite") as ledger:
            rows = ledger.execute("SELECT message_id, state, last_reply FROM messages").fetchall()
        assert {state for _, state, _ in rows} == {"sent"}
        recorded = sum(1 for message_id, _, reply in rows if message_id in reply)
        print(f"    ledger: 343 sent; {recorded} replies name their internetMessageId")

        derby = next(m for m in stand_in.sent if "Derby City" in str(m.parsed()["Subject"]))
        address = str(derby.parsed()["To"]).split("<")[-1].rstrip(">")
        stand_in.deliver(
            f"users/{TEAM}",
            postfix_bounce(derby.internet_message_id, address, "x"),
            "2020-07-22T12:00:00Z",
        )
        found = cli_run("delivery")
        assert "Derby City Council: did not arrive" in found, found
        step("delivery matched the bounce", started)
    identity_server.shutdown()
    print("Every letter went once; the one in doubt was settled from Sent Items.")
    shutil.rmtree(folder, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
