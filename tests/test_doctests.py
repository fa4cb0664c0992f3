"""The examples in docstrings run and print what they say (numpydoc ``Examples`` sections)."""

from __future__ import annotations

import doctest
import importlib
import pkgutil

import pytest

import simkit


def _modules():
    names = ["simkit"]  # the package itself: walk_packages lists only what is inside it
    for info in pkgutil.walk_packages(simkit.__path__[:1], prefix="simkit."):
        names.append(info.name)
    return sorted(set(names))


def _with_examples():
    out = []
    for name in _modules():
        spec = importlib.util.find_spec(name)
        if spec is None or spec.origin is None or not spec.origin.endswith(".py"):
            continue
        with open(spec.origin, encoding="utf-8") as fh:
            if ">>> " in fh.read():
                out.append(name)
    return out


@pytest.mark.parametrize("name", _with_examples())
def test_docstring_examples(name):
    module = importlib.import_module(name)
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE, verbose=False)
    assert result.failed == 0, f"{result.failed} of {result.attempted} examples failed in {name}"


# The modules whose every public name (``__all__``; for simkit.errors every exception class) has
# a full numpydoc docstring: a summary, Parameters (when it takes any), Returns (functions) and
# Examples that run above.
DOCUMENTED = (
    "simkit",
    "simkit.checks",
    "simkit.plotting",
    "simkit.storage",
    "simkit.stats",
    "simkit.study",
    "simkit.errors",
    "simkit.describe",
    "simkit.rng",
    "simkit.registry",
    "simkit.api",
)


def _public(name):
    import inspect

    module = importlib.import_module(name)
    names = getattr(module, "__all__", None)
    if names is None:
        names = [n for n, obj in vars(module).items() if inspect.isclass(obj) and obj.__module__ == name]
    out = []
    for attr in names:
        obj = getattr(module, attr)
        # documented where it is defined (simkit re-exports simkit.errors, simkit.api, simkit.registry)
        if (inspect.isfunction(obj) or inspect.isclass(obj)) and obj.__module__ == name:
            out.append((attr, obj))
    return out


@pytest.mark.parametrize("name", DOCUMENTED)
def test_public_names_have_full_numpydoc_docstrings(name):
    import inspect

    numpydoc = pytest.importorskip("numpydoc.docscrape")
    problems = []
    for attr, obj in _public(name):
        doc = (numpydoc.ClassDoc if inspect.isclass(obj) else numpydoc.FunctionDoc)(obj)
        needed = ["Summary", "Examples"]
        if inspect.isclass(obj) and issubclass(obj, Exception):
            needed.append("Parameters")  # the message
        elif [p for p in inspect.signature(obj).parameters.values() if p.name != "self"]:
            needed.append("Parameters")
        if inspect.isfunction(obj) and not inspect.isgeneratorfunction(inspect.unwrap(obj)):
            needed.append("Returns")
        missing = [section for section in needed if not doc[section]]
        if missing:
            problems.append(f"{name}.{attr}: no {', '.join(missing)}")
        if doc["Examples"] and ">>>" not in "\n".join(doc["Examples"]):
            problems.append(f"{name}.{attr}: its Examples have no doctest")
    assert not problems, "\n".join(problems)


def test_documented_modules_run_their_examples():
    """Every module whose names must have Examples is collected by test_docstring_examples."""
    collected = set(_with_examples())
    assert not [m for m in DOCUMENTED if m not in collected]
