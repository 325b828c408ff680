"""The pages as a reader sees them: each rendered to HTML as GitHub does (CommonMark with tables).

- Every image shown (`<img src>`, from Markdown or raw HTML) is a file of the
  repository that is an image.
- Every link (`<a href>`) stays inside the repository, to a file or folder
  that exists and, with `#anchor`, to a heading the target page renders.
- Every table renders as a `<table>`, each row with the header's cells (GitHub
  silently drops a row's extra cells, such as those a `|` inside code makes).
- No Markdown is left unrendered: no `[text](target)` or `|` row in the text.
"""

import functools
import re
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote

import pytest
from markdown_it import MarkdownIt

from tests.docs.test_docs import MODEL_CARDS
from tests.docs.test_docs import PAGES
from tests.docs.test_docs import ROOT
from tests.docs.test_docs import _slug
from tests.docs.test_docs import _table_cells

IMAGE_SIGNATURES = {".png": b"\x89PNG\r\n\x1a\n", ".jpg": b"\xff\xd8\xff", ".jpeg": b"\xff\xd8\xff",
                    ".gif": b"GIF8", ".svg": b"<svg"}


class _RenderedPage(HTMLParser):
    """What a rendered page shows: images, links, headings' anchors, tables, and its plain text."""

    def __init__(self, html):
        super().__init__(convert_charrefs=True)
        self.images, self.links, self.anchors, self.tables, self.text = [], [], [], [], []
        self._heading, self._code, self._row = None, 0, None
        self.feed(html)
        self.close()

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "img":
            self.images.append(attrs.get("src") or "")
        elif tag == "a" and "href" in attrs:
            self.links.append(attrs["href"])
        elif re.fullmatch(r"h[1-6]", tag):
            self._heading = []
        elif tag in ("code", "pre"):
            self._code += 1
        elif tag == "table":
            self.tables.append([])
        elif tag == "tr":
            self._row = 0
        elif tag in ("td", "th") and self._row is not None:
            self._row += 1

    def handle_endtag(self, tag):
        if re.fullmatch(r"h[1-6]", tag) and self._heading is not None:
            self.anchors.append(_github_anchor("".join(self._heading), self.anchors))
            self._heading = None
        elif tag in ("code", "pre"):
            self._code -= 1
        elif tag == "tr":
            self.tables[-1].append(self._row)
            self._row = None

    def handle_data(self, data):
        if self._heading is not None:
            self._heading.append(data)
        if not self._code:
            self.text.append(data)


def _github_anchor(heading, earlier):
    """The `id` GitHub gives a heading: lower case, punctuation dropped, spaces to `-`, `-1`... if repeated."""
    slug = _slug(heading)
    repeats = sum(1 for anchor in earlier if re.fullmatch(rf"{re.escape(slug)}(-\d+)?", anchor))
    return f"{slug}-{repeats}" if repeats else slug


_MARKDOWN = MarkdownIt("commonmark", {"html": True}).enable("table")


@functools.cache
def _rendered(path):
    return _RenderedPage(_MARKDOWN.render(Path(path).read_text()))


def _source_tables(path):
    """`[[cells per row]]` of the Markdown tables of `path`, counted as GitHub splits a row."""
    tables, table, fenced = [], None, False
    for line in Path(path).read_text().splitlines():
        fenced ^= line.lstrip().startswith("```")
        if not fenced and line.startswith("|"):
            cells = _table_cells(line)
            if table is None:
                table = []
                tables.append(table)
            if not re.fullmatch(r"[\s|:-]+", line):  # not the delimiter row
                table.append(len(cells))
        else:
            table = None
    return tables


def _target_problem(page, target, kind):
    """Why `target` (a `src` or `href` on `page`) does not resolve, or None."""
    if re.match(r"[a-z][\w+.-]*:|//", target, re.IGNORECASE):
        return f"{kind} {target} is outside the repository"
    file, _, anchor = unquote(target).partition("#")
    resolved = (page.parent / file).resolve() if file else page
    if ROOT not in (resolved, *resolved.parents):
        return f"{kind} {target} is outside the repository"
    if not resolved.exists():
        return f"{kind} {target} does not exist"
    if kind == "image":
        signature = IMAGE_SIGNATURES.get(resolved.suffix.lower())
        if signature is None or not resolved.read_bytes().lstrip().startswith(signature):
            return f"image {target} is not a PNG, JPEG, GIF or SVG file"
    if anchor and resolved.suffix == ".md" and anchor not in _rendered(resolved).anchors:
        return f"link {target}: no heading #{anchor} in {resolved.relative_to(ROOT)}"
    return None


@pytest.mark.parametrize("page", [*PAGES, *MODEL_CARDS], ids=lambda p: str(p.relative_to(ROOT)))
def test_rendered_images_and_links_resolve(page):
    rendered = _rendered(page)
    problems = [_target_problem(page, src, "image") for src in rendered.images]
    problems += [_target_problem(page, href, "link") for href in rendered.links]
    problems = [problem for problem in problems if problem]
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("page", [*PAGES, *MODEL_CARDS], ids=lambda p: str(p.relative_to(ROOT)))
def test_tables_render_with_their_columns(page):
    rendered, source = _rendered(page), _source_tables(page)
    assert len(rendered.tables) == len(source), "a table does not render as <table>"
    for number, (rows, cells) in enumerate(zip(rendered.tables, source), 1):
        header = rows[0]
        assert all(count == header for count in rows), f"table {number}: rendered rows {rows}"
        assert cells == [header] * len(cells), (
            f"table {number}: cells per source row {cells}, header {header} (escape a `|` in a "
            r"cell as `\|`)")


@pytest.mark.parametrize("page", [*PAGES, *MODEL_CARDS], ids=lambda p: str(p.relative_to(ROOT)))
def test_no_markdown_is_left_unrendered(page):
    text = "".join(_rendered(page).text)
    leftovers = re.findall(r"!?\[[^\]\n]*\]\([^)\n]*\)|^\s*\|.*\|\s*$", text, re.MULTILINE)
    assert not leftovers, leftovers


def test_the_front_page_shows_samples_first():
    """The README's first screenful: the title, a picture of samples, then the set-up commands."""
    rendered = _rendered(ROOT / "README.md")
    text = (ROOT / "README.md").read_text()
    assert rendered.images and "samples" in rendered.images[0]
    assert text.index(rendered.images[0]) < text.index("```bash") < text.index("\n## ")
    assert len(text.splitlines()) <= 250


def test_the_checks_catch_broken_pages(tmp_path):
    page = tmp_path / "page.md"
    page.write_text("# A page\n\n![x](missing.png) [y](#a-page) [z](#nowhere)\n\n"
                    "| a | b |\n| --- | --- |\n| `q(z|x)` | 1 |\n\n[w] (broken.md)\n")
    rendered = _RenderedPage(_MARKDOWN.render(page.read_text()))
    assert rendered.anchors == ["a-page"] and rendered.images == ["missing.png"]
    assert [href for href in rendered.links] == ["#a-page", "#nowhere"]
    assert _source_tables(page) == [[2, 3]] and rendered.tables == [[2, 2]]
    assert _github_anchor("Decoder (`keras_cvae.GaussianDecoder`)", []) == "decoder-keras_cvaegaussiandecoder"
    assert _github_anchor("Tests", ["tests"]) == "tests-1"
    readme = ROOT / "README.md"
    assert "does not exist" in _target_problem(readme, "missing.png", "image")
    assert "not a PNG" in _target_problem(readme, "zoo/digits_basic/config.json", "image")
    assert "no heading #nowhere" in _target_problem(readme, "docs/model.md#nowhere", "link")
    assert "outside" in _target_problem(readme, "https://example.com", "link")
    assert _target_problem(readme, "docs/model.md#the-fitted-prior", "link") is None
