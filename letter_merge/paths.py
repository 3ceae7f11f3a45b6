"""Every place letter-merge writes, in one object built from the settings' output folder and year.

output/                      OutputPaths.output
  .cache/charts/             drawn charts, by what they show (shared by every year)
  .cache/combining/          checks that letters converted together are the letters alone
  .libreoffice/              LibreOffice profiles, kept between runs
  <year>/                    year_dir: everything one batch produces
    letters/                 one .docx and one PDF per council
    manifest.json            the record of the build
    ledger.sqlite            approvals and messages
    outbox/                  one .eml per queued message
    proof/                   the proof pack
    preview/                 single-letter previews
    publish/                 publication day: each council's letter as sent, the map's data
    <name>.lock              held while a build or a send runs
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class OutputPaths:
    output: Path
    year: int

    @property
    def year_dir(self) -> Path:
        return self.output / str(self.year)

    @property
    def letters(self) -> Path:
        return self.year_dir / "letters"

    @property
    def manifest(self) -> Path:
        return self.year_dir / "manifest.json"

    @property
    def ledger(self) -> Path:
        return self.year_dir / "ledger.sqlite"

    @property
    def outbox(self) -> Path:
        return self.year_dir / "outbox"

    @property
    def proof(self) -> Path:
        return self.year_dir / "proof"

    @property
    def proof_results(self) -> Path:
        return self.proof / "results.json"

    @property
    def proof_cards(self) -> Path:
        return self.proof / "cards.json"

    @property
    def proof_page(self) -> Path:
        """The proof's page to look through every letter."""
        return self.proof / "index.html"

    @property
    def proof_letters(self) -> Path:
        """The proof's letters as one PDF, with a bookmark each."""
        return self.proof / "all-letters.pdf"

    @property
    def preview(self) -> Path:
        return self.year_dir / "preview"

    @property
    def publish(self) -> Path:
        return self.year_dir / "publish"

    @property
    def charts(self) -> Path:
        return self.output / ".cache" / "charts"

    @property
    def combining_checks(self) -> Path:
        return self.output / ".cache" / "combining"

    @property
    def libreoffice_profiles(self) -> Path:
        return self.output / ".libreoffice"

    def lock(self, name: str) -> Path:
        """The lock file held while a `name` ("build", "send") runs for this year."""
        return self.year_dir / f"{name}.lock"

    def of_year(self, year: int) -> OutputPaths:
        """The same places for another year's batch (the proof compares with last year's)."""
        return OutputPaths(self.output, year)

    def relative(self, path: Path) -> str:
        """How the manifest and ledger name a file of this year: relative, with forward slashes."""
        return path.relative_to(self.year_dir).as_posix()

    def absolute(self, relative: str) -> Path:
        return self.year_dir / relative
