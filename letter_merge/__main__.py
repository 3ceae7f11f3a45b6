"""`python -m letter_merge` runs the command line."""

from __future__ import annotations

from letter_merge.cli import main

main()
