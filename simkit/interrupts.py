"""A stop request (SIGTERM or Ctrl-C) that survives being raised in the wrong place.

A signal handler that raises can fire inside a callback whose exceptions Python ignores (a
weakref or ``__del__`` callback prints "Exception ignored" and carries on).  The command line's
handlers therefore also record the request here, and the executors' wait loops call
:func:`check` between waits, so the run stops all the same.
"""

from __future__ import annotations

import contextlib

__all__ = ["Terminated", "request", "requested", "check", "clear", "critical", "deferring"]

_pending: str | None = None
_depth = 0


class Terminated(KeyboardInterrupt):
    """SIGTERM, handled like Ctrl-C (checkpoints kept, temporaries removed, exit 143)."""


def request(kind: str) -> None:
    """Record a stop request: ``"term"`` (SIGTERM) or ``"int"`` (Ctrl-C)."""
    global _pending
    _pending = kind


def requested() -> str | None:
    """The pending request, if any."""
    return _pending


def clear() -> None:
    """Forget a pending request (at the start of a command)."""
    global _pending
    _pending = None


def check() -> None:
    """Raise :class:`Terminated` or :class:`KeyboardInterrupt` if a stop was requested."""
    if _pending == "term":
        raise Terminated()
    if _pending == "int":
        raise KeyboardInterrupt()


def deferring() -> bool:
    """True inside :func:`critical`: a stop request is recorded and acted on at its end."""
    return _depth > 0


@contextlib.contextmanager
def critical():
    """A block that a stop request must not interrupt (writing and renaming a file).

    The command line's signal handlers only record a request while inside; it is raised when the
    outermost block ends, so no temporary file is left half-written or unremoved.
    """
    global _depth
    _depth += 1
    try:
        yield
    finally:
        _depth -= 1
    if _depth == 0:
        check()
