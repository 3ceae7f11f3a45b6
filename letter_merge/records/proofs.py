"""What the last proof found for each letter, kept in `output/<year>/proof/results.json` so
that approving can ask: was this exact PDF proofed, and did it pass?"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from letter_merge.errors import InputError
from letter_merge.files import write_atomic
from letter_merge.steps import Next


@dataclass(frozen=True)
class ProofResult:
    authority: str
    pdf_sha256: str  # the PDF the checks ran on
    problems: tuple[str, ...]  # the failed checks, in words; none when it passed
    proofed_at: str

    @property
    def passed(self) -> bool:
        return not self.problems


def write_results(path: Path, results: list[ProofResult]) -> None:
    data = [
        {
            "authority": r.authority,
            "pdf_sha256": r.pdf_sha256,
            "problems": list(r.problems),
            "proofed_at": r.proofed_at,
        }
        for r in results
    ]
    write_atomic(path, (json.dumps(data, indent=2, ensure_ascii=False) + "\n").encode("utf-8"))


def read_results(path: Path) -> dict[str, ProofResult]:
    """The last proof's results by authority; empty when there has been no proof."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        return {
            str(entry["authority"]): ProofResult(
                str(entry["authority"]),
                str(entry["pdf_sha256"]),
                tuple(str(p) for p in entry["problems"]),
                str(entry["proofed_at"]),
            )
            for entry in data
        }
    except FileNotFoundError:
        return {}
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise InputError(
            f"{path}: cannot be read ({error}); make the proof again.",
            next_step=Next.PROOF,
        ) from None
