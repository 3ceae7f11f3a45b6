"""Preview and the proof pack, with real LibreOffice, poppler and headless Chromium."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from click.testing import CliRunner
from docx import Document
from pypdf import PdfReader

from letter_merge.cli import cli
from tests.helpers import chromium

pytestmark = pytest.mark.libreoffice


def test_preview(folder: Path) -> None:
    result = CliRunner().invoke(cli, ["preview", "Derby"])
    assert result.exit_code == 0, result.output
    preview = folder / "output" / "2020" / "preview"
    pdf = preview / "Derby City Council - Annual Review 2020.pdf"
    assert result.output.splitlines()[0] == f"Derby City Council: output/2020/preview/{pdf.name}"
    pages = sorted(preview.glob("*.png"))
    assert [p.name for p in pages] == [
        f"Derby City Council - Annual Review 2020-{n}.png" for n in (1, 2, 3)
    ]
    assert all(p.read_bytes().startswith(b"\x89PNG") for p in pages)
    assert len(PdfReader(pdf).pages) == 3
    assert not (folder / "output" / "2020" / "letters").exists()  # the batch is not touched

    result = CliRunner().invoke(cli, ["preview", "City", "Council"])
    assert result.exit_code == 2
    assert "matches 2 authorities" in result.output


def spoil_derby(template: Path) -> None:
    """A template mistake that shows in one letter only: another council named, a tag left."""
    document = Document(str(template))
    document.add_paragraph(
        "{% if authority == 'Derby City Council' %}Copied to Adur District Council. "
        "{{ '{{' }} left None{% endif %}"
    )
    document.save(str(template))


@pytest.mark.browser
def test_the_proof_pack(folder: Path, tmp_path: Path) -> None:
    spoil_derby(folder / "templates" / "letter.docx")
    runner = CliRunner()
    assert runner.invoke(cli, ["build"]).exit_code == 0
    result = runner.invoke(cli, ["proof"])
    assert result.exit_code == 1
    assert (
        "Proof of 4 letters: output/2020/proof/index.html and output/2020/proof/all-letters.pdf."
        in result.output
    )
    assert (
        "  - Derby City Council: No template tags left ({{); No empty or error values (None); "
        "Names no other council (Adur District Council)"
    ) in result.output
    assert "1 letter failed a check:" in result.output

    proof = folder / "output" / "2020" / "proof"
    combined = PdfReader(proof / "all-letters.pdf")
    assert len(combined.pages) == 4 * 3
    # A bookmark per council, with its letter's own headings under it.
    outline = combined.outline
    assert [item.title for item in outline if not isinstance(item, list)] == [
        "Leicestershire County Council",
        "Derby City Council",
        "Brighton & Hove City Council",
        "Adur District Council",
    ]
    derby_headings = outline[3]  # after Derby City Council (outline[2])
    assert isinstance(derby_headings, list)
    assert [getattr(h, "title", None) for h in derby_headings] == [
        "Annual Review letter 2020",
        None,  # its sub-headings
        "Appendix: Derby City Council",
        None,
    ]

    dom, console = chromium(proof / "index.html", tmp_path / "chromium")
    assert console == []  # no errors, no warnings
    assert dom.count('<article class="card') == 4
    assert dom.count('<article class="card problem"') == 1
    # The letter with problems comes first (the rest keep the workbook's order).
    first = dom[dom.index("<article") :]
    assert first.startswith('<article class="card problem"')
    assert first.index("Derby City Council") < first.index("Leicestershire County Council")
    assert "4 shown" in dom
    assert "Brighton &amp; Hove City Council" in dom
    assert "<script" in dom and "http" not in re.sub(r'href="[^"]*"', "", dom.split("<script")[0])

    dom, console = chromium(proof / "index.html", tmp_path / "chromium", fragment="#problems")
    assert console == []
    assert "1 shown" in dom
    cards = re.findall(r"<article [^>]*>", dom)
    shown = [c for c in cards if " hidden" not in c]
    assert len(shown) == 1 and 'data-problems="3"' in shown[0]


def test_the_proof_compares_with_last_year(folder: Path) -> None:
    runner = CliRunner()
    assert runner.invoke(cli, ["build", "--no-pdf"]).exit_code == 0
    manifest = json.loads((folder / "output/2020/manifest.json").read_text("utf-8"))
    manifest["year"] = 2019
    manifest["letters"][1]["figures"]["upheld_rate"] = 20  # Derby is 63% this year
    manifest["letters"][3]["authority"] = "Aylesbury Vale District Council"
    last_year = folder / "output" / "2019"
    last_year.mkdir()
    (last_year / "manifest.json").write_text(json.dumps(manifest), "utf-8")
    assert runner.invoke(cli, ["build"]).exit_code == 0
    result = runner.invoke(cli, ["proof"])
    assert result.exit_code == 0, result.output
    assert [line for line in result.output.splitlines() if line.startswith("  ")] == [
        "  New since 2019: Adur District Council",
        "  Not in this year's batch: Aylesbury Vale District Council",
        "  Derby City Council: complaints upheld 20% → 63% (+43 points)",
    ]
    page = (folder / "output/2020/proof/index.html").read_text("utf-8")
    assert "Derby City Council: complaints upheld 20% → 63% (+43 points)" in page
