"""Checkpoints that are verified before they are trusted.

Every checkpoint file records what it is — study, configuration key, cell (index and values),
replication range, seed, backend, simkit version, and each variable's dims and dtype — and a
SHA-256 checksum of its data.  :func:`load` reuses a file only when all of that matches the unit
it is asked for exactly and the checksum of what was read equals the recorded one; anything else
(another seed's or another cell's file, half the replications, altered values, a renamed
variable, a plain xarray file, garbage, a folder in its place) is discarded with a reason, and the
unit is recomputed.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import numpy as np
import xarray as xr

__all__ = ["record", "checksum", "stamp", "load"]

RECORD_ATTR = "simkit_checkpoint"
CHECKSUM_ATTR = "simkit_checksum"


def _plain(value):
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value.item() if hasattr(value, "item") else value


def record(cfg, key: str, unit) -> dict:
    """What a checkpoint of ``unit`` (a :class:`simkit.sweep.Unit`) of run ``cfg`` must say it is."""
    from . import __version__

    return {
        "study": cfg.study,
        "config": key,
        "cell_index": int(unit.cell_index),
        "cell": {k: _plain(v) for k, v in unit.cell.items()},
        "start": int(unit.start),
        "count": int(unit.count),
        "seed": int(cfg.seed),
        "backend": cfg.backend,
        "version": __version__,
    }


def _dtype(values) -> str:
    # text round-trips through NetCDF as object arrays: compare it as "str"
    return "str" if values.dtype.kind in "OUS" else str(values.dtype)


def _layout(ds: xr.Dataset) -> dict:
    return {name: [list(var.dims), _dtype(var)] for name, var in sorted(ds.variables.items())}


def checksum(ds: xr.Dataset) -> str:
    """SHA-256 of every variable's name, dims, dtype, shape and values (NaNs made canonical)."""
    h = hashlib.sha256()
    for name, var in sorted(ds.variables.items()):
        values = np.asarray(var.values)
        h.update(json.dumps([name, list(var.dims), _dtype(values), list(values.shape)]).encode())
        if values.dtype.kind in "fc":
            values = np.where(np.isnan(values), np.nan, values)
        if values.dtype.kind in "OUS":
            h.update("\x1f".join(map(str, values.ravel().tolist())).encode())
        else:
            h.update(np.ascontiguousarray(values).tobytes())
    return h.hexdigest()


def stamp(ds: xr.Dataset, rec: dict) -> xr.Dataset:
    """``ds`` with its record (and layout) and checksum attached as attributes, ready to write."""
    rec = {**rec, "variables": _layout(ds)}
    return ds.assign_attrs({RECORD_ATTR: json.dumps(rec, sort_keys=True), CHECKSUM_ATTR: checksum(ds)})


def load(path: Path, expected: dict):
    """Read the checkpoint at ``path`` if it is exactly the unit ``expected`` describes.

    Returns ``(dataset, None)`` when it can be reused, ``(None, reason)`` when it was discarded
    (the file is removed), and ``(None, None)`` when there is none.
    """
    from .storage import read_dataset

    path = Path(path)
    if not path.exists() and not path.is_symlink():
        return None, None
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
        return None, "a folder in place of the file"
    reason = None
    ds = None
    try:
        ds = read_dataset(path, require_simkit=False)
    except Exception:  # any unreadable content is a reason to recompute, never to stop
        reason = "not a readable NetCDF file"
    if ds is not None:
        reason = _mismatch(ds, expected)
    if reason is None:
        return _strip(ds), None
    try:
        path.unlink()
    except OSError:
        pass
    return None, reason


def _mismatch(ds: xr.Dataset, expected: dict) -> str | None:
    text = ds.attrs.get(RECORD_ATTR)
    if not isinstance(text, str):
        return "no simkit checkpoint record"
    try:
        rec = json.loads(text)
    except ValueError:
        return "a damaged checkpoint record"
    if not isinstance(rec, dict):
        return "a damaged checkpoint record"
    for field, value in expected.items():
        if rec.get(field) != value:
            return f"recorded {field} differs"
    if rec.get("variables") != _layout(_strip(ds)):
        return "its variables, dims or dtypes differ from the record"
    if ds.attrs.get(CHECKSUM_ATTR) != checksum(_strip(ds)):
        return "checksum mismatch (the data were altered)"
    if "rep" not in ds.dims or ds.sizes["rep"] != expected["count"]:
        return "wrong number of replications"
    reps = np.asarray(ds["rep"].values) if "rep" in ds.coords else None
    if reps is None or not np.array_equal(reps, np.arange(expected["start"], expected["start"] + expected["count"])):
        return "wrong replication range"
    return None


def _strip(ds: xr.Dataset) -> xr.Dataset:
    attrs = {k: v for k, v in ds.attrs.items() if k not in (RECORD_ATTR, CHECKSUM_ATTR)}
    out = ds.copy()
    out.attrs = attrs
    return out
