"""Convert letters one document at a time through a persistent LibreOffice (UNO), unoserver's way:
the comparison `make bench` measures the combined build against.

Run by bench.py with a Python that can import LibreOffice's `uno` module (Debian: python3 with the
python3-uno package; elsewhere LibreOffice's own program/python), not the project's environment:

    python3 uno_per_letter.py SOFFICE PROFILE_DIR OUT_DIR FILTER_JSON DOCX...

FILTER_JSON holds the PDF export's filter data, as letter-merge gives it (name -> value).
"""

from __future__ import annotations

import contextlib
import json
import subprocess
import sys
import time
from pathlib import Path

import uno  # type: ignore[import-not-found]
from com.sun.star.beans import PropertyValue  # type: ignore[import-not-found]
from com.sun.star.connection import NoConnectException  # type: ignore[import-not-found]


def prop(name: str, value: object) -> PropertyValue:
    item = PropertyValue()
    item.Name = name
    item.Value = value
    return item


def main(soffice: str, profile: str, out_dir: str, options: str, documents: list[str]) -> None:
    pipe = f"letter-merge-bench-{Path(profile).name}"
    office = subprocess.Popen(
        [
            soffice,
            f"-env:UserInstallation={Path(profile).resolve().as_uri()}",
            "--headless",
            "--invisible",
            "--nologo",
            "--norestore",
            "--nodefault",
            f"--accept=pipe,name={pipe};urp;StarOffice.ComponentContext",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        local = uno.getComponentContext()
        resolver = local.ServiceManager.createInstanceWithContext(
            "com.sun.star.bridge.UnoUrlResolver", local
        )
        deadline = time.monotonic() + 60
        while True:
            try:
                context = resolver.resolve(f"uno:pipe,name={pipe};urp;StarOffice.ComponentContext")
                break
            except NoConnectException:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)
        desktop = context.ServiceManager.createInstanceWithContext(
            "com.sun.star.frame.Desktop", context
        )
        values = json.loads(options)
        filter_data = uno.Any(
            "[]com.sun.star.beans.PropertyValue",
            tuple(prop(name, value) for name, value in values.items()),
        )
        store = (prop("FilterName", "writer_pdf_Export"), prop("FilterData", filter_data))
        for document in documents:
            source = Path(document).resolve()
            target = Path(out_dir) / f"{source.stem}.pdf"
            loaded = desktop.loadComponentFromURL(
                uno.systemPathToFileUrl(str(source)), "_blank", 0, (prop("Hidden", True),)
            )
            uno.invoke(loaded, "storeToURL", (uno.systemPathToFileUrl(str(target)), store))
            loaded.close(True)
        # The bridge goes down with LibreOffice, which may say so as an error.
        with contextlib.suppress(Exception):
            desktop.terminate()
    finally:
        try:
            office.wait(timeout=30)
        except subprocess.TimeoutExpired:
            office.kill()


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4], sys.argv[5:])
