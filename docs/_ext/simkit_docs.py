"""Sphinx extension: pages generated from the registered studies and the family modules.

At ``builder-inited`` it writes (only where the text changed, so incremental builds stay cheap)

* ``docs/studies/index.md`` and one ``docs/studies/<name>.md`` per registered study — title,
  paper with its DOI/arXiv link, teaching text, the theory formulas the study uses (the LaTeX of
  the family theory functions its module calls), gallery figure, parameters table, the checks as
  written in the study's source, and the commands that reproduce it;
* ``docs/families/<family>.md`` per family: the family's module text, its theory modules (with
  every formula) and its studies.

Nothing is copied by hand: a new study (or family) gets its pages with no docs edit.  Both
folders are git-ignored.
"""

from __future__ import annotations

import ast
import importlib
import inspect
import pkgutil
import re
import textwrap
import types
from pathlib import Path

import simkit
from simkit.registry import all_studies

FAMILY_TITLES = {
    "collapse": "Model collapse",
    "bandits": "Bandits",
    "regression": "Regression",
    "irl": "Inverse reinforcement learning",
    "shift_preferences": "Covariate shift, preferences, calibration and continual learning",
}

_ARXIV = re.compile(r"arXiv[:\s]*(\d{4}\.\d{4,5})(v\d+)?", re.I)
_DOI = re.compile(r"\b(10\.\d{4,9}/[^\s,;()]+[^\s,;().])")
_MD_SPECIAL = re.compile(r"([\\`*_\[\]<>$|#~{}])")


def md_escape(text: str) -> str:
    """Escape Markdown/MyST punctuation so free text renders literally."""
    return _MD_SPECIAL.sub(r"\\\1", text)


def family_title(family: str) -> str:
    return FAMILY_TITLES.get(family, family.replace("_", " ").capitalize())


# ---------------------------------------------------------------------------------------------
# paper links


def paper_links(study) -> list[tuple[str, str]]:
    """(label, url) pairs for a study's paper: from a ``references``/``doi``/``arxiv``/``url``
    field when the study has one, else from DOIs and arXiv ids written in ``study.paper``."""
    links: list[tuple[str, str]] = []
    texts = [study.paper]
    for attr in ("references", "doi", "arxiv", "url", "urls"):
        value = getattr(study, attr, None)
        if not value:
            continue
        values = value if isinstance(value, (list, tuple)) else [value]
        for v in values:
            if isinstance(v, str):
                texts.append(v if attr != "arxiv" or "arxiv" in v.lower() else f"arXiv:{v}")
                if v.startswith("http"):
                    links.append((v, v))
            else:  # an object or mapping with doi / arxiv / url
                get = v.get if isinstance(v, dict) else (lambda k, _v=v: getattr(_v, k, None))
                for key in ("doi", "arxiv", "url"):
                    item = get(key)
                    if item:
                        texts.append(f"arXiv:{item}" if key == "arxiv" else item)
                        if key == "url":
                            links.append((item, item))
    for text in texts:
        for m in _DOI.finditer(text):
            links.append((f"doi:{m.group(1)}", f"https://doi.org/{m.group(1)}"))
        for m in _ARXIV.finditer(text):
            links.append((f"arXiv:{m.group(1)}", f"https://arxiv.org/abs/{m.group(1)}"))
    seen, out = set(), []
    for label, url in links:
        if url not in seen:
            seen.add(url)
            out.append((label, url))
    return out


# ---------------------------------------------------------------------------------------------
# the theory a study uses


def theory_modules(family: str) -> list[types.ModuleType]:
    """The family's theory modules: ``simkit.<family>.theory`` and ``simkit.<family>.*_theory``."""
    try:
        package = importlib.import_module(f"simkit.{family}")
    except ImportError:
        return []
    out = []
    for info in sorted(pkgutil.iter_modules(package.__path__), key=lambda m: m.name):
        if info.name == "theory" or info.name.endswith("_theory"):
            out.append(importlib.import_module(f"{package.__name__}.{info.name}"))
    return out


def _referenced_names(source: str) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Name):
            names.add(node.id)
        elif isinstance(node, ast.Attribute):
            names.add(node.attr)
        elif isinstance(node, ast.alias):
            names.add(node.asname or node.name.split(".")[-1])
            names.add(node.name.split(".")[-1])
    return names


def used_theory(study) -> list:
    """Public functions of the family's theory modules referenced by the study's module (or by
    the simkit/studies helper modules it imports, one level deep), in source order."""
    mods = theory_modules(study.family)
    if not mods:
        return []
    funcs = {}
    for mod in mods:
        for name, obj in vars(mod).items():
            if inspect.isfunction(obj) and not name.startswith("_") and obj.__module__ == mod.__name__:
                funcs[name] = obj
    module = inspect.getmodule(study.simulate)
    sources = [inspect.getsource(module)]
    for value in vars(module).values():
        helper = value if inspect.ismodule(value) else inspect.getmodule(value) if callable(value) else None
        if (
            helper is not None
            and helper is not module
            and helper not in mods
            and helper.__name__.startswith(("simkit.studies.", f"simkit.{study.family}."))
            and not helper.__name__.startswith("simkit.kernels")
        ):
            try:
                sources.append(inspect.getsource(helper))
            except (OSError, TypeError):
                pass
    names = set()
    for src in sources:
        names |= _referenced_names(src)
    used = [f for n, f in funcs.items() if n in names]
    return sorted(used, key=lambda f: (f.__module__, inspect.getsourcelines(f)[1]))


def _math_blocks(doc: str) -> list[str]:
    """The ``.. math::`` blocks of a docstring, as RST text."""
    lines = inspect.cleandoc(doc or "").splitlines()
    blocks, i = [], 0
    while i < len(lines):
        if lines[i].strip().startswith(".. math::"):
            block = [lines[i].strip()]
            i += 1
            while i < len(lines) and (not lines[i].strip() or lines[i].startswith((" ", "\t"))):
                block.append(lines[i])
                i += 1
            blocks.append("\n".join(block).rstrip())
        else:
            i += 1
    return blocks


def _summary(doc: str) -> str:
    paragraph = inspect.cleandoc(doc or "").split("\n\n")[0]
    return " ".join(paragraph.split())


def theory_rst(funcs) -> str:
    parts = []
    for f in funcs:
        doc = f.__doc__ or ""
        parts.append(f"* :func:`~{f.__module__}.{f.__name__}` — {_summary(doc)}")
        for block in _math_blocks(doc):
            parts.append("\n" + textwrap.indent(block, "  "))
        parts.append("")
    return "\n".join(parts)


# ---------------------------------------------------------------------------------------------
# the checks as written in the study's source


def _text(node) -> str | None:
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    if isinstance(node, ast.JoinedStr):
        out = []
        for v in node.values:
            if isinstance(v, ast.Constant):
                out.append(str(v.value))
            else:
                out.append("…")
        return "".join(out)
    return None


_CHECK_FUNCS = {"within_mc_error", "mean_less", "condition", "Check"}


def checks_in_words(study) -> tuple[str, list[tuple[str, str]]]:
    """The ``checks`` function's docstring, and (name, claim) of every check built in the study's
    module source (``simkit.checks`` helpers or ``Check`` called with a literal name)."""
    doc = inspect.getdoc(study.checks) or ""
    module = inspect.getmodule(study.checks)
    try:
        tree = ast.parse(inspect.getsource(module))
    except (OSError, TypeError):
        return doc, []
    found = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        fname = node.func.attr if isinstance(node.func, ast.Attribute) else getattr(node.func, "id", "")
        if fname not in _CHECK_FUNCS and not fname.endswith("_check"):
            continue
        name = _text(node.args[0]) if node.args else None
        claim = next((_text(k.value) for k in node.keywords if k.arg == "claim"), None)
        if name is None and claim is None:
            continue
        found.append((node.lineno, name or "", claim or ""))
    found.sort()
    seen, out = set(), []
    for _, name, claim in found:
        if (name, claim) not in seen:
            seen.add((name, claim))
            out.append((name, claim))
    return doc, out


# ---------------------------------------------------------------------------------------------
# parameters


def _fmt(value) -> str:
    if isinstance(value, (list, tuple)):
        return ", ".join(_fmt(v) for v in value)
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


def _range(p) -> str:
    if p.choices is not None:
        return "one of " + ", ".join(_fmt(c) for c in p.choices)
    if p.kind is bool:
        return "true / false"
    if p.low is None and p.high is None:
        return "any"
    lo = "−∞" if p.low is None else _fmt(p.low)
    hi = "∞" if p.high is None else _fmt(p.high)
    left = "[" if (p.low is not None and p.low_inclusive) else "("
    right = "]" if (p.high is not None and p.high_inclusive) else ")"
    return f"{left}{lo}, {hi}{right}"


def params_table(study) -> str:
    rows = [["parameter", "type", "range", "units", "full run", "quick run", "meaning"]]
    for p in study.params:
        swept = p.name in study.grid
        full = study.grid.get(p.name, study.settings.get(p.name))
        quick = study.quick_grid.get(p.name, study.quick_settings.get(p.name))
        rows.append(
            [
                f"`{p.name}`" + (" (swept)" if swept else ""),
                p.kind.__name__,
                md_escape(_range(p)),
                md_escape(p.units) if p.units else "",
                md_escape(_fmt(full)) if full is not None else "—",
                md_escape(_fmt(quick)) if quick is not None else "—",
                md_escape(p.help),
            ]
        )
    rows.append(
        [
            "replications",
            "int",
            "",
            "",
            str(study.reps),
            str(study.quick_reps),
            f"independent runs per grid cell (dimension `{study.rep_dim}`)",
        ]
    )
    lines = [":::{list-table}", ":header-rows: 1", ":class: simkit-params", ""]
    for row in rows:
        lines.append("* - " + (row[0] or " "))
        lines.extend("  - " + (cell or " ") for cell in row[1:])
    lines.append(":::")
    return "\n".join(lines)


# ---------------------------------------------------------------------------------------------
# teaching text


_TEACH_HEADS = re.compile(r"(What is misspecified|What (?:the )?theory predicts|What to look at)\b")


def teaching_md(text: str) -> str:
    """The teaching text with its three parts ("What is misspecified", "What theory predicts",
    "What to look at") as separate paragraphs, led by their names in bold."""
    text = " ".join(text.split())
    pieces = _TEACH_HEADS.split(text)
    if len(pieces) < 3:
        return md_escape(text)
    out = [md_escape(pieces[0].strip())] if pieces[0].strip() else []
    for head, body in zip(pieces[1::2], pieces[2::2]):
        out.append(f"**{head}**{md_escape(body.rstrip())}")
    return "\n\n".join(out)


# ---------------------------------------------------------------------------------------------
# pages


def study_page(study, docs: Path) -> str:
    module = inspect.getmodule(study.simulate)
    links = paper_links(study)
    lines = [f"({study.name})=", f"# {study.name}", "", f"**{md_escape(study.title)}**", ""]
    paper = md_escape(study.paper)
    if links:
        paper += " — " + ", ".join(f"[{md_escape(label)}]({url})" for label, url in links)
    lines += [
        f"**Paper:** {paper}",
        "",
        f"**Family:** [{family_title(study.family)}](../families/{study.family}.md) · "
        f"**Backends:** {', '.join(study.backends)} · **Module:** `{module.__name__}`",
        "",
        "## What it teaches",
        "",
        teaching_md(study.teaching),
        "",
    ]
    figure = docs / "gallery" / f"{study.name}.png"
    if figure.exists():
        lines += [
            "## Figure",
            "",
            f":::{{figure}} ../gallery/{study.name}.png",
            f":alt: {study.name}: simulation against theory",
            ":width: 100%",
            "",
            f"Full-settings run of `{study.name}` (`simkit run {study.name}`): simulation mean with its 95% "
            "band, theory dashed.",
            ":::",
            "",
        ]
    funcs = used_theory(study)
    lines += ["## The theory it uses", ""]
    if funcs:
        lines += [
            f"The closed forms this study's module calls, from the family's theory "
            f"([all formulas of the family](../families/{study.family}.md)):",
            "",
            "```{eval-rst}",
            theory_rst(funcs),
            "```",
            "",
        ]
    else:
        lines += [f"See the [family page](../families/{study.family}.md) for the formulas.", ""]
    lines += [
        "## Parameters",
        "",
        "Swept parameters become dimensions of the dataset; the others are fixed settings, stored as "
        "dataset attributes. Any of them can be changed with `--set name=value` "
        "(a swept one takes a comma-separated list).",
        "",
        params_table(study),
        "",
    ]
    doc, found = checks_in_words(study)
    lines += [
        "## Checks",
        "",
        "Each check compares the simulation with the theory (or two simulated methods) and ends "
        "`pass`, `fail` or `inconclusive` ([how](../guide/checks.md)).",
        "",
    ]
    if doc:
        lines += [md_escape(" ".join(doc.split())), ""]
    if found:
        lines += ["As written in the study's source (`…` marks values filled in at run time):", ""]
        for name, claim in found:
            if name and claim:
                lines.append(f"- **{md_escape(name)}** — {md_escape(claim)}")
            else:
                lines.append(f"- {md_escape(name or claim)}")
        lines.append("")
    lines += [
        "Run the study to see every check with its measured statistic and bound.",
        "",
        "## Reproduce it",
        "",
        "```bash",
        f"simkit run {study.name} --quick      # quick settings, seconds",
        f"simkit run {study.name}              # the full settings behind the figure",
        "```",
        "",
        "or from Python:",
        "",
        "```python",
        "import simkit",
        f'result = simkit.run_study("{study.name}", quick=True, out=None)',
        "for check in result.checks:",
        "    print(check.outcome, check.name)",
        "```",
        "",
    ]
    return "\n".join(lines)


def studies_index(studies) -> str:
    lines = [
        "# Studies",
        "",
        "Every registered study, generated from its `Study` object. Each page has the paper, the "
        "teaching text, the theory, the gallery figure, the parameters, the checks and the command "
        "that reproduces it.",
        "",
    ]
    names = []
    for family in dict.fromkeys(s.family for s in studies):
        lines += [
            f"## {family_title(family)}",
            "",
            ":::{list-table}",
            ":header-rows: 1",
            ":widths: 30 70",
            "",
            "* - study",
            "  - what it reproduces",
        ]
        for s in (s for s in studies if s.family == family):
            lines += [f"* - [{s.name}]({s.name}.md)", f"  - {md_escape(s.title)}"]
            names.append(s.name)
        lines += [":::", ""]
    lines += ["```{toctree}", ":hidden:", "", *names, "```", ""]
    return "\n".join(lines)


def family_page(family: str, studies, docs: Path) -> str:
    lines = [f"# {family_title(family)}", ""]
    lines += ["```{eval-rst}", f".. automodule:: simkit.{family}", "   :no-members:", "   :no-index:", "```", ""]
    tutorial = docs / "tutorials" / f"{family}.md"
    if tutorial.exists():
        lines += [
            f"Tutorial: [{family_title(family)} in practice](../tutorials/{family}.md) · API: {{mod}}`simkit.{family}`",
            "",
        ]
    lines += ["## Studies", ""]
    for s in studies:
        lines.append(f"- [{s.name}](../studies/{s.name}.md) — {md_escape(s.title)}")
    lines.append("")
    for mod in theory_modules(family):
        lines += [
            f"## Theory: `{mod.__name__}`",
            "",
            "```{eval-rst}",
            f".. automodule:: {mod.__name__}",
            "   :no-members:",
            "   :no-index:",
            "",
            ".. rubric:: Formulas",
            "",
        ]
        funcs = [
            f
            for n, f in vars(mod).items()
            if inspect.isfunction(f) and not n.startswith("_") and f.__module__ == mod.__name__
        ]
        funcs.sort(key=lambda f: inspect.getsourcelines(f)[1])
        lines += [theory_rst(funcs), "```", ""]
    return "\n".join(lines)


def namespace_page() -> str:
    """``api/simkit.md``: the names the ``simkit`` package exports, linked to where each is defined."""
    lines = [
        "# The `simkit` namespace",
        "",
        "```{eval-rst}",
        ".. automodule:: simkit",
        "   :no-members:",
        "   :no-index:",
        "```",
        "",
        "What `import simkit` gives (`simkit.__all__`); each name is documented where it is defined.",
        "",
        ":::{list-table}",
        ":header-rows: 1",
        ":widths: 30 70",
        "",
        "* - name",
        "  - what it is",
    ]
    for name in simkit.__all__:
        obj = getattr(simkit, name)
        if name == "__version__":
            lines += ["* - `simkit.__version__`", f"  - the version string (`{obj}`)"]
            continue
        role = (
            "exc"
            if isinstance(obj, type) and issubclass(obj, BaseException)
            else ("class" if isinstance(obj, type) else "func")
        )
        lines += [
            f"* - {{py:{role}}}`simkit.{name} <{obj.__module__}.{obj.__qualname__}>`",
            f"  - {md_escape(_summary(obj.__doc__ or ''))}",
        ]
    lines += [":::", ""]
    return "\n".join(lines)


def _write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    if not path.exists() or path.read_text(encoding="utf-8") != text:
        path.write_text(text, encoding="utf-8")


def generate(app) -> None:
    docs = Path(app.srcdir)
    # the site documents the packaged studies; a plugin or test study (SIMKIT_STUDIES) is not part of it
    studies = [s for s in all_studies() if s.simulate.__module__.startswith("simkit.studies.")]
    out = docs / "studies"
    wanted = {"index.md"}
    _write(out / "index.md", studies_index(studies))
    for s in studies:
        _write(out / f"{s.name}.md", study_page(s, docs))
        wanted.add(f"{s.name}.md")
    for stale in out.glob("*.md"):
        if stale.name not in wanted:
            stale.unlink()
    _write(docs / "api" / "simkit.md", namespace_page())
    fam = docs / "families"
    families = list(dict.fromkeys(s.family for s in studies))
    for family in families:
        _write(fam / f"{family}.md", family_page(family, [s for s in studies if s.family == family], docs))
    for stale in fam.glob("*.md"):
        if stale.stem not in families and stale.name != "index.md":
            stale.unlink()
    _write(
        fam / "index.md",
        "\n".join(
            [
                "# Families",
                "",
                "Each family's model, the formulas it implements (with the papers) and its studies.",
                "",
                "```{toctree}",
                ":maxdepth: 1",
                "",
                *families,
                "```",
                "",
            ]
        ),
    )


def setup(app):
    app.connect("builder-inited", generate)
    return {"version": simkit.__version__, "parallel_read_safe": True, "parallel_write_safe": True}
