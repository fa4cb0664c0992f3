"""Where work units run: in this process, in local worker processes, or on a Dask cluster.

Each executor maps a picklable function over argument tuples and yields ``(index, result)``
as results arrive (completion order).  Numba's and BLAS's thread counts are limited inside every
worker (:mod:`simkit.threads`) so that processes × threads never exceeds the machine's cores.
"""

from __future__ import annotations

import concurrent.futures as cf
import multiprocessing

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


class ProcessExecutor:
    """Run units in ``workers`` spawned processes, each with ``cores // workers`` Numba threads."""

    name = "processes"

    def __init__(self, workers: int):
        self.workers = int(workers)
        self.threads = max(1, cores() // self.workers)
        self._pool = None

    def __enter__(self):
        ctx = multiprocessing.get_context("spawn")
        self._pool = cf.ProcessPoolExecutor(
            max_workers=self.workers, mp_context=ctx, initializer=limit_threads, initargs=(self.threads,)
        )
        return self

    def __exit__(self, exc_type, exc, tb):
        self._pool.shutdown(wait=exc_type is None, cancel_futures=True)
        return False

    def imap(self, func, args_list):
        futures = {self._pool.submit(func, *args): i for i, args in enumerate(args_list)}
        for fut in cf.as_completed(futures):
            yield futures[fut], fut.result()


class DaskExecutor:
    """Run units on a Dask cluster: ``address`` of a scheduler, or ``"local"`` for a local cluster."""

    name = "dask"

    def __init__(self, address: str, workers: int = 0, connect_timeout: float = 5.0):
        self.address = address
        self.workers = int(workers) or max(1, cores())
        self.connect_timeout = connect_timeout
        self.threads = 1
        self._client = None
        self._cluster = None

    def __enter__(self):
        try:
            from distributed import Client, LocalCluster
        except ImportError:
            raise ExecutorError("--dask needs dask.distributed: pip install 'simkit[cluster]'") from None
        if self.address == "local":
            self._cluster = LocalCluster(
                n_workers=self.workers, threads_per_worker=1, processes=True, dashboard_address=None
            )
            self._client = Client(self._cluster)
            self.threads = max(1, cores() // self.workers)
        else:
            address = self.address if "://" in self.address else f"tcp://{self.address}"
            try:
                self._client = Client(address, timeout=f"{self.connect_timeout}s")
            except (OSError, TimeoutError) as exc:
                raise ExecutorError(
                    f"--dask {self.address}: no Dask scheduler answered within {self.connect_timeout:g} s ({type(exc).__name__})"
                ) from None
        return self

    def __exit__(self, *exc):
        if self._client is not None:
            self._client.close()
        if self._cluster is not None:
            self._cluster.close()
        return False

    def imap(self, func, args_list):
        from distributed import as_completed

        futures = [self._client.submit(func, *args, pure=False) for args in args_list]
        index = {f.key: i for i, f in enumerate(futures)}
        for fut in as_completed(futures):
            yield index[fut.key], fut.result()


def make_executor(workers: int = 1, dask: str | None = None):
    """The executor for ``--workers N`` / ``--dask ADDRESS`` (serial for one worker)."""
    from .validation import check_int

    workers = check_int("workers", workers, low=1)
    if dask:
        return DaskExecutor(dask, workers if workers > 1 else 0)
    if workers == 1:
        return SerialExecutor()
    return ProcessExecutor(workers)
