"""Converting one letter with Microsoft Word, in a process of its own: docx2pdf waits on Word with no
time limit, so word.py runs this through process.py, which stops it when it takes too long.

    python word_worker.py DOCX PDF

It exits 0 once docx2pdf is done, or prints "failed: <why>" as its last line and exits 1. It
imports nothing of letter-merge (the standard library and docx2pdf only).
"""

from __future__ import annotations

import sys

FAILED = "failed: "


def main(arguments: list[str]) -> int:
    docx, pdf = arguments
    try:
        from docx2pdf import convert

        convert(docx, pdf)
    except Exception as error:  # Word's automation errors come in many types
        print(f"{FAILED}{error}", flush=True)
        return 1
    return 0


if __name__ == "__main__":
    # Run as a script, this folder comes first on the path: its modules (split, pages, word...)
    # must not stand in for the modules of the same names docx2pdf and Word's bridge import.
    del sys.path[0]
    sys.exit(main(sys.argv[1:]))
