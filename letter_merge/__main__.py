"""`python -m letter_merge` runs the command line."""

from __future__ import annotations

from letter_merge.cli import main

# Guarded: the processes that draw charts import this module again when started with -m.
if __name__ == "__main__":
    main()
