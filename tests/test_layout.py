"""The package's layout follows the flow of a batch: no module imports a later stage, no import
cycles, and the manual's module layout (docs/development/layout.md) names every folder and
top-level module."""

from __future__ import annotations

import ast
from pathlib import Path

from tests.helpers import ROOT

PACKAGE = ROOT / "letter_merge"

# The stages in the order a batch goes through them. A module may import its own stage or an
# earlier one, never a later one (the README's Development section says the same in words).
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
    assert found >= 0, f"{module} belongs to no stage: add it to STAGES and the README"
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
    "letter_merge.app.publish": "the map's data for the web team (councils.json): an output",
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


# What the front ends may use: the application layer, and the types and words they render.
FRONT_ENDS = ("letter_merge.cli", "letter_merge.console", "letter_merge.desk")
DECIDING = (
    "letter_merge.approve",
    "letter_merge.averages",
    "letter_merge.build",
    "letter_merge.recipients",
    "letter_merge.sync",
    "letter_merge.proof",
    "letter_merge.template",
    "letter_merge.mail.send.outbox",
    "letter_merge.mail.inbox.delivery",
    "letter_merge.mail.send.transport",
    "letter_merge.mail.signin.oauth",
    "letter_merge.records.ledger",
    "letter_merge.records.manifest",
    "letter_merge.records.proofs",
    "letter_merge.records.sources",
)


def test_the_front_ends_reach_the_work_only_through_the_application_layer() -> None:
    reaching = [
        f"{module} imports {imported}"
        for module in MODULES
        if module.startswith(FRONT_ENDS)
        for imported in sorted(imports(module))
        if imported.startswith(DECIDING)
    ]
    assert reaching == []


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
