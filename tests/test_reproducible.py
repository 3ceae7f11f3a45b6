"""The same inputs build the same bytes: a letter's .docx and PDF say they were made on the letter
date (or at SOURCE_DATE_EPOCH), never when the build ran, and a build run again gives every file
byte for byte as before."""

from __future__ import annotations

import hashlib
import io
import shutil
import zipfile
from pathlib import Path

import pikepdf
import pytest
from click.testing import CliRunner

from letter_merge.batch import load_batch
from letter_merge.cli import Frontend, cli
from letter_merge.config import PdfSettings, Settings, load_settings
from letter_merge.pdf.conformance import mend


def first_letter(settings: Settings) -> bytes:
    batch = load_batch(settings)
    letter = batch.letters()[0]
    return batch.template.render(letter.fields, title=letter.subject)


def test_a_letter_package_is_dated_as_its_template_or_source_date_epoch(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The default template draws a chart: its picture, added to each letter's package, is
    dated as the template's document is, not when the letter was made."""
    monkeypatch.delenv("SOURCE_DATE_EPOCH", raising=False)
    first = first_letter(settings)
    with zipfile.ZipFile(settings.template) as source, zipfile.ZipFile(io.BytesIO(first)) as made:
        kept = {i.date_time for i in source.infolist()}
        assert "word/media/letter-merge-chart.png" in made.namelist()
        assert {i.date_time for i in made.infolist()} == kept
        core = made.read("docProps/core.xml").decode()
    assert ">2013-12-23T23:15:00Z</dcterms:created>" in core  # the template's own
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1595376000")  # 2020-07-22T00:00:00Z
    dated = first_letter(settings)
    with zipfile.ZipFile(io.BytesIO(dated)) as made:
        assert {i.date_time for i in made.infolist()} == {(2020, 7, 22, 0, 0, 0)}
        core = made.read("docProps/core.xml").decode()
    assert ">2020-07-22T00:00:00Z</dcterms:created>" in core
    assert ">2020-07-22T00:00:00Z</dcterms:modified>" in core


def test_pdfs_are_dated_the_letter_date_or_source_date_epoch(tmp_path: Path) -> None:
    path = tmp_path / "letter-merge.toml"
    path.write_text("[batch]\nyear = 2020\nletter_date = 2020-07-22\n", encoding="utf-8")
    assert load_settings(path, environ={}).pdf.made_at == "2020-07-22T00:00:00Z"
    epoch = {"SOURCE_DATE_EPOCH": "1595462400"}
    assert load_settings(path, environ=epoch).pdf.made_at == "2020-07-23T00:00:00Z"


@pytest.mark.libreoffice
def test_building_again_gives_the_same_bytes(built_by_libreoffice: Path, tmp_path: Path) -> None:
    """The four letters built once (the check of converting together made on the way), then
    built again with --force: every .docx and PDF the same, byte for byte, dated the letter
    date."""
    folder = tmp_path / "again"
    shutil.copytree(built_by_libreoffice, folder, ignore=shutil.ignore_patterns(".libreoffice"))
    before = {p.name: p.read_bytes() for p in (folder / "output" / "2020" / "letters").iterdir()}
    result = CliRunner().invoke(
        cli, ["--config", str(folder / "letter-merge.toml"), "build", "--force"], obj=Frontend()
    )
    assert result.exit_code == 0, result.output
    after = {p.name: p.read_bytes() for p in (folder / "output" / "2020" / "letters").iterdir()}
    assert len(after) == 8 and sorted(after) == sorted(before)
    assert [name for name in after if after[name] != before[name]] == []
    with pikepdf.open(next((folder / "output" / "2020" / "letters").glob("*.pdf"))) as pdf:
        assert str(pdf.docinfo.CreationDate).startswith("D:20200722000000")
        with pdf.open_metadata() as xmp:
            assert xmp["xmp:CreateDate"] == "2020-07-22T00:00:00Z"
        (intent,) = pdf.Root.OutputIntents
        profile = intent.DestOutputProfile.read_bytes()
        assert profile[24:36] == bytes([7, 228, 0, 7, 0, 22, 0, 0, 0, 0, 0, 0])


def test_a_pdf_s_dates_and_colour_profile_are_set_to_when_it_was_made() -> None:
    """What LibreOffice dates now (the Info dictionary, the XMP packet, the PDF/A colour
    profile's header and its MD5 profile ID) is dated as the settings say."""
    profile = bytearray(128)
    profile[24:36] = bytes([7, 234, 0, 12, 0, 7, 0, 15, 0, 43, 0, 11])  # 2026-12-07 15:43:11
    profile[36:40] = b"acsp"
    profile[84:100] = b"\x01" * 16  # a profile ID, to be made again
    pdf = pikepdf.new()
    pdf.add_blank_page()
    pdf.docinfo[pikepdf.Name.CreationDate] = "D:20261207154311Z'"
    stream = pdf.make_stream(bytes(profile))
    pdf.Root.OutputIntents = pikepdf.Array(
        [pikepdf.Dictionary(Type=pikepdf.Name.OutputIntent, DestOutputProfile=stream)]
    )
    xmp = (
        b'<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-'
        b'rdf-syntax-ns#"><rdf:Description xmlns:xmp="http://ns.adobe.com/xap/1.0/" rdf:about="">'
        b"<xmp:CreateDate>2026-12-07T15:43:11Z</xmp:CreateDate></rdf:Description></rdf:RDF>"
        b"</x:xmpmeta>"
    )
    pdf.Root.Metadata = pdf.make_stream(xmp)
    settings = PdfSettings(accessible=False, archive="none", made_at="2020-07-22T00:00:00Z")
    mend(pdf, settings, "A letter")
    assert str(pdf.docinfo.CreationDate) == "D:20200722000000Z'"
    assert (
        b"<xmp:CreateDate>2020-07-22T00:00:00Z</xmp:CreateDate>" in pdf.Root.Metadata.read_bytes()
    )
    dated = pdf.Root.OutputIntents[0].DestOutputProfile.read_bytes()
    assert dated[24:36] == bytes([7, 228, 0, 7, 0, 22, 0, 0, 0, 0, 0, 0])
    blank = bytearray(dated)
    blank[84:100] = bytes(16)
    assert dated[84:100] == hashlib.md5(bytes(blank), usedforsecurity=False).digest()
