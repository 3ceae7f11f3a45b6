"""Starting LibreOffice quickly: a profile that lets it start without testing its drawing, and
a faster memory allocator where one is installed.

LibreOffice 7.2 and later run a graphics self-test (GraphicsRenderTests: about a hundred
pictures drawn and compared with what they should be, then a log, GraphicsRenderTests.log, in
the profile) at every start whose profile has not recorded that version of LibreOffice as seen.
Only LibreOffice's window records it, as it shows what is new; a LibreOffice run without one,
as letter-merge runs it, never does, so every start tested again: most of each start's time
(docs/development/performance.md has the figures). So each profile letter-merge gives
LibreOffice records the version it is as seen, before LibreOffice starts.

The test writes only its log: no document is laid out or exported differently without it, and
the checks that letters converted together are the letters alone compare what is made either way.

LibreOffice spends about a sixth of its time allocating and freeing memory. On Linux, where
jemalloc is installed (Debian: libjemalloc2), LibreOffice is started with it in place of the C
library's allocator (LD_PRELOAD): it converts the same letters about a tenth faster. An allocator
decides where things are kept in memory, not what they are: the pages come out the same, and the
same checks compare them. LETTER_MERGE_LIBREOFFICE_MALLOC=system keeps the system's.
"""

from __future__ import annotations

import ctypes.util
import functools
import logging
import os
import re
import sys
from pathlib import Path

from lxml import etree

from letter_merge.environment import LIBREOFFICE_MALLOC
from letter_merge.files import DiskFull, FileInUse, write_atomic
from letter_merge.template.wordxml import PARSER

log = logging.getLogger(__name__)

# Where a profile keeps the settings changed from LibreOffice's own, and the one said here.
SETTINGS = Path("user", "registrymodifications.xcu")
OOR = "http://openoffice.org/2001/registry"
PRODUCT = "/org.openoffice.Setup/Product"
LAST_VERSION = "ooSetupLastVersion"
# "LibreOffice 7.4.7.2 40(Build:2)" -> 7, 4 (and "25.2", "24.04" and so on)
VERSION = re.compile(r"\b(\d+)\.(\d+)")
EMPTY = (
    b'<?xml version="1.0" encoding="UTF-8"?>\n<oor:items xmlns:oor="http://openoffice.org/2001/'
    b'registry" xmlns:xs="http://www.w3.org/2001/XMLSchema" xmlns:xsi="http://www.w3.org/2001/'
    b'XMLSchema-instance"></oor:items>'
)


def _oor(name: str) -> str:
    return f"{{{OOR}}}{name}"


# Where LibreOffice's install keeps its own settings, from its soffice program (Linux and
# Windows: program/soffice; macOS: LibreOffice.app/Contents/MacOS/soffice).
INSTALL_SETTINGS = (
    Path("share", "registry", "main.xcd"),
    Path("Resources", "registry", "main.xcd"),
)
SETUP_VERSION = re.compile(rb'<prop oor:name="ooSetupVersion">\s*<value>([^<]*)</value>')


def release(version: str) -> str | None:
    """The release LibreOffice compares with what a profile has seen, "7.4", from what
    `soffice --version` says; None when it says none."""
    found = VERSION.search(version)
    return f"{int(found[1])}.{int(found[2])}" if found else None


def release_of(version: str, program: Path) -> str | None:
    """The release of the LibreOffice whose soffice is `program`: from what `soffice --version`
    said (`version`), else (soffice.exe on Windows may say nothing) from the release its install
    names in its own settings, which is the one it compares; None when neither says."""
    said = release(version)
    if said is not None:
        return said
    for settings in INSTALL_SETTINGS:
        try:
            found = SETUP_VERSION.search((program.resolve().parent.parent / settings).read_bytes())
        except (OSError, RuntimeError):  # (RuntimeError: a loop of links)
            continue
        if found:
            return release(found[1].decode("ascii", "replace"))
    return None


def _rank(release: str) -> int:
    """How LibreOffice orders releases: 7.4 is 74, 25.2 is 252."""
    found = VERSION.search(release)
    return int(found[1]) * 10 + int(found[2]) if found else -1


def record_seen(profile: Path, seen: str | None) -> bool:
    """Record in the LibreOffice profile folder `profile` (made if new) that LibreOffice's
    release `seen` ("7.4", see release_of) has been seen, so that it starts without its
    graphics self-test. Call only while no LibreOffice uses the profile. False when the release
    is not known or the profile's settings cannot be read or written: LibreOffice then tests
    itself as before, and converts the same."""
    if seen is None or _rank(seen) < 0:
        return False
    path = profile / SETTINGS
    try:
        root = etree.fromstring(path.read_bytes() if path.exists() else EMPTY, PARSER)
        recorded = [
            prop
            for item in root.iterfind("item")
            if item.get(_oor("path")) == PRODUCT
            for prop in item.iterfind("prop")
            if prop.get(_oor("name")) == LAST_VERSION
        ]
        if any(_rank(prop.findtext("value") or "") >= _rank(seen) for prop in recorded):
            return True
        if recorded:  # an older one: said again, in its place, whatever else its item holds
            prop, *others = recorded
            for other in others:
                parent = other.getparent()
                if parent is not None:
                    parent.remove(other)
            for value in list(prop):
                prop.remove(value)
        else:
            item = etree.SubElement(root, "item", {_oor("path"): PRODUCT})
            prop = etree.SubElement(item, "prop", {_oor("name"): LAST_VERSION})
        prop.set(_oor("op"), "fuse")
        etree.SubElement(prop, "value").text = seen
        write_atomic(path, etree.tostring(root, xml_declaration=True, encoding="UTF-8"))
    except (OSError, etree.XMLSyntaxError, FileInUse, DiskFull) as error:
        log.info("LibreOffice will test its drawing as it starts: %s: %s", path, error)
        return False
    return True


def environment() -> dict[str, str] | None:
    """The environment LibreOffice is started in: this one with jemalloc preloaded, on Linux
    where it is installed and LETTER_MERGE_LIBREOFFICE_MALLOC does not say "system"; None (this
    one as it is) otherwise."""
    if sys.platform != "linux" or os.environ.get(LIBREOFFICE_MALLOC, "").strip() == "system":
        return None
    library = jemalloc()
    if library is None:
        return None
    preloaded = os.environ.get("LD_PRELOAD", "")
    return {**os.environ, "LD_PRELOAD": f"{library} {preloaded}".strip()}


@functools.cache
def jemalloc() -> str | None:
    """jemalloc's library as the dynamic loader finds it ("libjemalloc.so.2"), or None."""
    return ctypes.util.find_library("jemalloc")
