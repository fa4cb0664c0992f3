"""Writing and reading result datasets (NetCDF through h5netcdf), atomically.

Attributes are made NetCDF-safe (booleans become 0/1, ``None`` and containers become JSON
strings).  :func:`write_dataset` writes to a temporary file in the target folder and renames it,
so an interrupted write never leaves a partial ``.nc`` behind.
"""

from __future__ import annotations

import datetime as _dt
import json
import os
import platform
import tempfile
from pathlib import Path

import numpy as np
import xarray as xr

from .errors import OutputError

__all__ = [
    "write_dataset",
    "read_dataset",
    "provenance",
    "netcdf_attrs",
    "ensure_writable",
    "publish",
    "remove_stale_temporaries",
    "VOLATILE_ATTRS",
]


#: Attributes that describe when and how a run happened, not its numbers: two runs of the same
#: configuration differ only in these (compare datasets without them).
VOLATILE_ATTRS = ("wall_seconds", "created", "history")


def netcdf_attrs(attrs: dict) -> dict:
    """A copy of ``attrs`` with values NetCDF can store.

    Booleans become 0/1, ``None`` becomes ``"none"``, dicts, lists and tuples become JSON
    strings, integers beyond 64 bits become decimal strings and NumPy scalars Python scalars;
    everything else is kept.

    Parameters
    ----------
    attrs : dict
        Attributes of a dataset or variable.

    Returns
    -------
    dict
        A new dict with the same keys; ``attrs`` is not modified.

    Examples
    --------
    >>> netcdf_attrs({"quick": True, "grid": {"M": [10, 100]}, "note": None, "seed": 2**70})
    {'quick': 1, 'grid': '{"M": [10, 100]}', 'note': 'none', 'seed': '1180591620717411303424'}
    """
    out = {}
    for key, value in attrs.items():
        if isinstance(value, (bool, np.bool_)):
            out[key] = int(value)
        elif value is None:
            out[key] = "none"
        elif isinstance(value, (dict, list, tuple)):
            out[key] = json.dumps(value, default=str)
        elif isinstance(value, (int, np.integer)) and not -(2**63) <= int(value) < 2**63:
            out[key] = str(int(value))  # NetCDF integers are 64-bit: a larger seed is kept exactly as text
        elif isinstance(value, np.generic):
            out[key] = value.item()
        else:
            out[key] = value
    return out


def _sanitise(ds: xr.Dataset) -> xr.Dataset:
    ds = ds.copy()
    ds.attrs = netcdf_attrs(ds.attrs)
    for name in ds.variables:
        ds[name].attrs = netcdf_attrs(ds[name].attrs)
    return ds


def publish(tmp, final) -> None:
    """Give ``tmp`` the usual permissions (0666 less the umask) and rename it to ``final``.

    ``tempfile.mkstemp`` creates files readable by their owner only; a published result is
    readable as any new file would be.  The rename is atomic (same folder).

    Parameters
    ----------
    tmp : path
        The finished temporary file.
    final : path
        Its name once published (replaced if it exists).

    Returns
    -------
    None

    Examples
    --------
    >>> import tempfile, pathlib
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     tmp = pathlib.Path(folder, ".result.nc.tmp")
    ...     _ = tmp.write_text("data")
    ...     publish(tmp, pathlib.Path(folder, "result.nc"))
    ...     sorted(p.name for p in pathlib.Path(folder).iterdir())
    ['result.nc']
    """
    mask = os.umask(0)
    os.umask(mask)
    os.chmod(tmp, 0o666 & ~mask)
    os.replace(tmp, final)


def ensure_writable(folder) -> Path:
    """Create ``folder`` if needed and prove a file can be written there.

    A 4 kB probe file is written, synced and removed, so that a read-only or full disk shows
    before any work is done.

    Parameters
    ----------
    folder : path
        The folder (created with its parents).

    Returns
    -------
    pathlib.Path
        ``folder``.

    Raises
    ------
    OutputError
        With one line naming the folder and the reason.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> with tempfile.TemporaryDirectory() as base:
    ...     ensure_writable(pathlib.Path(base, "results", "demo")).is_dir()
    True
    """
    folder = Path(folder)
    try:
        folder.mkdir(parents=True, exist_ok=True)
        fd, probe = tempfile.mkstemp(prefix=".simkit-probe-", dir=folder)
        try:
            os.write(fd, b"\0" * 4096)  # a full disk shows here, before any work is done
            os.fsync(fd)
        finally:
            os.close(fd)
            os.unlink(probe)
    except OSError as exc:
        reason = exc.strerror or type(exc).__name__
        raise OutputError(f"--out {folder}: cannot write there ({reason})") from None
    return folder


def _encoding(ds: xr.Dataset) -> dict:
    """Lossless compression for every numeric variable: zlib (level 4) after the byte shuffle."""
    enc = {}
    for name, var in ds.variables.items():
        if var.dtype.kind in "fiub" and var.ndim > 0 and var.size > 1:
            enc[name] = {"zlib": True, "complevel": 4, "shuffle": True}
    return enc


def _local_scheduler():
    """Under an active Dask client, xarray would take a cluster-wide lock named after the target
    (here an in-memory buffer, which the scheduler cannot know): serialise in this process."""
    import contextlib
    import sys

    if "dask" not in sys.modules:
        return contextlib.nullcontext()
    import dask

    return dask.config.set(scheduler="synchronous")


def _netcdf_bytes(ds: xr.Dataset) -> bytes:
    """``ds`` as NetCDF4 (HDF5) bytes, serialised in memory through h5netcdf.

    ``to_netcdf`` into a buffer uses the netCDF3 scipy backend before xarray 2025, so the h5netcdf
    store is driven directly: an h5netcdf file on a ``BytesIO`` (h5py writes file-like objects).
    """
    import io

    import h5netcdf
    from xarray.backends import H5NetCDFStore

    buffer = io.BytesIO()
    with _local_scheduler():
        store = H5NetCDFStore(h5netcdf.File(buffer, "w"), mode="w")
        try:
            ds.dump_to_store(store, encoding=_encoding(ds))
        finally:
            store.close()
    return buffer.getvalue()


def write_dataset(ds: xr.Dataset, path) -> Path:
    """Write ``ds`` to ``path`` (NetCDF4 via h5netcdf, compressed losslessly) atomically.

    The file is serialised in memory first and then written with plain file I/O to a temporary
    name in the same folder, which is renamed into place: HDF5 never writes to the disk itself,
    so a full disk or a file-size limit is an ordinary ``OSError`` here.

    Parameters
    ----------
    ds : xarray.Dataset
        The dataset; its attributes are made NetCDF-safe (:func:`netcdf_attrs`) in the file
        only, ``ds`` itself is not changed.
    path : path
        The ``.nc`` file to write (its folder is created; an existing file is replaced).

    Returns
    -------
    pathlib.Path
        ``path``.

    Raises
    ------
    OutputError
        One line naming the file and the reason (no space left, file too large, ...); the
        partial temporary file is removed.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> import xarray as xr
    >>> ds = xr.Dataset({"x": ("rep", [1.0, 2.0, 3.0])}, attrs={"simkit_version": "0", "quick": True})
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     path = write_dataset(ds, pathlib.Path(folder, "demo.nc"))
    ...     back = read_dataset(path)
    >>> back["x"].values.tolist(), int(back.attrs["quick"])
    ([1.0, 2.0, 3.0], 1)
    """

    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OutputError(f"cannot create folder {path.parent}: {exc.strerror or type(exc).__name__}") from None
    if path.is_dir():
        raise OutputError(f"cannot write {path}: a folder of that name is in the way")
    from .interrupts import critical

    with critical():  # Ctrl-C / SIGTERM wait until the file is in place or removed
        # also while HDF5 builds the file in memory: a stop raised inside h5netcdf.File's constructor
        # leaves a half-made object whose finaliser prints a traceback
        data = _netcdf_bytes(_sanitise(ds))
        tmp = None
        try:
            fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
            with os.fdopen(fd, "wb") as fh:
                fh.write(data)
                fh.flush()
                os.fsync(fh.fileno())
            publish(tmp, path)
        except OSError as exc:
            reason = exc.strerror or type(exc).__name__
            raise OutputError(f"cannot write {path}: {reason} (the partial file was removed)") from None
        finally:
            if tmp is not None and os.path.exists(tmp):
                os.unlink(tmp)
    return path


def remove_stale_temporaries(folder) -> int:
    """Remove temporary files (``.NAME.*.tmp``) left in ``folder`` by a killed write; return how many.

    Call only while holding the folder's lock (:func:`simkit.locking.hold`), so that no other
    run's write in progress is removed.

    Parameters
    ----------
    folder : path
        The folder to clean (a missing folder has nothing to remove).

    Returns
    -------
    int
        How many files were removed.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     _ = pathlib.Path(folder, ".demo.nc.x1y2.tmp").write_text("partial")
    ...     _ = pathlib.Path(folder, "demo.nc").write_text("kept")
    ...     removed = remove_stale_temporaries(folder)
    ...     removed, sorted(p.name for p in pathlib.Path(folder).iterdir())
    (1, ['demo.nc'])
    """
    folder = Path(folder)
    removed = 0
    if not folder.is_dir():
        return 0
    for tmp in folder.glob(".*.tmp"):
        try:
            if tmp.is_file():
                tmp.unlink()
                removed += 1
        except OSError:
            pass
    return removed


def read_dataset(path, *, require_simkit=True) -> xr.Dataset:
    """Load a dataset written by simkit (fully into memory; the file is closed).

    Parameters
    ----------
    path : path
        A NetCDF file.
    require_simkit : bool, optional
        Refuse a file without the ``simkit_version`` attribute; default true.

    Returns
    -------
    xarray.Dataset
        The dataset, loaded (attributes as stored: booleans as 0/1, containers as JSON text).

    Raises
    ------
    OutputError
        If the file cannot be read as NetCDF, or (``require_simkit``) was not written by simkit.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> import xarray as xr
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     path = write_dataset(xr.Dataset({"x": ("rep", [0.5])}), pathlib.Path(folder, "plain.nc"))
    ...     read_dataset(path, require_simkit=False)["x"].values.tolist()
    [0.5]
    >>> read_dataset("missing.nc")
    Traceback (most recent call last):
    ...
    simkit.errors.OutputError: missing.nc: no such file
    """
    path = Path(path)
    if not path.is_file():
        raise OutputError(f"{path}: no such file")
    from .interrupts import critical

    try:
        with critical(), xr.open_dataset(path, engine="h5netcdf") as ds:  # a stop waits until it is closed
            ds = ds.load()
    except Exception as exc:  # h5py/h5netcdf raise several unrelated types for a bad file
        raise OutputError(f"{path}: not a readable NetCDF file ({type(exc).__name__})") from None
    if require_simkit and "simkit_version" not in ds.attrs:
        raise OutputError(f"{path}: not a simkit result (no simkit_version attribute)")
    return ds


def provenance(*, study, paper, seed, backend, reps, wall_seconds, device) -> dict:
    """The provenance attributes every simkit dataset carries.

    Parameters
    ----------
    study : str
        The study's name.
    paper : str
        Its citation.
    seed : int
        The run's seed.
    backend : str
        The backend that ran it.
    reps : int
        Replications per cell.
    wall_seconds : float
        Wall-clock time of the run, seconds.
    device : str
        What ran it (CPU, or the GPU's name).

    Returns
    -------
    dict
        The arguments, plus ``simkit_version``, ``numpy_version``, ``numba_version``,
        ``xarray_version``, ``python_version`` and ``created`` (UTC, ISO 8601, seconds).
        ``wall_seconds`` and ``created`` are among :data:`VOLATILE_ATTRS`.

    Examples
    --------
    >>> attrs = provenance(study="demo", paper="none", seed=0, backend="numpy", reps=10,
    ...                    wall_seconds=1.5, device="cpu")
    >>> attrs["study"], attrs["reps"], attrs["created"].endswith("+00:00")
    ('demo', 10, True)
    """
    import numba

    from . import __version__

    return {
        "study": study,
        "paper": paper,
        "seed": seed,
        "backend": backend,
        "reps": reps,
        "simkit_version": __version__,
        "numpy_version": np.__version__,
        "numba_version": numba.__version__,
        "xarray_version": xr.__version__,
        "python_version": platform.python_version(),
        "device": device,
        "wall_seconds": float(wall_seconds),
        "created": _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
    }
