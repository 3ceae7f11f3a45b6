"""The package's layout follows the flow of a batch: no module imports a later stage, no import
cycles, and the manual's module layout (docs/development/layout.md) names every folder and
top-level module."""

from __future__ import annotations

import ast
from pathlib import Path

from tests.helpers import ROOT

PACKAGE = ROOT / "letter_merge"

# The stages in the order a batch goes through them. A module may import its own stage or an
# earlier one, never a later one (the manual's layout page says the same in words).
STAGES: tuple[tuple[str, ...], ...] = (
    (
        "letter_merge",
        "letter_merge.errors",
        "letter_merge.progress",
        "letter_merge.paths",
        "letter_merge.process",
        "letter_merge.files",
        "letter_merge.untrusted",
        "letter_merge.environment",
        "letter_merge.config",
        "letter_merge.decisions",
        # The record of the office's decisions is read before the batch is made: a decision to
        # keep an average fixes what the letters state.
        "letter_merge.records.decisions",
    ),
    ("letter_merge.workbook",),
    ("letter_merge.figures",),
    ("letter_merge.fields",),
    ("letter_merge.chart",),
    ("letter_merge.template",),
    ("letter_merge.batch",),
    ("letter_merge.recipients",),
    ("letter_merge.pdf",),
    ("letter_merge.records",),
    ("letter_merge.build",),
    ("letter_merge.proof",),
    ("letter_merge.approve", "letter_merge.averages"),
    ("letter_merge.mail",),
    ("letter_merge.app",),
    ("letter_merge.desk",),
    ("letter_merge.cli", "letter_merge.console", "letter_merge.__main__"),
)


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def stage(module: str) -> int:
    best, found = -1, -1
    for number, prefixes in enumerate(STAGES):
        for prefix in prefixes:
            if (module == prefix or module.startswith(prefix + ".")) and len(prefix) > best:
                best, found = len(prefix), number
    assert found >= 0, (
        f"{module} belongs to no stage: add it to STAGES and the manual's layout page"
    )
    return found


def imports(module: str) -> set[str]:
    """letter-merge modules `module` imports, anywhere in it (inside functions too)."""
    tree = ast.parse(MODULES[module].read_text(encoding="utf-8"))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names if alias.name in MODULES}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            if node.module not in MODULES:
                continue
            for alias in node.names:
                submodule = f"{node.module}.{alias.name}"
                found.add(submodule if submodule in MODULES else node.module)
    found.discard(module)
    return found


def test_every_module_belongs_to_a_stage() -> None:
    assert all(stage(module) >= 0 for module in MODULES)


def test_no_module_imports_a_later_stage() -> None:
    upward = [
        f"{module} imports {imported}"
        for module in MODULES
        for imported in sorted(imports(module))
        if stage(imported) > stage(module)
    ]
    assert upward == []


def test_there_are_no_import_cycles() -> None:
    graph = {module: imports(module) for module in MODULES}
    # A package's __init__ runs before its modules, so a module importing its own package is
    # no cycle unless the __init__ imports back; ours import nothing.
    for module, path in MODULES.items():
        if path.name == "__init__.py":
            assert graph[module] == set(), f"{module}'s __init__ should import nothing"
    cycles = []
    done: set[str] = set()

    def visit(module: str, trail: list[str]) -> None:
        if module in trail:
            cycles.append(" -> ".join([*trail[trail.index(module) :], module]))
            return
        if module in done:
            return
        for imported in sorted(graph[module]):
            visit(imported, [*trail, module])
        done.add(module)

    for module in MODULES:
        visit(module, [])
    assert cycles == []


def test_the_manual_shows_the_layout() -> None:
    """The manual's module layout (docs/development/layout.md) names every package and module."""
    page = (ROOT / "docs" / "development" / "layout.md").read_text(encoding="utf-8")
    listing = page.split("```\nletter_merge/\n", 1)[1].split("```", 1)[0]
    listed = {
        line.split()[0].rstrip("/")
        for line in listing.splitlines()
        if line.startswith("  ") and line.strip()
    }
    expected = {
        path.name
        for path in PACKAGE.iterdir()
        if (path.is_dir() and (path / "__init__.py").exists())
        or (path.suffix == ".py" and path.name != "__init__.py")
    }
    assert len(listed) >= 20
    assert expected - listed == set(), "add these to docs/development/layout.md"


PACKAGES = sorted(
    name for name, path in MODULES.items() if path.name == "__init__.py" and "." in name
)


def declared_imports(package: str) -> set[str]:
    """What a package's docstring says it may import: its 'May import: a, b, c.' sentence."""
    docstring = ast.get_docstring(ast.parse(MODULES[package].read_text(encoding="utf-8"))) or ""
    assert "May import:" in docstring, f"{package}'s docstring says nothing of what it may import"
    listed = docstring.split("May import:", 1)[1].split(".")[0]
    return {name.strip() for name in listed.replace("\n", " ").split(",") if name.strip()}


def top(module: str) -> str:
    """The part of letter_merge a module belongs to: 'records' for letter_merge.records.ledger,
    'errors' for letter_merge.errors, '' for the package itself."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else ""


def test_each_package_imports_only_what_its_docstring_says() -> None:
    wrong = []
    for package in PACKAGES:
        allowed = declared_imports(package) | {top(package), ""}
        for module in MODULES:
            if module.startswith(package + "."):
                wrong += [
                    f"{module} imports {imported}"
                    for imported in sorted(imports(module))
                    if top(imported) not in allowed
                ]
    assert wrong == []


def test_each_package_declares_only_what_exists() -> None:
    known = {top(module) for module in MODULES}
    for package in PACKAGES:
        assert declared_imports(package) - known == set(), package


RECORD_READERS = {
    "read_manifest",
    "read_results",
    "read_cards",
    "messages",
    "approvals",
    "approval_history",
    "events",
    "deliveries",
    "mailbox_readings",
}


def test_only_records_reads_the_manifest_the_proof_results_and_cards_and_the_ledger() -> None:
    """One answer to where a letter stands: what was built, proofed, approved, queued and sent is
    read in records/ alone; elsewhere it is asked of Records (whose fields are read, not these
    readers called)."""
    found = []
    for module, path in MODULES.items():
        if module.startswith("letter_merge.records"):
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Call):
                called = node.func
                name = (
                    called.attr
                    if isinstance(called, ast.Attribute)
                    else called.id
                    if isinstance(called, ast.Name)
                    else ""
                )
                if name in RECORD_READERS:
                    found.append(f"{module}:{node.lineno} calls {name}()")
    assert found == []


JSON_CALLS = {"load", "loads", "dump", "dumps"}
# JSON that is no record of a batch: each module that reads or writes it, and why it may.
NOT_RECORDS = {
    "letter_merge.chart.model": "a chart's inputs hashed into its cache key",
    "letter_merge.pdf.verify": "the cache of verdicts on letters converted together",
    "letter_merge.pdf.conformance": "LibreOffice's export filter options, spelled as JSON",
    "letter_merge.pdf.warm": "the requests and replies on the pipe to the warm LibreOffice",
    "letter_merge.pdf.uno_worker": "the other end of that pipe, inside LibreOffice's Python",
    "letter_merge.desk": "the desk's HTTP request and response bodies, and its event stream",
    "letter_merge.app.publishing": "the map's data for the web team (councils.json): an output",
    "letter_merge.mail": (
        "Microsoft Graph's and Google's request bodies, their sign-in token caches and keys: "
        "the services' formats, kept by the services' libraries or the system's key store"
    ),
}


def json_uses(path: Path) -> list[int]:
    """The lines where a module calls json.load, loads, dump or dumps (or imports them)."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if (
            isinstance(node, ast.Attribute)
            and isinstance(node.value, ast.Name)
            and node.value.id == "json"
            and node.attr in JSON_CALLS
        ) or (
            isinstance(node, ast.ImportFrom)
            and node.module == "json"
            and any(alias.name in JSON_CALLS for alias in node.names)
        ):
            found.append(node.lineno)
    return found


def test_only_records_reads_or_writes_a_record_as_json() -> None:
    """A record (the manifest, the proof's results and cards, the decisions) is read and
    written in records/ alone; JSON elsewhere is one of the named uses that are no record."""
    found = [
        f"{module}:{line} uses json"
        for module, path in MODULES.items()
        if not module.startswith("letter_merge.records")
        and not any(module == m or module.startswith(m + ".") for m in NOT_RECORDS)
        for line in json_uses(path)
    ]
    assert found == []
    # Each named use is still there: a stale entry would let a record in unnoticed.
    unused = [
        name
        for name in NOT_RECORDS
        if not any(
            json_uses(path)
            for module, path in MODULES.items()
            if module == name or module.startswith(name + ".")
        )
    ]
    assert unused == []


# The front ends: the command line (cli, console, __main__) and the desk.
FRONT_ENDS = (
    "letter_merge.cli",
    "letter_merge.console",
    "letter_merge.__main__",
    "letter_merge.desk",
)
# What they may import of letter-merge besides each other: the application layer, which hands
# them everything they render, and the leaf helpers every layer may use.
LEAF_HELPERS = ("errors", "words", "steps", "config", "paths", "progress", "clock")
FRONT_END_MAY_IMPORT = (
    "letter_merge.app",
    *(f"letter_merge.{helper}" for helper in LEAF_HELPERS),
    *FRONT_ENDS,
)


def within(module: str, prefixes: tuple[str, ...]) -> bool:
    return any(module == prefix or module.startswith(prefix + ".") for prefix in prefixes)


def reaches_past_the_application_layer(graph: dict[str, set[str]]) -> list[str]:
    """Every import of a front end in `graph` (module -> the letter-merge modules it imports)
    of anything but app/, a leaf helper or another front end. The package itself counts as
    nothing reached: it holds only the version."""
    return [
        f"{module} imports {imported}"
        for module in sorted(graph)
        if within(module, FRONT_ENDS)
        for imported in sorted(graph[module])
        if imported != "letter_merge" and not within(imported, FRONT_END_MAY_IMPORT)
    ]


def test_the_front_ends_import_only_the_application_layer_and_the_leaf_helpers() -> None:
    graph = {module: imports(module) for module in MODULES}
    assert [m for m in MODULES if within(m, FRONT_ENDS)], "no front end found"
    assert graph["letter_merge"] == set()  # the package itself: the version, importing nothing
    assert reaches_past_the_application_layer(graph) == []


def test_a_front_end_reaching_past_the_application_layer_is_found() -> None:
    made_up = {
        "letter_merge.cli": {"letter_merge.app.letters", "letter_merge.pdf.warm"},
        "letter_merge.desk.routes": {"letter_merge.config", "letter_merge.records.standing"},
        "letter_merge.console": {"letter_merge.desk.views", "letter_merge.words"},
        "letter_merge.__main__": {"letter_merge.process"},
        "letter_merge.app.letters": {"letter_merge.build"},  # not a front end: may
        "letter_merge.cli_helpers": {"letter_merge.decisions"},  # cli's name, not cli
        "letter_merge.desk": {"letter_merge.apple"},  # a name starting like app, not app
    }
    assert reaches_past_the_application_layer(made_up) == [
        "letter_merge.__main__ imports letter_merge.process",
        "letter_merge.cli imports letter_merge.pdf.warm",
        "letter_merge.desk imports letter_merge.apple",
        "letter_merge.desk.routes imports letter_merge.records.standing",
    ]


def calls_that_print(source: str) -> list[str]:
    """Every print(), click.echo() and click.secho() call in `source`, by line."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Call):
            called = node.func
            if (isinstance(called, ast.Name) and called.id == "print") or (
                isinstance(called, ast.Attribute)
                and called.attr in ("echo", "secho")
                and isinstance(called.value, ast.Name)
                and called.value.id == "click"
            ):
                found.append(f"line {node.lineno}")
    return found


def test_the_command_line_prints_only_through_console() -> None:
    """pipx's way: a command gets its result as data, and one renderer (console.py) prints."""
    assert calls_that_print("click.echo('x')\nprint(1)\nconsole.say('y')\n") == [
        "line 1",
        "line 2",
    ]
    assert calls_that_print(MODULES["letter_merge.cli"].read_text(encoding="utf-8")) == []


def renamed_imports(source: str) -> list[str]:
    """Every letter-merge name imported under another name (`check as checking`): the same
    thing read under two names, usually to dodge a clash."""
    return [
        f"{alias.name} as {alias.asname}"
        for node in ast.walk(ast.parse(source))
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("letter_merge")
        for alias in node.names
        if alias.asname not in (None, alias.name)
    ]


def test_the_front_ends_and_the_application_layer_import_no_name_under_another() -> None:
    assert renamed_imports("from letter_merge.app import check as checking\n") == [
        "check as checking"
    ]
    assert renamed_imports("from letter_merge.app.letters import Converter as Converter\n") == []
    renamed = {
        module: found
        for module, path in MODULES.items()
        if within(module, (*FRONT_ENDS, "letter_merge.app"))
        and (found := renamed_imports(path.read_text(encoding="utf-8")))
    }
    assert renamed == {}


def test_no_module_is_over_800_lines() -> None:
    """A module is one job; past 800 lines it is usually two."""
    long = {
        module: lines
        for module, path in MODULES.items()
        if (lines := len(path.read_text(encoding="utf-8").splitlines())) > 800
    }
    assert long == {}


def test_no_function_is_over_100_lines() -> None:
    """A function past 100 lines is usually several, each of which could have a name."""
    long = [
        f"{module}:{node.lineno} {node.name} ({lines} lines)"
        for module, path in MODULES.items()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8")))
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
        and (lines := (node.end_lineno or node.lineno) - node.lineno + 1) > 100
    ]
    assert long == []
