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

__all__ = ["write_dataset", "read_dataset", "provenance", "netcdf_attrs", "ensure_writable", "publish"]


def netcdf_attrs(attrs: dict) -> dict:
    """A copy of ``attrs`` with values NetCDF can store."""
    out = {}
    for key, value in attrs.items():
        if isinstance(value, (bool, np.bool_)):
            out[key] = int(value)
        elif value is None:
            out[key] = "none"
        elif isinstance(value, (dict, list, tuple)):
            out[key] = json.dumps(value, default=str)
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
    """Give ``tmp`` the usual permissions (0666 less the umask) and rename it to ``final``."""
    mask = os.umask(0)
    os.umask(mask)
    os.chmod(tmp, 0o666 & ~mask)
    os.replace(tmp, final)


def ensure_writable(folder) -> Path:
    """Create ``folder`` if needed and prove a file can be written there.

    Raises
    ------
    OutputError
        With one line naming the folder and the reason.
    """
    folder = Path(folder)
    try:
        folder.mkdir(parents=True, exist_ok=True)
        fd, probe = tempfile.mkstemp(prefix=".simkit-probe-", dir=folder)
        os.close(fd)
        os.unlink(probe)
    except OSError as exc:
        reason = exc.strerror or type(exc).__name__
        raise OutputError(f"--out {folder}: cannot write there ({reason})") from None
    return folder


def write_dataset(ds: xr.Dataset, path) -> Path:
    """Write ``ds`` to ``path`` (NetCDF4 via h5netcdf) atomically and return the path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        _sanitise(ds).to_netcdf(tmp, engine="h5netcdf")
        publish(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return path


def read_dataset(path, *, require_simkit=True) -> xr.Dataset:
    """Load a dataset written by simkit (fully into memory; the file is closed).

    Raises
    ------
    OutputError
        If the file cannot be read as NetCDF, or (``require_simkit``) was not written by simkit.
    """
    path = Path(path)
    if not path.is_file():
        raise OutputError(f"{path}: no such file")
    try:
        with xr.open_dataset(path, engine="h5netcdf") as ds:
            ds = ds.load()
    except Exception as exc:  # h5py/h5netcdf raise several unrelated types for a bad file
        raise OutputError(f"{path}: not a readable NetCDF file ({type(exc).__name__})") from None
    if require_simkit and "simkit_version" not in ds.attrs:
        raise OutputError(f"{path}: not a simkit result (no simkit_version attribute)")
    return ds


def provenance(*, study, paper, seed, backend, reps, wall_seconds, device) -> dict:
    """The provenance attributes every simkit dataset carries."""
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
        "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
    }
