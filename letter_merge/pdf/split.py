"""The PDF of letters converted together, cut back into one PDF per letter.

Each letter's PDF keeps what it needs of the combined one and nothing of the other letters: its
pages, with only the pictures they draw; its part of the structure tree (the elements on its pages,
with their parent tree entries and the role map), so that it stays tagged for screen readers; its
headings as bookmarks; the language, output intent and metadata, with its own title.
Where each letter starts is read from the named destinations combine.py's bookmarks become.

The other way round, `join_letters` puts letters' PDFs one after another, for the proof's
all-letters.pdf.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from itertools import pairwise
from pathlib import Path

import pikepdf

from letter_merge.config import DEFAULT_PDF, PdfSettings
from letter_merge.pdf import pictures
from letter_merge.pdf.combine import CombineError
from letter_merge.pdf.conformance import is_element, kids, mend, save

MARK = re.compile(r"/?LetterMerge(\d{5})")
# A content stream drawing an XObject (a picture): "/Im7 Do"
DRAWN = re.compile(rb"(/[^\s/\[\]<>(){}%]+)\s+Do\b")
# Catalog entries every letter keeps as they are in the combined PDF.
KEPT = ("/Lang", "/MarkInfo", "/ViewerPreferences", "/OutputIntents")
Key = tuple[int, int]


# (the combined PDF, its structure tree, each page's letter) -> the tree as letters' blocks
DivideTree = Callable[[pikepdf.Pdf, pikepdf.Dictionary, list[int]], "_Blocks | None"]


@dataclass(frozen=True)
class LetterPdf:
    data: bytes
    pages: int


def letter_pdfs(
    combined: Path,
    titles: Sequence[str],
    settings: PdfSettings = DEFAULT_PDF,
    charts: Sequence[bytes | None] = (),
    *,
    divide: DivideTree | None = None,
) -> list[LetterPdf]:
    """The combined PDF of letters cut into one PDF per letter, titled `titles` (in order), each
    given its chart (`charts`, in order; None for a letter without) in the stand-in's place
    (pictures.py). `divide` reads its structure tree as each letter's blocks (None: the tree
    does not divide into the letters); tests give one that refuses."""
    with pikepdf.open(combined) as source:
        pages = letter_pages(source, len(titles))
        for page in source.pages:
            _keep_own_pictures(page)
        letter_of_page = [number for number, own in enumerate(pages) for _ in own]
        tree = source.Root.get("/StructTreeRoot")
        blocks = None
        if isinstance(tree, pikepdf.Dictionary):
            blocks = (divide or _Blocks.read)(source, tree, letter_of_page)
            if blocks is None:  # the converter then converts these letters one by one
                raise CombineError("its structure tree does not divide into the letters")
        combined_pdf = _Combined(source, _read_outline(source), blocks)
        charts = list(charts) or [None] * len(titles)
        return [
            LetterPdf(_letter_pdf(combined_pdf, number, own, settings, title, chart), len(own))
            for number, (title, own, chart) in enumerate(zip(titles, pages, charts, strict=True))
        ]


def letter_pages(pdf: pikepdf.Pdf, count: int) -> list[list[int]]:
    """Page numbers (0-based) of each of `count` letters in the combined PDF."""
    index = {page.obj.objgen: number for number, page in enumerate(pdf.pages)}
    starts: dict[int, int] = {}
    for name, value in _named_destinations(pdf):
        match = MARK.fullmatch(name)
        destination = value.get("/D") if isinstance(value, pikepdf.Dictionary) else value
        if match and isinstance(destination, pikepdf.Array) and len(destination):
            page = index.get(destination[0].objgen)
            if page is not None:
                starts[int(match.group(1))] = page
    if sorted(starts) != list(range(count)):
        raise CombineError(f"the PDF marks {len(starts)} letter starts, not {count}")
    firsts = [starts[i] for i in range(count)] + [len(pdf.pages)]
    if any(a >= b for a, b in pairwise(firsts)) or firsts[0] != 0:
        raise CombineError("the letters' first pages are out of order in the PDF")
    return [list(range(a, b)) for a, b in pairwise(firsts)]


def _named_destinations(pdf: pikepdf.Pdf) -> list[tuple[str, pikepdf.Object]]:
    """Named destinations, from the catalog's /Dests (as LibreOffice writes them) or /Names."""
    found: list[tuple[str, pikepdf.Object]] = []
    dests = pdf.Root.get("/Dests")
    if isinstance(dests, pikepdf.Dictionary):
        found += [(str(name), value) for name, value in dests.items()]
    names = pdf.Root.get("/Names")
    if isinstance(names, pikepdf.Dictionary) and "/Dests" in names:
        tree = pikepdf.NameTree(names.Dests)
        found += [(str(name), value) for name, value in tree.items()]
    return found


def _keep_own_pictures(page: pikepdf.Page) -> None:
    """Give the page a resource list of its own with only the pictures it shows.

    LibreOffice lists every picture of the combined document in one resource dictionary shared by
    all pages; copied as it is, each letter's PDF would carry every other letter's chart."""
    resources = page.obj.get("/Resources")
    if not isinstance(resources, pikepdf.Dictionary):
        return
    pictures = resources.get("/XObject")
    if not isinstance(pictures, pikepdf.Dictionary):
        return
    contents = page.obj.get("/Contents")
    streams = list(contents) if isinstance(contents, pikepdf.Array) else [contents]
    shown = {
        name.decode()
        for stream in streams
        if isinstance(stream, pikepdf.Stream)
        for name in DRAWN.findall(stream.read_bytes())
    }
    own = pikepdf.Dictionary({key: value for key, value in resources.items()})
    own[pikepdf.Name.XObject] = pikepdf.Dictionary(
        {name: ref for name, ref in pictures.items() if name in shown}
    )
    page.obj[pikepdf.Name.Resources] = own


@dataclass
class _Bookmark:
    title: str
    page: int | None  # 0-based page of the combined PDF
    children: list[_Bookmark] = field(default_factory=list)


def _read_outline(pdf: pikepdf.Pdf) -> list[_Bookmark]:
    index = {page.obj.objgen: number for number, page in enumerate(pdf.pages)}

    def page_of(item: pikepdf.OutlineItem) -> int | None:
        destination: object = item.destination
        if destination is None and item.action is not None:
            destination = item.action.get("/D")
        if isinstance(destination, pikepdf.Array) and len(destination):
            return index.get(destination[0].objgen)
        return None

    def read(item: pikepdf.OutlineItem) -> _Bookmark:
        return _Bookmark(item.title, page_of(item), [read(child) for child in item.children])

    with pdf.open_outline() as outline:
        return [read(item) for item in outline.root]


@dataclass
class _Combined:
    """The combined PDF, with what every letter takes from it read once."""

    pdf: pikepdf.Pdf
    outline: list[_Bookmark]
    blocks: _Blocks | None  # the structure tree as letters' blocks, if tagged


def _letter_pdf(
    combined: _Combined,
    number: int,
    numbers: list[int],
    settings: PdfSettings,
    title: str,
    chart: bytes | None,
) -> bytes:
    source = combined.pdf
    letter = pikepdf.new()
    letter.pages.extend(source.pages[numbers[0] : numbers[-1] + 1])
    if chart is not None and not pictures.put_in(letter, chart):
        raise CombineError(f"letter {number + 1}: its chart's stand-in is not in the PDF")
    for key in KEPT:
        if key in source.Root:
            letter.Root[key] = _copy(letter, source.Root[key])
    if "/Metadata" in source.Root:
        letter.Root.Metadata = letter.copy_foreign(source.Root.Metadata)
    letter.docinfo = letter.make_indirect(pikepdf.Dictionary(dict(source.docinfo.items())))
    if combined.blocks is not None:
        combined.blocks.copy_into(letter, number)
    numbering = {old: new for new, old in enumerate(numbers)}
    with letter.open_outline() as letter_outline:
        letter_outline.root.extend(_bookmarks(combined.outline, numbering))
    mend(letter, settings, title)
    return save(letter)


def join_letters(letters: Sequence[tuple[str, Path]]) -> bytes:
    """The PDFs of `letters` ((name, PDF) pairs) one after another, each under a bookmark of its
    name with its own bookmarks beneath."""
    joined = pikepdf.new()
    items = []
    with contextlib.ExitStack() as opened:  # qpdf reads the letters' pages when it writes
        for name, path in letters:
            letter = opened.enter_context(pikepdf.open(path))
            first = len(joined.pages)
            joined.pages.extend(letter.pages)
            numbering = {number: first + number for number in range(len(letter.pages))}
            item = pikepdf.OutlineItem(name, first)
            item.children.extend(_bookmarks(_read_outline(letter), numbering))
            items.append(item)
        with joined.open_outline() as outline:
            outline.root.extend(items)
        return save(joined)


def _bookmarks(outline: list[_Bookmark], numbering: dict[int, int]) -> list[pikepdf.OutlineItem]:
    """The bookmarks that point into this letter, to its own pages."""
    items = []
    for bookmark in outline:
        children = _bookmarks(bookmark.children, numbering)
        if bookmark.page in numbering:
            item = pikepdf.OutlineItem(bookmark.title, numbering[bookmark.page])
            item.children.extend(children)
            items.append(item)
        else:
            items.extend(children)  # a parent elsewhere (another letter): keep what is ours
    return items


class _Blocks:
    """The structure tree LibreOffice writes for letters converted together, copied a letter at
    a time by qpdf (in C++) rather than element by element.

    Under the document element, each block (a paragraph, a heading, a table, a picture) lies
    within one letter, since every letter starts on a new page. A block's link up to the
    document element, which leads to every letter's blocks, is cut; then a letter's blocks are
    copied in one go, their references to pages and links landing on the letter's own copies of
    them, and the parent tree's entries for the letter's pages and links are copied under their
    own numbers."""

    def __init__(
        self,
        pdf: pikepdf.Pdf,
        tree: pikepdf.Dictionary,
        roots: list[pikepdf.Dictionary],
        blocks: dict[int, list[tuple[int, pikepdf.Object]]],
        parents: dict[int, pikepdf.Object],
    ) -> None:
        self.pdf = pdf
        self.tree = tree
        self.roots = roots  # the document elements (one, from LibreOffice)
        self.blocks = blocks  # letter -> (its document element's index, block), in order
        self.parents = parents  # the parent tree: key -> its value, indirect

    @classmethod
    def read(
        cls, pdf: pikepdf.Pdf, tree: pikepdf.Dictionary, letter_of_page: list[int]
    ) -> _Blocks | None:
        """The tree as letters' blocks; None when it is not one (a block across two letters,
        content straight under the document element, no parent tree)."""
        index = {page.obj.objgen: number for number, page in enumerate(pdf.pages)}
        roots = kids(tree)
        parents = _number_tree(tree.get("/ParentTree"))
        if parents is None or not all(is_element(root) for root in roots):
            return None
        blocks: dict[int, list[tuple[int, pikepdf.Object]]] = {}
        for number, root in enumerate(roots):
            for block in kids(root):
                if not is_element(block):
                    return None
                first = _edge_page(block, index, first=True)
                last = _edge_page(block, index, first=False)
                if first is None or last is None or letter_of_page[first] != letter_of_page[last]:
                    return None
                blocks.setdefault(letter_of_page[first], []).append((number, block))
        for root in roots:
            for block in kids(root):
                del block["/P"]  # the way up to every other letter
        indirect = {
            key: value if value.is_indirect else pdf.make_indirect(value)
            for key, value in parents.items()
        }
        return cls(
            pdf, tree, [r for r in roots if isinstance(r, pikepdf.Dictionary)], blocks, indirect
        )

    def copy_into(self, letter: pikepdf.Pdf, number: int) -> None:
        root = letter.make_indirect(pikepdf.Dictionary(Type=pikepdf.Name.StructTreeRoot))
        documents = []
        mine = self.blocks.get(number, [])
        for position, old in enumerate(self.roots):
            own = [block for at, block in mine if at == position]
            if not own:
                continue
            document = letter.make_indirect(
                pikepdf.Dictionary(
                    {k: _copy(letter, v) for k, v in old.items() if k not in ("/P", "/K", "/Pg")}
                )
            )
            copied = letter.copy_foreign(self.pdf.make_indirect(pikepdf.Array(own)))
            for block in copied:
                block.P = document
            document.K = pikepdf.Array(list(copied))
            document.P = root
            document.Pg = letter.pages[0].obj
            documents.append(document)
        root.K = pikepdf.Array(documents)
        for key in ("/RoleMap", "/ClassMap"):
            if key in self.tree:
                root[key] = _copy(letter, self.tree[key])
        keys = sorted(
            {int(page.obj.StructParents) for page in letter.pages if "/StructParents" in page.obj}
            | {
                int(annotation.StructParent)
                for page in letter.pages
                for annotation in page.obj.get("/Annots", pikepdf.Array())
                if "/StructParent" in annotation
            }
        )
        numbers: list[pikepdf.Object | int] = []
        for number_key in keys:
            if number_key in self.parents:
                numbers += [number_key, letter.copy_foreign(self.parents[number_key])]
        root.ParentTree = letter.make_indirect(pikepdf.Dictionary(Nums=pikepdf.Array(numbers)))
        root.ParentTreeNextKey = keys[-1] + 1 if keys else 0
        letter.Root.StructTreeRoot = root


def _edge_page(element: pikepdf.Object, index: dict[Key, int], *, first: bool) -> int | None:
    """The page of an element's first (or last) content, following its first (or last) kids."""
    node, page = element, None
    for _ in range(100):  # deeper than any real tree
        if "/Pg" in node:
            page = index.get(node.Pg.objgen)
        found = kids(node)
        if not found:
            return page
        kid = found[0] if first else found[-1]
        if not isinstance(kid, pikepdf.Dictionary):
            return page  # marked content on the element's own page
        if not is_element(kid):
            return index.get(kid.Pg.objgen) if "/Pg" in kid else page
        node = kid
    return None


def _number_tree(node: pikepdf.Object | None) -> dict[int, pikepdf.Object] | None:
    """A number tree's entries, from /Nums and any /Kids."""
    if not isinstance(node, pikepdf.Dictionary):
        return None
    found: dict[int, pikepdf.Object] = {}
    stack: list[pikepdf.Object] = [node]
    while stack:
        current = stack.pop()
        numbers = current.get("/Nums")
        if isinstance(numbers, pikepdf.Array):
            for at in range(0, len(numbers) - 1, 2):
                found[int(numbers[at])] = numbers[at + 1]
        stack.extend(kid for kid in current.get("/Kids", pikepdf.Array()))
    return found


def _copy(pdf: pikepdf.Pdf, value: pikepdf.Object) -> pikepdf.Object:
    """`value` from another PDF, for `pdf`: indirect objects are copied with what they refer to,
    direct ones taken apart so that nothing inside them still belongs to the other PDF."""
    if isinstance(value, pikepdf.Object) and value.is_indirect:
        return pdf.copy_foreign(value)
    if isinstance(value, pikepdf.Dictionary):
        return pikepdf.Dictionary({key: _copy(pdf, item) for key, item in value.items()})
    if isinstance(value, pikepdf.Array):
        return pikepdf.Array([_copy(pdf, item) for item in value])
    return value
