"""The documentation site, checked as a reader would: it builds with warnings as errors, and its
HTML has no broken internal links, no missing images and no empty pages.

Builds the site only when the ``docs`` extra is installed (Sphinx, the theme, numpydoc, MyST);
otherwise the tests are skipped with the reason.  Set ``SIMKIT_DOCS_HTML`` to the folder of an
existing build (e.g. ``docs/_build/html``, as ``.ci/run`` builds it first) to crawl that instead
of building again.
"""

from __future__ import annotations

import html.parser
import importlib.util
import os
import re
import subprocess
import sys
from pathlib import Path
from urllib.parse import unquote, urlparse

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
NEEDED = ("sphinx", "pydata_sphinx_theme", "numpydoc", "myst_parser", "myst_nb", "sphinx_design")
MISSING = [m for m in NEEDED if importlib.util.find_spec(m) is None]

pytestmark = pytest.mark.skipif(
    bool(MISSING), reason=f"the docs extra is not installed (missing {', '.join(MISSING)}): pip install -e '.[docs]'"
)


@pytest.fixture(scope="module")
def site() -> Path:
    given = os.environ.get("SIMKIT_DOCS_HTML")
    if given:
        out = Path(given)
        assert (out / "index.html").is_file(), f"SIMKIT_DOCS_HTML={given} has no index.html"
        return out
    out = DOCS / "_build" / "html"
    cmd = [sys.executable, "-m", "sphinx", "-W", "--keep-going", "-q", "-b", "html", str(DOCS), str(out)]
    run = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=900)
    assert run.returncode == 0, f"sphinx -W failed:\n{run.stdout[-4000:]}\n{run.stderr[-8000:]}"
    return out


class _Page(html.parser.HTMLParser):
    """Links, image and script sources, element ids and the visible text of the article of one page."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.links: list[str] = []
        self.images: list[str] = []
        self.scripts: list[str] = []
        self.has_math = False  # an element of class "math" (a formula MathJax typesets)
        self.ids: set[str] = set()
        self.article: list[str] = []
        self._depth = 0  # > 0 while inside <article>
        self._skip = 0  # inside <script>/<style>

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if "id" in a:
            self.ids.add(a["id"])
        if tag == "a" and a.get("name"):
            self.ids.add(a["name"])
        if tag == "a" and a.get("href"):
            self.links.append(a["href"])
        if tag == "img" and a.get("src") is not None:
            self.images.append(a["src"])
        if tag == "link" and a.get("rel") == "stylesheet" and a.get("href"):
            self.links.append(a["href"])
        if tag == "script" and a.get("src"):
            self.scripts.append(a["src"])
        if "math" in (a.get("class") or "").split():
            self.has_math = True
        if tag in ("script", "style"):
            self._skip += 1
        if tag == "article":
            self._depth += 1

    def handle_endtag(self, tag):
        if tag in ("script", "style"):
            self._skip = max(0, self._skip - 1)
        if tag == "article":
            self._depth = max(0, self._depth - 1)

    def handle_data(self, data):
        if self._depth and not self._skip:
            self.article.append(data)


def _pages(site: Path) -> dict[Path, _Page]:
    pages = {}
    for path in sorted(site.rglob("*.html")):
        rel = path.relative_to(site)
        if rel.parts[0] in ("_static", "_sources", "_modules"):  # theme assets, sources, highlighted code
            continue
        parser = _Page()
        parser.feed(path.read_text(encoding="utf-8"))
        pages[path] = parser
    return pages


def _local_target(page: Path, ref: str, site: Path):
    """(file, fragment) for a link inside the site, None for an external or special link."""
    parsed = urlparse(ref)
    if parsed.scheme or parsed.netloc or ref.startswith(("mailto:", "javascript:", "data:")):
        return None
    path, fragment = parsed.path, parsed.fragment
    target = page if not path else (page.parent / unquote(path)).resolve()
    if target.is_dir():
        target = target / "index.html"
    return target, unquote(fragment)


def test_internal_links_resolve(site):
    pages = _pages(site)
    broken = []
    for page, parsed in pages.items():
        for ref in parsed.links:
            found = _local_target(page, ref, site)
            if found is None:
                continue
            target, fragment = found
            if not target.exists():
                broken.append(f"{page.relative_to(site)}: {ref} (no such file)")
            elif fragment and target.suffix == ".html":
                ids = pages[target].ids if target in pages else _page_ids(target)
                if fragment not in ids:
                    broken.append(f"{page.relative_to(site)}: {ref} (no #{fragment} there)")
    assert not broken, f"{len(broken)} broken internal links:\n" + "\n".join(broken[:50])


def _page_ids(path: Path) -> set[str]:
    parser = _Page()
    parser.feed(path.read_text(encoding="utf-8"))
    return parser.ids


def test_images_exist_and_are_not_empty(site):
    missing = []
    for page, parsed in _pages(site).items():
        for src in parsed.images:
            if src.startswith("data:image/"):
                if len(src) < 200:
                    missing.append(f"{page.relative_to(site)}: an empty inline image")
                continue
            found = _local_target(page, src, site)
            if found is None:
                missing.append(f"{page.relative_to(site)}: {src} (images must be local: the site works offline)")
                continue
            target, _ = found
            if not target.is_file() or target.stat().st_size == 0:
                missing.append(f"{page.relative_to(site)}: {src}")
    assert not missing, "missing images:\n" + "\n".join(missing[:50])


MATHJAX = "_static/mathjax/tex-chtml-full.js"  # docs/conf.py mathjax_path, relative to _static


def test_scripts_are_local(site):
    """Every script a page loads is a file of the site: it works offline, nothing from a CDN."""
    problems = []
    for page, parsed in _pages(site).items():
        for src in parsed.scripts:
            found = _local_target(page, src, site)
            if found is None:
                problems.append(f"{page.relative_to(site)}: {src} (not local)")
            elif not found[0].is_file():
                problems.append(f"{page.relative_to(site)}: {src} (no such file)")
    assert not problems, "scripts that are not in the site:\n" + "\n".join(problems[:50])


def test_math_pages_load_the_local_mathjax(site):
    """Every page with a formula loads the MathJax shipped in docs/_static/mathjax/, and that copy
    has every font file its CHTML output asks for."""
    pages = _pages(site)
    with_math = [page for page, parsed in pages.items() if parsed.has_math]
    assert with_math, "no page with math: the crawler no longer sees formulas"
    mathjax = (site / MATHJAX).resolve()
    problems = []
    for page in with_math:
        loaded = [found[0] for src in pages[page].scripts if (found := _local_target(page, src, site)) is not None]
        remote = [
            src for src in pages[page].scripts if "mathjax" in src.lower() and _local_target(page, src, site) is None
        ]
        if mathjax not in loaded or remote:
            problems.append(f"{page.relative_to(site)}: loads {remote or 'no'} remote and not {MATHJAX}")
    assert not problems, "pages with math that do not load the local MathJax:\n" + "\n".join(problems[:50])
    assert mathjax.is_file() and mathjax.stat().st_size > 500_000, f"{MATHJAX}: missing or truncated"
    fonts = sorted(set(re.findall(r"MathJax_[A-Za-z0-9-]+\.woff", mathjax.read_text(encoding="utf-8"))))
    folder = mathjax.parent / "output" / "chtml" / "fonts" / "woff-v2"
    assert fonts, "the MathJax component names no fonts: not the CHTML component?"
    missing = [f for f in fonts if not (folder / f).is_file() or (folder / f).stat().st_size == 0]
    assert not missing, f"MathJax fonts missing from {folder.relative_to(site)}: {missing}"


def test_no_empty_pages(site):
    empty = []
    for page, parsed in _pages(site).items():
        rel = page.relative_to(site)
        if rel.name in ("genindex.html", "search.html", "py-modindex.html"):
            continue
        words = " ".join("".join(parsed.article).split()).split()
        # an API page is a title, a signature and its docstring; any other page has prose
        least = 6 if rel.parts[:2] == ("api", "generated") else 25
        if len(words) < least:
            empty.append(f"{rel} ({len(words)} words)")
    assert not empty, "pages with (almost) nothing in them:\n" + "\n".join(empty)


def test_every_study_has_a_page_with_its_figure_and_parameters(site):
    from simkit.registry import all_studies

    problems = []
    for study in all_studies():
        if not study.simulate.__module__.startswith("simkit.studies."):
            continue  # a study registered by a test or a plugin (SIMKIT_STUDIES), not part of the site
        page = site / "studies" / f"{study.name}.html"
        if not page.is_file():
            problems.append(f"{study.name}: no page")
            continue
        text = page.read_text(encoding="utf-8")
        plain = " ".join(re.sub(r"<[^>]+>", "", text).split())
        for p in study.params:
            if f">{p.name}<" not in text:
                problems.append(f"{study.name}: parameter {p.name} missing from the table")
        if (DOCS / "gallery" / f"{study.name}.png").is_file() and f"{study.name}.png" not in text:
            problems.append(f"{study.name}: gallery figure not shown")
        if f"simkit run {study.name}" not in plain:
            problems.append(f"{study.name}: no command to reproduce it")
    assert not problems, "\n".join(problems)


def test_tutorials_executed(site):
    """Every tutorial page shows executed output (a figure or a text result)."""
    pages = sorted((site / "tutorials").glob("*.html"))
    assert pages, "no tutorial pages"
    for page in pages:
        if page.name == "index.html":
            continue
        text = page.read_text(encoding="utf-8")
        assert "cell_output" in text, f"{page.name}: no executed output"
        assert "Traceback" not in text, f"{page.name}: shows a traceback"
        source = DOCS / "tutorials" / (page.stem + ".md")
        code = "\n".join(re.findall(r"```\{code-cell\}[^\n]*\n(.*?)```", source.read_text(encoding="utf-8"), re.S))
        # a tutorial that draws shows its figures (not the text repr of a Figure)
        if re.search(r"\.plot\(|\.plot\.|plotting\.figure\(|plt\.subplots\(", code):
            parsed = _Page()
            parsed.feed(text)
            assert parsed.images, f"{page.name}: draws figures but shows none"
