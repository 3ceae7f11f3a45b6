"""letter-merge: one checked, personalised letter per row of a workbook, as .docx and PDF."""

from __future__ import annotations

__version__ = "0.1.0"
