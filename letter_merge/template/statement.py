"""What a letter states, as one fingerprint: the words of every part a reader sees (the body,
headers, footers, footnotes and endnotes) and its pictures. Never the bytes of the package or
of its PDF, which change with the tools, the clock and the document's own ids: a letter built
again from the same inputs states the same, and one whose words, figures or pictures differ
does not."""

from __future__ import annotations

import hashlib
import io
import re
import zipfile

from letter_merge.template.wordxml import parse, w
from letter_merge.words import packed

# The parts a reader sees, in a fixed order; pictures are taken from word/media/.
READ = re.compile(r"^word/(document|header\d*|footer\d*|footnotes|endnotes)\.xml$")


def statement_of(docx: bytes) -> str:
    """The SHA-256 of what the letter in `docx` (a Word package) says and shows."""
    return read_letter(docx)[0]


def read_letter(docx: bytes) -> tuple[str, str]:
    """What the letter in `docx` states (statement_of), and the words of its body, a paragraph a
    line, packed small (words.packed): kept with each build and each message, to say later which
    paragraphs a change rewords. One reading of the package."""
    digest = hashlib.sha256()
    body: str | None = None
    with zipfile.ZipFile(io.BytesIO(docx)) as package:
        names = sorted(package.namelist())
        for name in names:
            if READ.match(name):
                words = _words(package.read(name))
                digest.update(f"{name}\n{words}\n".encode())
                if name == "word/document.xml":
                    body = words
        pictures = sorted(
            hashlib.sha256(package.read(name)).hexdigest()
            for name in names
            if name.startswith("word/media/")
        )
        digest.update(("pictures\n" + "\n".join(pictures)).encode())
    return digest.hexdigest(), packed(body.splitlines()) if body is not None else ""


def _words(xml: bytes) -> str:
    """A part's text, a paragraph a line, spacing made regular."""
    root = parse(xml)
    lines = []
    for paragraph in root.iter(w("p")):
        text = "".join(node.text or "" for node in paragraph.iter(w("t"), w("tab")))
        lines.append(" ".join(text.split()))
    return "\n".join(line for line in lines if line)
