"""A LibreOffice kept running, converting one document at a time on request (UNO).

Run by warm.py with a Python that can import LibreOffice's `uno` module (Debian: python3 with
python3-uno; Windows and macOS: LibreOffice's own program/python), not the project's Python, so
it imports nothing of letter-merge but process.py (the standard library only), which starts
and ends LibreOffice here as everywhere else:

    python uno_worker.py SOFFICE PROFILE_DIR

It starts LibreOffice, says {"ready": true} on a line, then reads one request a line on stdin,
{"docx": ..., "pdf": ..., "options": {name: value}}, and answers each on stdout with
{"ok": true} or {"ok": false, "error": "..."}. An empty line or the end of stdin stops it.
"""

from __future__ import annotations

import contextlib
import json
import signal
import sys
import time
from pathlib import Path
from typing import Any

import uno  # type: ignore[import-not-found]
from com.sun.star.beans import PropertyValue  # type: ignore[import-not-found]
from com.sun.star.connection import NoConnectException  # type: ignore[import-not-found]

if __name__ == "__main__":  # run as a script: letter_merge is found beside this package
    sys.path.append(str(Path(__file__).resolve().parents[2]))
from letter_merge.process import ask_to_end, end_program, start_program


def prop(name: str, value: object) -> Any:
    item = PropertyValue()
    item.Name = name
    item.Value = value
    return item


def answer(reply: dict[str, object]) -> None:
    sys.stdout.write(json.dumps(reply) + "\n")
    sys.stdout.flush()


def leave(signum: int, frame: object) -> None:
    raise SystemExit(128 + signum)  # so that LibreOffice is ended on the way out


def main(soffice: str, profile: str) -> None:
    # Stopped by the desk, its terminal closing, or Ctrl-C: LibreOffice goes too.
    for name in ("SIGTERM", "SIGHUP", "SIGINT"):
        if hasattr(signal, name):
            signal.signal(getattr(signal, name), leave)
    pipe = f"letter-merge-{Path(profile).resolve().as_posix().replace('/', '-').strip('-')}"[-90:]
    office = start_program(
        [
            soffice,
            f"-env:UserInstallation={Path(profile).resolve().as_uri()}",
            "--headless",
            "--invisible",
            "--nologo",
            "--norestore",
            "--nodefault",
            "--nolockcheck",
            f"--accept=pipe,name={pipe};urp;StarOffice.ComponentContext",
        ]
    )
    try:
        local = uno.getComponentContext()
        resolver = local.ServiceManager.createInstanceWithContext(
            "com.sun.star.bridge.UnoUrlResolver", local
        )
        deadline = time.monotonic() + 90
        while True:
            try:
                context = resolver.resolve(f"uno:pipe,name={pipe};urp;StarOffice.ComponentContext")
                break
            except NoConnectException:
                if time.monotonic() > deadline or office.poll() is not None:
                    answer({"ready": False, "error": "LibreOffice did not start"})
                    return
                time.sleep(0.1)
        desktop = context.ServiceManager.createInstanceWithContext(
            "com.sun.star.frame.Desktop", context
        )
        answer({"ready": True})
        for line in sys.stdin:
            if not line.strip():
                break
            request = json.loads(line)
            try:
                convert(desktop, Path(request["docx"]), Path(request["pdf"]), request["options"])
                answer({"ok": True})
            except Exception as error:  # LibreOffice's errors come as many UNO types
                answer({"ok": False, "error": str(error) or type(error).__name__})
        # The bridge goes down with LibreOffice, which may say so as an error.
        with contextlib.suppress(Exception):
            desktop.terminate()
    finally:  # LibreOffice and what it started (soffice is a launcher for soffice.bin)
        ask_to_end(office)
        end_program(office, grace=10)


def convert(desktop: Any, docx: Path, pdf: Path, options: dict[str, object]) -> None:
    filter_data = uno.Any(
        "[]com.sun.star.beans.PropertyValue",
        tuple(prop(name, value) for name, value in options.items()),
    )
    document = desktop.loadComponentFromURL(
        uno.systemPathToFileUrl(str(docx.resolve())), "_blank", 0, (prop("Hidden", True),)
    )
    if document is None:
        raise RuntimeError("LibreOffice could not open it")
    try:
        store = (prop("FilterName", "writer_pdf_Export"), prop("FilterData", filter_data))
        uno.invoke(document, "storeToURL", (uno.systemPathToFileUrl(str(pdf.resolve())), store))
    finally:
        document.close(True)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
