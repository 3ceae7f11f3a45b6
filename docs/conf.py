"""Sphinx settings for letter-merge's manual: `make docs` builds it into build/docs/, strictly
(every warning an error, every reference checked)."""

from __future__ import annotations

import logging
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE / "_ext"), str(HERE.parent)]
# pikepdf (imported with the commands) greets its logger at INFO; the build shows warnings only.
logging.getLogger("pikepdf").setLevel(logging.WARNING)

project = "letter-merge"
author = "letter-merge"
copyright = "letter-merge's authors"
language = "en"

extensions = ["myst_parser", "sphinx_click", "generated"]
source_suffix = {".md": "markdown"}
root_doc = "index"
exclude_patterns = ["_build", "_ext"]

# Markdown: tables, `{directive}` blocks, and links to a heading by its text's slug.
myst_enable_extensions = ["colon_fence"]
myst_heading_anchors = 4

html_theme = "furo"
html_title = "letter-merge"
html_show_sourcelink = False
html_last_updated_fmt = None

nitpicky = True

# Options and commands are shown as typed: `--only` stays two hyphens, quotes stay straight.
smartquotes = False
