"""The manual is executable: every `letter-merge …` example in the pages staff and IT read
(docs/, in the order of PAGES) runs as written and succeeds (exit code 0, no usage error, no
traceback) and prints what it is documented to do (OUTPUT: a pattern of what each prints); every
council it names is one council of the sample workbook; every example the README shows is one of
them; the settings reference has a row for every setting; and every command and option has help.
The commands run in the four-council folder with the stand-in converter (tests/standin.py), in
the manual's order; an example that needs more runs where that exists (a scene: a letter sent
and corrected, a moved average, a mailbox on Dovecot, a terminal, a July from the start), and
one that cannot run here is listed with why. The names are checked against the 343 councils of
input/councils.xlsx."""

from __future__ import annotations

import contextlib
import dataclasses
import re
import shlex
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import click
import pytest
from openpyxl import load_workbook

from letter_merge.batch import select_names
from letter_merge.cli import cli
from letter_merge.config import Settings
from letter_merge.errors import InputError
from tests.helpers import Recorder, approve_and_queue, at_a_terminal, run
from tests.imap_server import running_dovecot

ROOT = Path(__file__).resolve().parents[1]
# Options whose value names councils, and commands whose words do.
NAME_OPTIONS = ("--only", "--correction", "--resend")
NAME_ARGUMENTS = ("preview", "status")


# The manual's pages whose examples run, in the order they run: the order of a batch's July.
DOCS = ROOT / "docs"
PAGES = (
    "it/install.md",
    "reference/word.md",
    "staff/building.md",
    "staff/sending.md",
    "staff/delivery.md",
    "staff/corrections.md",
    "it/smtp.md",
    "staff/desk.md",
    "staff/first-july.md",
    "publishing.md",
)


@dataclass(frozen=True)
class Example:
    page: str
    line: int  # in its page
    block: int  # the code block it is in: a scene takes examples of one block only
    words: tuple[str, ...]

    def __str__(self) -> str:
        return shlex.join(self.words)

    @property
    def place(self) -> str:
        return f"{self.page}, line {self.line}"


def examples_in(path: Path, page: str, block: int = 0) -> list[Example]:
    """Each `letter-merge …` line of a Markdown page's code blocks (comments dropped)."""
    found, fenced = [], False
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if line.startswith("```"):
            fenced = not fenced
            block += fenced
        elif fenced and line.startswith("letter-merge "):
            words = tuple(shlex.split(line, comments=True)[1:])
            found.append(Example(page, number, block, words))
    assert not fenced, f"{page}: its last code block is not closed"
    return found


def readme_examples() -> list[Example]:
    """Each `letter-merge …` line of the manual's code blocks, page after page in PAGES' order."""
    found: list[Example] = []
    for page in PAGES:
        block = found[-1].block if found else 0
        found += examples_in(DOCS / page, page, block)
    return found


def examples() -> list[list[str]]:
    return [list(example.words) for example in readme_examples()]


# Examples that cannot run in a test, and why (each a run of consecutive examples of one block).
NOT_RUNNABLE: dict[tuple[str, ...], str] = {
    ("desk",): "serves the desk until Ctrl-C and opens a browser (tests/test_desk.py starts it)",
    ("desk --no-browser --port 8765",): "serves the desk until Ctrl-C (tests/test_desk.py)",
    ("build --converter word",): "needs Microsoft Word, on Windows or macOS "
    "(tests/test_word_converter.py runs it with a stand-in docx2pdf)",
    ("preview 'Brighton & Hove' --open",): "opens the PDF in the system's PDF viewer",
    ("login", "login --status", "send", "logout"): "signs in to Microsoft 365: Microsoft's "
    "identity platform, a browser and the system keyring (tests/test_oauth.py stands in for them)",
}


def sent(folder: Path) -> None:
    """The four letters approved, queued and sent."""
    approve_and_queue()
    result = run("send", "--yes")
    assert result.exit_code == 0, result.output


@contextlib.contextmanager
def corrected_after_sending(folder: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Derby's letter sent; then its row corrected, rebuilt, proofed and approved."""
    sent(folder)
    book = load_workbook(folder / "input" / "councils.xlsx")
    book["Contacts"]["F3"] = "Okafor"  # Derby's chief executive
    book.save(folder / "input" / "councils.xlsx")
    for words in (["build", "--yes"], ["proof"], ["approve", "--by", "Jo Bloggs"]):
        result = run(*words)
        assert result.exit_code == 0, result.output
    yield


@contextlib.contextmanager
def average_moved(folder: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The letters sent; then Derby's Upheld figure corrected, which moves the Unitary Council
    average that Brighton & Hove's letter states."""
    sent(folder)
    book = load_workbook(folder / "input" / "councils.xlsx")
    book["Statistics"]["C3"] = 3
    book.save(folder / "input" / "councils.xlsx")
    assert "Decide, on the record" in run("status").output
    yield


@contextlib.contextmanager
def reworded(folder: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The letters sent; then a typo fixed in the template, and the letters built again."""
    from tests.test_july import edit_template

    sent(folder)
    edit_template(folder, "There are a range", "There is a range")
    result = run("build", "--yes")
    assert result.exit_code == 0, result.output
    assert "read otherwise now" in run("status").output
    yield


@contextlib.contextmanager
def mailbox(folder: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The letters sent; the sending mailbox on Dovecot (skipped, saying so, where Dovecot is
    not installed), holding a bounce of Derby's letter."""
    from tests.test_delivery import postfix_bounce

    sent(folder)
    with running_dovecot() as dovecot:
        dovecot.use_as_mailbox(folder, monkeypatch)
        status = run("status", "Derby City").output
        message_id = re.findall(r"<[^<>\s]+@ombudsman\.example>", status)[0]
        address = "ce@derby-city-council.example.org"
        dovecot.deliver(postfix_bounce(message_id, address, "Annual Review letter 2020"))
        yield


@contextlib.contextmanager
def bounced(folder: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Derby's letter bounced (read from the mailbox), and its address corrected in Contacts."""
    with mailbox(folder, monkeypatch):
        result = run("delivery")
        assert result.exit_code == 0 and "Derby City Council: did not arrive" in result.output, (
            result.output
        )
    book = load_workbook(folder / "input" / "councils.xlsx")
    book["Contacts"]["H3"] = "chief.executive@derby.example.org"
    book.save(folder / "input" / "councils.xlsx")
    yield


@contextlib.contextmanager
def queued(folder: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The four letters approved and queued, not yet sent."""
    approve_and_queue()
    yield


@contextlib.contextmanager
def afresh(folder: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The four councils built and proofed, nothing approved yet: a July from the start."""
    yield


Scene = Callable[[Path, pytest.MonkeyPatch], contextlib.AbstractContextManager[None]]

# Examples that need more than the four councils built and proofed, and where they run: each a
# run of consecutive examples of one block, each run afresh in the scene.
SCENES: dict[tuple[str, ...], Scene] = {
    ("queue --correction 'Derby City Council' --reason 'upheld figure corrected'",): (
        corrected_after_sending
    ),
    (
        "queue --correction 'Derby City Council' --reason 'row 14 keyed wrongly' "
        "--tell-council 'the number of complaints upheld was wrong'",
    ): corrected_after_sending,
    ("send",): queued,  # asks at a terminal
    ("delivery", "delivery --since 2020-07-22"): mailbox,
    ("queue --resend 'Derby City Council'", "send"): bounced,
    ("averages keep --by 'Jo Bloggs'",): average_moved,
    ("decide keep --reason 'a typo fixed in the template' --by 'Jo Bloggs'",): reworded,
    ("averages correct --by 'Jo Bloggs' --type 'Unitary Council'",): average_moved,
    (  # A first July, the same at the command line (staff/first-july.md)
        "check",
        "build",
        "proof",
        "approve --by 'Jo Bloggs'",
        "queue",
        "send --test-to me@ombudsman.example --only 'Derby City'",
        "send --yes",
        "status",
    ): afresh,
}

# What each example prints (a pattern found in its output), as the manual says it does. The same
# words give the same pattern wherever they are in the manual.
OUTPUT: dict[str, str] = {
    "check": r"Workbook input/councils\.xlsx: 4 councils\.\n.*\nNo problems found\.",
    "-v check": r"Template templates/letter\.docx: \d+ \{\{ \}\} fields, all known\.\nNo problems found",
    "check --fix": r"Nothing in the template needed a safe fix\.",
    "recipients": r"Wrote output/2020/recipients\.xlsx: 4 councils, \d+ fields\.",
    "build": r"Built 0 letters; 4 already up to date in output/2020/letters",
    "build --only 'Leicestershire County' --only Derby": r"Built 0 letters; 2 already up to date",
    "build --no-pdf": r"Built 0 letters; 4 already up to date",
    "build --force": r"Built 4 letters \(docx and PDF\)[^\n]*\n  County Council: +1\n",
    "build --force --yes": r"Built 4 letters \(docx and PDF\)",
    "preview Leicestershire County": r"Leicestershire County Council: output/2020/preview/"
    r"Leicestershire County Council - Annual Review 2020\.pdf\n.*-1\.png\n(.|\n)*email\.html",
    "proof": r"Proof of 4 letters: output/2020/proof/index\.html and "
    r"output/2020/proof/all-letters\.pdf\.\nEvery check passed\.",
    "approve --by 'Jo Bloggs'": r"Approved 4 letters as checked by Jo Bloggs\.",
    "approve --by 'Sam Smith' --only 'Derby City'": r"1 already approved with the same PDF",
    "approve --by 'Sam Smith' --only Adur --despite-proof 'page count checked by hand'": (
        r"1 already approved with the same PDF"
    ),
    "queue": r"Queued 4 messages\.",
    "queue --correction 'Derby City Council' --reason 'upheld figure corrected'": (
        r"Queued 1 message; 1 of them corrections \(upheld figure corrected\)"
    ),
    "queue --correction 'Derby City Council' --reason 'row 14 keyed wrongly' "
    "--tell-council 'the number of complaints upheld was wrong'": (
        r"Queued 1 message; 1 of them corrections \(row 14 keyed wrongly\)"
    ),
    "send --dry-run": r"Would send 4 messages:\n(.|\n)*- Derby City Council: ce@derby-city",
    "send --test-to me@ombudsman.example --only 'Leicestershire County' --only 'Derby City'": (
        r"Sent 2 test messages to me@ombudsman\.example; nothing marked as sent\."
    ),
    "send --test-to me@ombudsman.example --only 'Derby City'": (
        r"Sent 1 test message to me@ombudsman\.example; nothing marked as sent\."
    ),
    "send": r"About to send \d+ messages?(, [^:\n]*)?:(.|\n)*Sent \d+ messages?\.",
    "send --yes": r"About to send 4 messages:(.|\n)*Sent 4 messages\.",
    "send --retry-failed": r"Sent 0 messages\.",
    "send --resolve sent": r"Settled 0 messages in doubt as sent\.",
    "send --resolve retry": r"Settled 0 messages in doubt as retry\.",
    "send --resolve sent --only Derby": r"Settled 0 messages in doubt as sent\.",
    "status": r"sent: +4 +accepted by the mail server\n(.|\n)*\nsent +Derby City Council +sent on ",
    "status Derby City": r"Derby City Council: sent(.|\n)*approved by Jo Bloggs",
    "status --csv sent-2020.csv": r"Wrote sent-2020\.csv\.",
    "delivery": r"Derby City Council: did not arrive for ce@derby-city-council\.example\.org: "
    r"address unknown(.|\n)*Of the letters sent: 3 delivered as far as we know, 1 bounced\.",
    "delivery --since 2020-07-22": r"Of the letters sent: 3 delivered as far as we know, 1 bounced",
    "publish": r"output/2020/publish: \d+ letters?, each the PDF its council last received",
    "queue --resend 'Derby City Council'": (
        r"Queued 1 message; 1 of them re-sent to a corrected address \(Derby City Council\)"
    ),
    "decide keep --reason 'a typo fixed in the template' --by 'Jo Bloggs'": (
        r"4 letters reworded since sent \(\"There are a range[^\n]* kept as sent"
    ),
    "averages keep --by 'Jo Bloggs'": r"The Unitary Council average \(upheld\): kept at \d+% in every letter",
    "averages correct --by 'Jo Bloggs' --type 'Unitary Council'": (
        r"The Unitary Council average \(upheld\): corrected to \d+% in every letter"
    ),
}


def placed() -> tuple[list[Example], dict[tuple[str, ...], list[list[Example]]]]:
    """The examples run in order in the four-council folder, and where each scene's and each
    not-runnable run of examples is in the manual. At each example the longest run that starts
    there and stays in its block is taken."""
    found = readme_examples()
    runs = [*SCENES, *NOT_RUNNABLE]
    plain: list[Example] = []
    taken: dict[tuple[str, ...], list[list[Example]]] = {key: [] for key in runs}
    index = 0
    while index < len(found):
        here = [
            key
            for key in runs
            if [str(e) for e in found[index : index + len(key)]] == list(key)
            and len({e.block for e in found[index : index + len(key)]}) == 1
        ]
        if not here:
            plain.append(found[index])
            index += 1
            continue
        key = max(here, key=len)
        taken[key].append(found[index : index + len(key)])
        index += len(key)
    return plain, taken


def run_example(example: Example, folder: Path) -> None:
    """Run it as written, and check it succeeded. `send` without --yes asks first: it runs at a
    terminal (a pseudo-terminal), answered yes."""
    if example.words == ("send",):
        if sys.platform == "win32":
            pytest.skip("letter-merge send asks at a terminal: needs a POSIX pty; Windows has none")
        code, output = at_a_terminal(folder, ["send"], "y", asked="now? [y/N]")
        assert code == 0 and "Sent " in output, f"letter-merge {example}\n{output}"
        assert re.search(OUTPUT[str(example)], output), f"letter-merge {example}\n{output}"
        return
    result = run(*example.words)
    output = result.output
    assert "Usage:" not in output and "No such option" not in output, (
        f"letter-merge {example}\n{output}"
    )
    assert result.exception is None or isinstance(result.exception, SystemExit), (
        f"letter-merge {example}: {result.exception!r}\n{output}"
    )
    assert "Traceback" not in output, example
    assert result.exit_code == 0, f"letter-merge {example} ({example.place})\n{output}"
    assert re.search(OUTPUT[str(example)], output), (
        f"letter-merge {example} ({example.place}) does not print what OUTPUT says\n{output}"
    )


def names_in(words: list[str]) -> list[str]:
    """The council names an example gives: --only/--correction values, or preview's and
    status's words."""
    names = [words[i + 1] for i, word in enumerate(words[:-1]) if word in NAME_OPTIONS]
    if words and words[0] in NAME_ARGUMENTS:
        plain = [w for w in words[1:] if not w.startswith("-")]
        if plain and "--csv" not in words:
            names.append(" ".join(plain))
    return names


def sample_councils() -> list[str]:
    book = load_workbook(ROOT / "input" / "councils.xlsx", read_only=True)
    rows = book["Contacts"].iter_rows(min_row=2, max_col=1, values_only=True)
    return [str(name) for (name,) in rows if name]


def test_the_readme_has_examples_of_every_command() -> None:
    used = {words[0] for words in examples() if words and not words[0].startswith("-")}
    assert set(cli.commands) - used == set(), "a command the manual shows no example of"


def test_every_council_named_in_the_readme_is_one_council() -> None:
    councils = sample_councils()
    assert len(councils) == 343
    named = [(words, name) for words in examples() for name in names_in(words)]
    assert len(named) >= 8
    for words, name in named:
        try:
            (one,) = select_names(councils, [name])
        except InputError as error:
            pytest.fail(f"letter-merge {shlex.join(words)}: {error}")
        assert one in councils


def test_every_example_runs_as_written(work: Path) -> None:
    plain, _ = placed()
    for example in plain:
        run_example(example, work)
    assert len(plain) >= 25


@pytest.mark.parametrize("scene", list(SCENES), ids=" then ".join)
def test_every_example_that_needs_a_scene_runs_there(
    scene: tuple[str, ...],
    work: Path,
    server: tuple[Recorder, int],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    _, taken = placed()
    assert taken[scene], f"{scene} is not in the manual (any more): remove it from SCENES"
    for examples_here in taken[scene]:
        with SCENES[scene](work, monkeypatch):
            for example in examples_here:
                run_example(example, work)
        break  # the same examples in another place run in the same scene: once is enough


def test_every_example_is_run_or_said_why_not() -> None:
    plain, taken = placed()
    assert all(taken[key] for key in NOT_RUNNABLE), "a NOT_RUNNABLE example left the manual"
    assert all(NOT_RUNNABLE.values())
    counted = len(plain) + sum(len(run) for runs in taken.values() for run in runs)
    assert counted == len(readme_examples())
    # Every `send` without --yes runs at a terminal, in a scene, or is said not to run.
    assert [e.line for e in plain if e.words == ("send",)] == []


def test_every_example_says_what_it_prints() -> None:
    plain, taken = placed()
    ran = plain + [e for key in SCENES for run in taken[key] for e in run]
    assert {str(e) for e in ran} - set(OUTPUT) == set(), "say in OUTPUT what these print"
    assert set(OUTPUT) - {str(e) for e in ran} == set(), "no example prints these any more"


def test_every_example_in_the_readme_runs_in_the_manual() -> None:
    in_readme = {str(e) for e in examples_in(ROOT / "README.md", "README.md")}
    assert len(in_readme) >= 8
    assert in_readme - {str(e) for e in readme_examples()} == set(), (
        "show these in the manual too (PAGES), where they run"
    )


def test_the_readme_links_into_the_manual() -> None:
    """Every link of the README to a file of the repository reaches one (the manual's own links
    are checked by its strict build, `make docs`)."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    targets = re.findall(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", readme)
    local = [target for target in targets if "://" not in target]
    assert len([t for t in local if t.startswith("docs/")]) >= 20
    assert [target for target in local if not (ROOT / target).is_file()] == []


# Settings' top-level fields, as letter-merge.toml spells them: "[section] key".
TOML_NAMES = {
    "year": "[batch] year",
    "letter_date": "[batch] letter_date",
    "workbook": "[paths] workbook",
    "template": "[paths] template",
    "email_template": "[paths] email_template",
    "output": "[paths] output",
    "email_from": "[email] from",
    "email_subject": "[email] subject",
    "proof_pages": "[proof] pages",
    "proof_change_points": "[proof] change_points",
    "chart_dpi": "[chart] dpi",
    "publish_on": "[batch] publish_on",
    "field_map": "[fields] ",  # any name: a row for the section
}


def test_the_settings_reference_names_every_setting() -> None:
    """docs/reference/settings.md has a row for every key of every section Settings reads."""
    page = (DOCS / "reference" / "settings.md").read_text(encoding="utf-8")
    rows: dict[str, str] = {}
    for line in page.splitlines():
        cells = [cell.strip() for cell in line.split("|")[1:-1]]
        if len(cells) == 5 and cells[0].startswith("`["):
            section = cells[0].strip("`[]")
            rows[section] = rows.get(section, "") + " " + cells[1]
    wanted: list[str] = []
    for each in dataclasses.fields(Settings):
        if dataclasses.is_dataclass(each.default):
            wanted += [
                f"[{each.name}] {key.name}"
                for key in dataclasses.fields(each.default)
                if key.metadata.get("setting", True)  # False: worked out, not written
            ]
        elif each.name != "config_file":
            wanted.append(TOML_NAMES[each.name])
    assert len(wanted) >= 30
    for name in wanted:
        section, key = name[1:].split("] ")
        assert section in rows and (not key or f"`{key}`" in rows[section]), (
            f"{name}: add it to docs/reference/settings.md's table of every setting"
        )


def test_every_command_and_option_has_help() -> None:
    def walk(command: click.Command, path: str) -> list[str]:
        missing = [] if (command.help or "").strip() else [f"{path}: no help"]
        for param in command.params:
            if isinstance(param, click.Option) and not (param.help or "").strip():
                missing.append(f"{path} {param.opts[0]}: no help")
        if isinstance(command, click.Group):
            for name, sub in command.commands.items():
                missing += walk(sub, f"{path} {name}")
        return missing

    assert walk(cli, "letter-merge") == []


def test_an_ambiguous_name_lists_the_councils_it_matches() -> None:
    with pytest.raises(InputError) as refused:
        select_names(sample_councils(), ["Leicestershire"])
    text = str(refused.value)
    assert re.search(r"'Leicestershire' matches 2 authorities", text)
    assert "  - Leicestershire County Council" in text
    assert "  - North West Leicestershire District Council" in text
