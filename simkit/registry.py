"""The study registry: every module in ``simkit.studies`` that defines ``STUDY`` or ``STUDIES``."""

from __future__ import annotations

import functools
import importlib
import pkgutil

from .errors import StudyError
from .study import Study

__all__ = ["all_studies", "get_study", "study_names"]


@functools.lru_cache(maxsize=1)
def _load() -> dict[str, Study]:
    from . import studies as package

    found: dict[str, Study] = {}
    for info in sorted(pkgutil.iter_modules(package.__path__), key=lambda m: m.name):
        if info.name.startswith("_"):
            continue
        module = importlib.import_module(f"{package.__name__}.{info.name}")
        items = list(getattr(module, "STUDIES", ()))
        if hasattr(module, "STUDY"):
            items.append(module.STUDY)
        for study in items:
            if study.name in found:
                raise RuntimeError(f"study name {study.name!r} is defined twice")
            found[study.name] = study
    return found


def all_studies() -> list[Study]:
    """Every registered study, ordered by family then name."""
    return sorted(_load().values(), key=lambda s: (s.family, s.name))


def study_names() -> list[str]:
    """Names of every registered study."""
    return [s.name for s in all_studies()]


def get_study(name: str) -> Study:
    """The study called ``name``; :class:`~simkit.errors.StudyError` naming the choices otherwise."""
    studies = _load()
    if name not in studies:
        raise StudyError(f"unknown study {name!r}; choose one of: {', '.join(study_names())}")
    return studies[name]
