"""The study registry.

Studies come from every module in ``simkit.studies`` that defines ``STUDY`` or ``STUDIES``,
from modules named in the ``SIMKIT_STUDIES`` environment variable (comma-separated module
names, also seen by worker processes), and from installed packages that declare an entry
point in the ``simkit.studies`` group (pointing at such a module).
"""

from __future__ import annotations

import functools
import importlib
import importlib.metadata
import os
import pkgutil

from .errors import StudyError
from .study import Study

__all__ = ["all_studies", "get_study", "study_names", "reload", "summaries"]


def _study_modules():
    from . import studies as package

    for info in sorted(pkgutil.iter_modules(package.__path__), key=lambda m: m.name):
        if not info.name.startswith("_"):
            yield importlib.import_module(f"{package.__name__}.{info.name}")
    for name in filter(None, (n.strip() for n in os.environ.get("SIMKIT_STUDIES", "").split(","))):
        try:
            yield importlib.import_module(name)
        except ImportError as exc:
            raise StudyError(f"SIMKIT_STUDIES names {name!r}, which cannot be imported ({exc})") from None
    for entry in importlib.metadata.entry_points(group="simkit.studies"):
        yield entry.load()


@functools.lru_cache(maxsize=1)
def _load() -> dict[str, Study]:
    found: dict[str, Study] = {}
    for module in _study_modules():
        items = list(getattr(module, "STUDIES", ()))
        if hasattr(module, "STUDY"):
            items.append(module.STUDY)
        for study in items:
            if study.name in found:
                raise RuntimeError(f"study name {study.name!r} is defined twice")
            found[study.name] = study
    return found


def reload() -> None:
    """Forget the loaded studies, so that the next lookup imports them again.

    Call it after changing ``SIMKIT_STUDIES`` in a running process.

    Returns
    -------
    None

    Examples
    --------
    >>> reload()
    >>> "collapse-gaussian" in study_names()
    True
    """
    _load.cache_clear()


def all_studies() -> list[Study]:
    """Every registered study, ordered by family then name.

    Returns
    -------
    list of Study
        The packaged studies, those of the ``SIMKIT_STUDIES`` modules and those of installed
        ``simkit.studies`` entry points.

    Examples
    --------
    >>> studies = all_studies()
    >>> studies[0].family <= studies[-1].family
    True
    """
    return sorted(_load().values(), key=lambda s: (s.family, s.name))


def study_names() -> list[str]:
    """Names of every registered study, ordered as :func:`all_studies`.

    Returns
    -------
    list of str
        Study names (the ``simkit run NAME`` argument).

    Examples
    --------
    >>> "varts-regret" in study_names()
    True
    """
    return [s.name for s in all_studies()]


def get_study(name: str) -> Study:
    """The study called ``name``.

    Parameters
    ----------
    name : str
        A registered study name, e.g. ``"collapse-gaussian"`` (see ``simkit list``).

    Returns
    -------
    Study
        The study: its grid, settings, simulation, theory, checks and figure.

    Raises
    ------
    simkit.errors.StudyError
        For an unknown name; the message lists the registered names.

    Examples
    --------
    >>> get_study("collapse-gaussian").family
    'collapse'
    """
    studies = _load()
    if name not in studies:
        raise StudyError(f"unknown study {name!r}; choose one of: {', '.join(study_names())}")
    return studies[name]


def _index_key() -> str:
    """A key that changes whenever the set of studies could: version, module files, plugins."""
    import hashlib
    import importlib.util

    from . import __version__
    from . import studies as package

    parts = [__version__, os.environ.get("SIMKIT_STUDIES", "")]
    for info in sorted(pkgutil.iter_modules(package.__path__), key=lambda m: m.name):
        spec = importlib.util.find_spec(f"{package.__name__}.{info.name}")
        origin = spec.origin if spec else None
        parts.append(f"{info.name}:{os.stat(origin).st_mtime_ns if origin else 0}")
    for name in filter(None, (n.strip() for n in os.environ.get("SIMKIT_STUDIES", "").split(","))):
        try:
            spec = importlib.util.find_spec(name)
        except (ImportError, ValueError):
            spec = None
        parts.append(f"{name}:{os.stat(spec.origin).st_mtime_ns if spec and spec.origin else 0}")
    parts += sorted(f"{e.name}={e.value}" for e in importlib.metadata.entry_points(group="simkit.studies"))
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()[:20]


def summaries() -> list[dict]:
    """Name, family, title and paper of every study, for a fast ``simkit list``.

    Read from a cached index (under ``$XDG_CACHE_HOME/simkit``) when it matches the study modules'
    files, the plugins and the version, without importing any study; rebuilt and cached otherwise.

    Returns
    -------
    list of dict
        One ``{"name", "family", "title", "paper"}`` per study, ordered as :func:`all_studies`.

    Examples
    --------
    >>> rows = summaries()
    >>> sorted(rows[0])
    ['family', 'name', 'paper', 'title']
    """
    import json
    from pathlib import Path

    key = _index_key()
    path = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "simkit" / f"index-{key}.json"
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        pass
    rows = [{"name": s.name, "family": s.family, "title": s.title, "paper": s.paper} for s in all_studies()]
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_text(json.dumps(rows))
        tmp.replace(path)
    except OSError:
        pass
    return rows
