"""One run per output folder at a time: an advisory lock on ``OUT/STUDY/.lock``.

The lock is an exclusive ``flock`` on the file, so the operating system releases it when its
holder exits, however it exits (a crash or SIGKILL included): a lock left behind by a killed run
is never mistaken for a live one.  The file records the holder's pid, host and command so that a
second run can say who holds the folder.
"""

from __future__ import annotations

import contextlib
import os
import socket
import sys
from pathlib import Path

from .errors import OutputError

__all__ = ["FolderBusyError", "hold"]

LOCK_NAME = ".lock"


class FolderBusyError(OutputError):
    """Another run holds the output folder."""


@contextlib.contextmanager
def hold(folder):
    """Hold the lock of ``folder`` for the duration of the block.

    Raises
    ------
    FolderBusyError
        When another live process holds it; the message names that process.
    OutputError
        When the lock file cannot be created (e.g. a folder of that name is in the way).
    """
    import fcntl

    path = Path(folder) / LOCK_NAME
    while True:
        fd = _open(path)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = _read(fd) or "another process"
            os.close(fd)
            raise FolderBusyError(
                f"{folder} is in use by {holder}; wait for it to finish or use another --out"
            ) from None
        except OSError as exc:  # a file system without locks (some network mounts)
            os.close(fd)
            raise OutputError(f"cannot lock {path}: {exc.strerror or type(exc).__name__} (use a local --out)") from None
        # the holder before us may have removed the file between our open and our lock: retry on the new one
        try:
            same = os.stat(path).st_ino == os.fstat(fd).st_ino
        except FileNotFoundError:
            same = False
        if same:
            break
        os.close(fd)
    try:
        try:
            os.ftruncate(fd, 0)
            command = " ".join([os.path.basename(sys.argv[0]), *sys.argv[1:]])[:200] if sys.argv else "python"
            os.write(fd, f"pid {os.getpid()} on {socket.gethostname()} ({command})".encode())
        except OSError as exc:
            raise OutputError(f"cannot write the lock file {path}: {exc.strerror or type(exc).__name__}") from None
        yield path
    finally:
        with contextlib.suppress(OSError):
            os.unlink(path)
        fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)


def _open(path: Path) -> int:
    if path.is_dir():
        raise OutputError(f"cannot create the lock file {path}: a folder of that name is in the way")
    try:
        return os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    except OSError as exc:
        raise OutputError(f"cannot create the lock file {path}: {exc.strerror or type(exc).__name__}") from None


def _read(fd) -> str:
    try:
        os.lseek(fd, 0, os.SEEK_SET)
        return os.read(fd, 400).decode(errors="replace").strip()
    except OSError:
        return ""
