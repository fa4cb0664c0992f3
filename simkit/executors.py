"""Where work units run: in this process, in local worker processes, or on a Dask cluster.

Each executor maps a picklable function over argument tuples and yields ``(index, result)``
as results arrive (completion order).  Numba's and BLAS's thread counts are limited inside every
worker (:mod:`simkit.threads`) so that processes × threads never exceeds the machine's cores.
"""

from __future__ import annotations

import concurrent.futures as cf
import contextlib
import multiprocessing
import sys

from .errors import SimkitError
from .threads import cores, limit_threads

__all__ = ["ExecutorError", "SerialExecutor", "ProcessExecutor", "DaskExecutor", "make_executor"]


class ExecutorError(SimkitError, RuntimeError):
    """A worker pool or cluster that cannot be used."""


class SerialExecutor:
    """Run every unit in this process, in order."""

    name = "serial"

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False

    def imap(self, func, args_list):
        for i, args in enumerate(args_list):
            yield i, func(*args)


def _worker_init(threads: int, parent: int) -> None:
    """Set up a pool worker: its thread budget, no Ctrl-C of its own, and death with its parent."""
    import signal

    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent handles Ctrl-C and ends the pool
    _die_with_parent(parent)
    limit_threads(threads)


def _die_with_parent(parent: int) -> None:
    import os
    import signal
    import sys

    if sys.platform.startswith("linux"):
        import ctypes

        try:
            libc = ctypes.CDLL(None, use_errno=True)
            libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG: killed when the parent dies, even by SIGKILL
        except (OSError, AttributeError):
            pass
    if os.getppid() != parent:  # the parent died before the line above took effect
        os._exit(1)


class ProcessExecutor:
    """Run units in ``workers`` spawned processes, each with ``cores // workers`` Numba threads.

    Workers ignore Ctrl-C and die with the parent process (however it ends); when the run stops
    early the pool's processes are terminated at once.  A worker that dies (killed, out of memory)
    ends the run with one line; the units finished before it are checkpointed.
    """

    name = "processes"

    def __init__(self, workers: int):
        self.workers = int(workers)
        self.threads = max(1, cores() // self.workers)
        self._pool = None

    def __enter__(self):
        import os

        ctx = multiprocessing.get_context("spawn")
        self._pool = cf.ProcessPoolExecutor(
            max_workers=self.workers, mp_context=ctx, initializer=_worker_init, initargs=(self.threads, os.getpid())
        )
        return self

    def __exit__(self, exc_type, exc, tb):
        if exc_type is not None:
            for proc in list((getattr(self._pool, "_processes", None) or {}).values()):
                with contextlib.suppress(Exception):
                    proc.terminate()
        self._pool.shutdown(wait=exc_type is None, cancel_futures=True)
        return False

    def imap(self, func, args_list):
        from concurrent.futures.process import BrokenProcessPool

        from . import interrupts

        futures = {self._pool.submit(func, *args): i for i, args in enumerate(args_list)}
        pending = set(futures)
        try:
            while pending:
                done, pending = cf.wait(pending, timeout=0.5, return_when=cf.FIRST_COMPLETED)
                for fut in done:
                    yield futures[fut], fut.result()
                interrupts.check()
        except BrokenProcessPool:
            raise ExecutorError("a worker process died (killed, or out of memory)") from None


class DaskExecutor:
    """Run units on a Dask cluster: ``address`` of a scheduler, or ``"local"`` for a local cluster.

    A run that loses every worker, or the scheduler, ends after ``lost_timeout`` seconds
    (default 60, or the ``SIMKIT_DASK_TIMEOUT`` environment variable) with one line; a lost
    worker while others are alive is retried by Dask.
    """

    name = "dask"

    def __init__(self, address: str, workers: int = 0, connect_timeout: float = 5.0, lost_timeout: float | None = None):
        import os

        self.address = address
        self.workers = int(workers) or max(1, cores())
        self.connect_timeout = connect_timeout
        if lost_timeout is None:
            text = os.environ.get("SIMKIT_DASK_TIMEOUT", "60")
            try:
                lost_timeout = float(text)
            except ValueError:
                raise ExecutorError(f"SIMKIT_DASK_TIMEOUT must be a number of seconds, got {text!r}") from None
            if not lost_timeout > 0:
                raise ExecutorError(f"SIMKIT_DASK_TIMEOUT must be > 0 seconds, got {text!r}")
        self.lost_timeout = float(lost_timeout)
        self.threads = 1
        self._client = None
        self._cluster = None

    def __enter__(self):
        try:
            from distributed import Client, LocalCluster
        except ImportError:
            raise ExecutorError("--dask needs dask.distributed: pip install 'simkit[cluster]'") from None
        self._quiet_logs()
        if self.address == "local":
            import logging

            self._cluster = LocalCluster(
                n_workers=self.workers,
                threads_per_worker=1,
                processes=True,
                dashboard_address=None,
                silence_logs=logging.ERROR,
            )
            self._client = Client(self._cluster)
            self.threads = max(1, cores() // self.workers)
        else:
            address = _dask_address(self.address)
            try:
                self._client = Client(address, timeout=f"{self.connect_timeout}s")
            except (OSError, TimeoutError, ValueError) as exc:
                raise ExecutorError(
                    f"--dask {self.address}: no Dask scheduler answered within {self.connect_timeout:g} s ({type(exc).__name__})"
                ) from None
        return self

    def __exit__(self, exc_type, *exc):
        with contextlib.suppress(Exception):
            if self._client is not None:
                if exc_type is not None:
                    self._client.cancel(list(self._client.futures.values()) if hasattr(self._client, "futures") else [])
                self._client.close(timeout=2 if exc_type is not None else 5)
        with contextlib.suppress(Exception):
            if self._cluster is not None:
                self._cluster.close(timeout=10)
        self._restore_logs()
        return False

    def _quiet_logs(self):
        # distributed logs lost workers and broken connections with tracebacks, which would
        # break the one-line rule: simkit reports those itself (ExecutorError)
        import logging

        names = ["distributed"] + [n for n in logging.root.manager.loggerDict if n.startswith("distributed.")]
        self._log_levels = {n: logging.getLogger(n).level for n in names}
        for n in names:
            logging.getLogger(n).setLevel(logging.CRITICAL + 1)

    def _restore_logs(self):
        import logging

        for n, level in getattr(self, "_log_levels", {}).items():
            logging.getLogger(n).setLevel(level)

    def imap(self, func, args_list):
        import asyncio
        import time

        from distributed import wait

        from . import interrupts

        lost_scheduler = (asyncio.CancelledError, cf.CancelledError)
        futures = [self._client.submit(func, *args, pure=False) for args in args_list]
        index = {f.key: i for i, f in enumerate(futures)}
        pending = set(futures)
        lost_since = None
        while pending:
            try:
                done, pending = wait(pending, timeout=1.0, return_when="FIRST_COMPLETED")
            except TimeoutError:
                done = set()
            except lost_scheduler:
                raise ExecutorError("lost the Dask scheduler") from None
            except Exception as exc:  # the connection to the scheduler broke
                raise ExecutorError(f"lost the Dask scheduler ({type(exc).__name__})") from None
            yielded = False
            for fut in done:
                try:
                    result = fut.result(timeout=2.0)
                except TimeoutError:
                    pending.add(fut)  # its worker died before the result came back: recomputed
                    continue
                except lost_scheduler:
                    raise ExecutorError("lost the Dask scheduler") from None
                yielded = True
                yield index[fut.key], result
            interrupts.check()
            if yielded:
                lost_since = None
                continue
            status = getattr(self._client, "status", "running")
            workers = -1
            if status == "running":
                with contextlib.suppress(Exception):
                    workers = len(self._client.scheduler_info().get("workers", {}))
            if status != "running" or workers == 0:
                lost_since = lost_since or time.monotonic()
                if time.monotonic() - lost_since >= self.lost_timeout:
                    what = "the Dask scheduler" if status != "running" else "every Dask worker"
                    raise ExecutorError(f"lost {what} for {self.lost_timeout:g} s (SIMKIT_DASK_TIMEOUT)")
            else:
                lost_since = None


def _dask_address(text: str) -> str:
    """``host:port`` or ``tcp://host:port``; anything else is a one-line error."""
    import re

    address = text if "://" in text else f"tcp://{text}"
    if not re.fullmatch(r"(tcp|tls|inproc|ucx|ws|wss)://[A-Za-z0-9_.\-\[\]:]+(:\d{1,5})?", address):
        raise ExecutorError(f"--dask {text!r}: expected 'local' or a scheduler address such as tcp://host:8786")
    return address


def make_executor(workers: int = 1, dask: str | None = None):
    """The executor for ``--workers N`` / ``--dask ADDRESS`` (serial for one worker).

    ``workers`` beyond this machine's cores is capped at the cores for local processes and a
    local Dask cluster (more processes than cores only add memory), with a note on stderr.
    """
    from .validation import check_int

    workers = check_int("workers", workers, low=1)
    if dask is not None and not isinstance(dask, str):
        raise ExecutorError(f"dask must be a scheduler address string or 'local', got {type(dask).__name__}")
    local = not dask or dask == "local"
    if local and workers > cores():
        print(f"simkit: --workers {workers} capped at the {cores()} cores of this machine", file=sys.stderr)
        workers = cores()
    if dask:
        return DaskExecutor(dask, workers if workers > 1 else 0)
    if workers == 1:
        return SerialExecutor()
    return ProcessExecutor(workers)
