"""``simkit gpu-check``: compile every CUDA kernel for real GPUs, and verify a device.

``simkit gpu-check --compile-only`` (no GPU needed; CI runs it)
    Runs every study's quick grid with ``backend="cuda"`` inside :func:`simkit.launch.recording`
    (launches are recorded, not run; two replications per cell, since argument *types* do not
    depend on the number of replications; a cell stops at its first launch that repeats one
    already recorded).  Every distinct (kernel, argument types) pair is then compiled to PTX by
    NVVM (:func:`numba.cuda.compile_ptx`) for each architecture (default sm_80 and sm_90) and
    assembled by ``ptxas -v``.  One row per kernel and architecture: registers per thread, spill
    stores and loads, stack frame, shared memory, the theoretical occupancy at the launch's block
    size, status.  Exit status 1 if a kernel fails to compile or a study fails before its first
    launch.  Without a GPU, Numba asks the current device for its compute capability when it
    compiles device functions (``numba.cuda.dispatcher.get_current_device``); here it is supplied.

``simkit gpu-check`` (on a machine with a GPU)
    The compile table for the device's architecture, every study's quick grid on ``cuda`` against
    ``numba`` (each variable reported as identical, close, or statistically equal — see
    :func:`compare_datasets`), the ``gpu``-marked tests and the GPU benchmarks, in one report
    ``benchmarks/results/gpu-check-<device>-<date>.md``.

Both forms run in a subprocess without ``NUMBA_ENABLE_CUDASIM`` when called under the simulator.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import contextlib
import dataclasses
import datetime
import math
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

__all__ = [
    "add_arguments",
    "run",
    "main",
    "record_study_launches",
    "compile_launches",
    "occupancy",
    "compare_datasets",
    "KernelRow",
    "ARCHS",
]

#: Architectures compiled by ``--compile-only`` by default.
ARCHS = ((8, 0), (9, 0))
RECORD_REPS = 2

# per-SM limits: 32-bit registers, resident threads, resident blocks, shared memory (bytes)
_SM = {
    (7, 0): (65536, 2048, 32, 98304),
    (7, 5): (65536, 1024, 16, 65536),
    (8, 0): (65536, 2048, 32, 167936),
    (8, 6): (65536, 1536, 16, 102400),
    (8, 7): (65536, 1536, 16, 167936),
    (8, 9): (65536, 1536, 24, 102400),
    (9, 0): (65536, 2048, 32, 233472),
    (10, 0): (65536, 2048, 32, 233472),
    (12, 0): (65536, 1536, 32, 102400),
}

#: Why a kernel needs more than 64 registers per thread (checked against the compile table).
REGISTER_NOTES = {
    "bandits_karmed.karmed_cuda": "one body for eight policies and three reward laws: the round loop keeps "
    "the policy parameters, the running best index, the cumulative regret, the RNG state and the Newton "
    "iterate of KL-UCB live at once; the double-precision log/exp/sqrt slow paths add their own",
    "bandits_linear.linear_cuda": "three policies in one body; Sherman-Morrison updates hold z, s and the "
    "pointers and strides of nine work arrays live across the inner loops",
    "collapse_gaussian.gaussian_chain_cuda": "pointers and strides of ten work arrays plus the Cholesky and "
    "log-det loops",
    "collapse_generator.generator_ridge_cuda": "pointers and strides of thirteen work arrays (generator and "
    "downstream fits) live across the whole chain",
    "collapse_linear.linear_chain_cuda": "pointers and strides of nine work arrays live across the chain",
    "irl_bellman.bellman_cuda": "the sweep is unrolled over four successor states (four weights, four row "
    "pointers) and the soft maximum keeps exp/log state",
    "collapse_kde.kde_chain_cuda": "the pool array's pointer and strides plus the Box-Muller and resampling state",
    "preference_bt.bt_newton_cuda": "the Newton loop keeps the pointers, shapes and strides of the win counts, "
    "Hessian, gradient and fit live across the Cholesky solve, plus the sigmoid's exp",
    "preference_bt.mixup_cuda": "ten per-row arrays (two inputs, four outputs, four work arrays), each with its "
    "pointer, shape and strides, are live across the pair loop",
    "preference_bt.mixup_nodes_cuda": "nine per-row inputs and two outputs with their strides, plus the softmax "
    "loop's running maximum and sum",
}

#: Said under the register notes: what the item-fastest layout costs in registers.
LAYOUT_NOTE = (
    "With the item-fastest device layout (simkit.launch) every per-item array of two or more "
    "dimensions reaches the kernel as a strided view (layout F or A instead of C): its inner strides "
    "are no longer compile-time multiples of 8 bytes, so each array keeps one more 64-bit stride live. "
    "That is the few registers some kernels gained against the C-ordered build; in exchange every "
    "per-item load and store of a warp is one coalesced transaction instead of 32."
)


@dataclasses.dataclass
class KernelRow:
    """One kernel compiled for one architecture."""

    kernel: str
    arch: str
    registers: int | None = None
    spill_stores: int | None = None
    spill_loads: int | None = None
    stack: int | None = None
    shared: int | None = None
    threads: int = 0
    occupancy: float | None = None
    layouts: str = ""
    status: str = "ok"
    studies: tuple = ()
    seconds: float = 0.0


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the ``gpu-check`` options to ``parser``."""
    parser.add_argument(
        "--compile-only",
        action="store_true",
        help="compile every CUDA kernel the studies launch (no GPU needed) and print the table",
    )
    parser.add_argument(
        "--arch",
        action="append",
        default=None,
        metavar="SM",
        help="architecture(s) to compile for, e.g. 80 or sm_90 (default: 80 and 90; on a GPU: the device's)",
    )
    parser.add_argument(
        "--study",
        action="append",
        default=None,
        metavar="NAME",
        help="only these studies (default: every registered study)",
    )
    parser.add_argument(
        "--output", default=None, metavar="FILE", help="write the report here (default: under benchmarks/results/)"
    )
    parser.add_argument("--skip-tests", action="store_true", help="device check: skip pytest -m gpu")
    parser.add_argument("--skip-bench", action="store_true", help="device check: skip the GPU benchmarks")


def main(argv=None) -> int:
    """``python -m simkit.gpucheck [options]``."""
    parser = argparse.ArgumentParser(prog="simkit gpu-check", description=__doc__.splitlines()[0])
    add_arguments(parser)
    return run(parser.parse_args(argv))


def run(args) -> int:
    """Run ``gpu-check`` with parsed ``args``; return the exit status (0 ok, 1 a failure, 2 bad input)."""
    from .backends import cuda_simulated

    if cuda_simulated():
        return _rerun_without_simulator(args)
    from .errors import SimkitError

    try:
        archs = _parse_archs(args.arch)
        if args.compile_only:
            return _compile_only(args, archs or ARCHS)
        return _device_check(args, archs)
    except SimkitError as exc:
        print(f"simkit gpu-check: {exc}", file=sys.stderr)
        return 2


def _rerun_without_simulator(args) -> int:
    argv = [sys.executable, "-m", "simkit.gpucheck"]
    if args.compile_only:
        argv.append("--compile-only")
    for flag, values in (("--arch", args.arch), ("--study", args.study)):
        for value in values or ():
            argv += [flag, value]
    if args.output:
        argv += ["--output", str(args.output)]
    argv += ["--skip-tests"] if args.skip_tests else []
    argv += ["--skip-bench"] if args.skip_bench else []
    env = {k: v for k, v in os.environ.items() if k != "NUMBA_ENABLE_CUDASIM"}
    return subprocess.run(argv, env=env).returncode


def _parse_archs(values):
    from .errors import ParameterError

    out = []
    for value in values or ():
        text = str(value).lower().removeprefix("sm_").removeprefix("sm").replace(".", "")
        if not re.fullmatch(r"\d{2,3}", text):
            raise ParameterError(f"--arch must look like 80, 90 or sm_90, got {value!r}")
        out.append((int(text[:-1]), int(text[-1])))
    return tuple(out)


# --------------------------------------------------------------------------- recording


def record_study_launches(names=None, reps=RECORD_REPS):
    """The CUDA launches of every study's quick grid, recorded without running them.

    Returns
    -------
    launches : list of simkit.launch.Launch
        Distinct (kernel, argument types) pairs, each with the studies that launch it.
    problems : list of str
        Studies whose ``cuda`` path failed before it launched a kernel (a failure on a GPU too).
    skipped : list of str
        Studies that do not offer the ``cuda`` backend.
    """
    from . import launch
    from .registry import all_studies, get_study
    from .rng import rep_states

    studies = [get_study(n) for n in names] if names else all_studies()
    problems, skipped = [], []
    with launch.recording() as rec:
        for study in studies:
            if "cuda" not in study.backends:
                skipped.append(study.name)
                continue
            cfg = study.config(quick=True, backend="cuda")
            for cell in cfg.cells():
                outer = {k: v for k, v in cell.items() if k not in study.inner}
                states = rep_states(cfg.seed, study.name, outer, reps)
                rec.label = study.name
                before = rec.attempts
                try:
                    study.simulate({**cfg.settings, **cell}, states, "cuda")
                except launch.RepeatedLaunch:
                    pass
                except Exception as exc:  # after a recorded launch the outputs are not real: expected
                    if rec.attempts == before:
                        problems.append(f"{study.name} {cell}: {type(exc).__name__}: {exc}")
    return rec.launches, problems, skipped


# --------------------------------------------------------------------------- compiling


class _FakeDevice:
    def __init__(self, cc):
        self.compute_capability = cc


@contextlib.contextmanager
def _device_cc(cc):
    """Let Numba-CUDA compile device functions for ``cc`` without a device (see the module docstring)."""
    import numba.cuda.compiler as compiler
    import numba.cuda.dispatcher as dispatcher

    saved = {m: m.get_current_device for m in (dispatcher, compiler) if hasattr(m, "get_current_device")}
    for module in saved:
        module.get_current_device = lambda: _FakeDevice(cc)
    try:
        yield
    finally:
        for module, func in saved.items():
            module.get_current_device = func


def find_ptxas() -> str | None:
    """Path of ``ptxas``: from the ``nvidia-cuda-nvcc`` wheel, ``CUDA_HOME``, or ``PATH``."""
    with contextlib.suppress(Exception):
        from cuda import pathfinder

        found = pathfinder.find_nvidia_binary_utility("ptxas")
        if found:
            return str(found)
    home = os.environ.get("CUDA_HOME") or os.environ.get("CUDA_PATH")
    if home and Path(home, "bin", "ptxas").exists():
        return str(Path(home, "bin", "ptxas"))
    return shutil.which("ptxas")


def _ptx(entry, cc):
    from numba import cuda

    from .kernels.targets import compiled

    dispatcher = compiled(entry.kernel, "cuda")
    with _device_cc(cc):
        ptx, _ = cuda.compile_ptx(dispatcher.py_func, entry.signature, cc=cc)
    return ptx


_ENTRY = re.compile(r"Compiling entry function '([^']+)'")
_USED = re.compile(r"Used (\d+) registers")
_SMEM = re.compile(r"(\d+) bytes smem")
_FRAME = re.compile(r"(\d+) bytes stack frame, (\d+) bytes spill stores, (\d+) bytes spill loads")


def parse_ptxas(text):
    """``(registers, spill_stores, spill_loads, stack, shared)`` of the entry function in ``ptxas -v`` output."""
    lines = text.splitlines()
    regs = stores = loads = stack = None
    shared = 0
    entry = None
    for i, line in enumerate(lines):
        m = _ENTRY.search(line)
        if m:
            entry = m.group(1)
            continue
        if entry and f"Function properties for {entry}" in line and i + 1 < len(lines):
            f = _FRAME.search(lines[i + 1])
            if f:
                stack, stores, loads = (int(g) for g in f.groups())
        if entry and regs is None:
            u = _USED.search(line)
            if u:
                regs = int(u.group(1))
                s = _SMEM.search(line)
                shared = int(s.group(1)) if s else 0
    return regs, stores, loads, stack, shared


def occupancy(registers, shared, threads, cc):
    """Theoretical occupancy (resident warps / maximum warps per SM) of a kernel at ``threads`` per block.

    Registers are allocated per warp in units of 256; each block also reserves 1 KiB of shared
    memory on sm_80 and later.
    """
    regs_sm, threads_sm, blocks_sm, smem_sm = _SM.get(tuple(cc), _SM[(9, 0)])
    warps_block = math.ceil(threads / 32)
    limits = [blocks_sm, threads_sm // (warps_block * 32)]
    if registers:
        per_warp = math.ceil(registers * 32 / 256) * 256
        limits.append(regs_sm // (per_warp * warps_block))
    reserve = 1024 if cc >= (8, 0) else 0
    if shared or reserve:
        limits.append(smem_sm // (shared + reserve))
    return min(limits) * warps_block / (threads_sm // 32)


def compile_launches(launches, archs, ptxas=None, log=None):
    """Compile each recorded launch for each architecture; return a list of :class:`KernelRow`.

    NVVM runs in this thread (Numba holds a compiler lock); ``ptxas`` runs in a thread pool as
    soon as each PTX is ready.
    """
    ptxas = ptxas or find_ptxas()
    rows, jobs = [], []
    workdir = Path(tempfile.mkdtemp(prefix="simkit-ptx-"))
    with concurrent.futures.ThreadPoolExecutor(max(1, os.cpu_count() or 1)) as pool:
        for entry in launches:
            for cc in archs:
                arch = f"sm_{cc[0]}{cc[1]}"
                row = KernelRow(
                    entry.name, arch, threads=entry.threads, studies=tuple(entry.users), layouts=array_layouts(entry)
                )
                rows.append(row)
                start = time.perf_counter()
                try:
                    ptx = _ptx(entry, cc)
                except Exception as exc:
                    row.status = f"NVVM failed: {type(exc).__name__}: {str(exc).splitlines()[0][:200]}"
                    row.seconds = time.perf_counter() - start
                    continue
                if ptxas is None:
                    row.status = "ptxas not found (pip install nvidia-cuda-nvcc-cu12)"
                    continue
                path = workdir / f"{entry.name}.{len(rows)}.{arch}.ptx"
                path.write_text(ptx)
                jobs.append((row, start, pool.submit(_assemble, ptxas, path, arch)))
        for row, start, job in jobs:
            code, text = job.result()
            row.seconds = time.perf_counter() - start
            if code != 0:
                row.status = "ptxas failed: " + " ".join(text.strip().splitlines()[-2:])[:300]
                continue
            row.registers, row.spill_stores, row.spill_loads, row.stack, row.shared = parse_ptxas(text)
            if row.registers is None:
                row.status = "ptxas output not understood"
                continue
            cc = (int(row.arch[3:-1]), int(row.arch[-1]))
            row.occupancy = occupancy(row.registers, row.shared, row.threads, cc)
            if row.spill_stores or row.spill_loads:
                row.status = "ok (spills)"
    shutil.rmtree(workdir, ignore_errors=True)
    return rows


def _assemble(ptxas, path, arch):
    proc = subprocess.run(
        [ptxas, f"-arch={arch}", "-v", str(path), "-o", str(path.with_suffix(".cubin"))], capture_output=True, text=True
    )
    return proc.returncode, proc.stdout + proc.stderr


def array_layouts(entry) -> str:
    """The array arguments' layouts of a recorded launch, counted: e.g. ``"2 C, 1 F, 7 A"``.

    ``F`` and ``A`` are the strided views of the item-fastest device layout (two, and three or
    more dimensions); ``C`` arrays are shared inputs, one-dimensional per-item arrays, or
    per-item arrays whose other dimensions are all 1 (or a batch of one item).
    """
    counts = {}
    for typ in entry.signature:
        layout = getattr(typ, "layout", None)
        if layout is not None:
            counts[layout] = counts.get(layout, 0) + 1
    return ", ".join(f"{counts[k]} {k}" for k in ("C", "F", "A") if k in counts)


def format_table(rows):
    """The compile table as Markdown."""
    head = (
        "| kernel | arch | registers | spill stores / loads (B) | stack (B) | shared (B) | block | "
        "occupancy | array layouts | status | studies |"
    )
    out = [head, "|" + "---|" * 11]
    for r in rows:

        def num(v):
            return "-" if v is None else str(v)

        occ = "-" if r.occupancy is None else f"{100 * r.occupancy:.1f}%"
        spills = "-" if r.spill_stores is None else f"{r.spill_stores} / {r.spill_loads}"
        studies = ", ".join(r.studies[:4]) + (f" (+{len(r.studies) - 4})" if len(r.studies) > 4 else "")
        out.append(
            f"| {r.kernel} | {r.arch} | {num(r.registers)} | {spills} | {num(r.stack)} | {num(r.shared)} | "
            f"{r.threads} | {occ} | {r.layouts or '-'} | {r.status} | {studies} |"
        )
    return "\n".join(out)


def _register_notes(rows):
    lines = []
    for name in sorted({r.kernel for r in rows if r.registers and r.registers > 64}):
        most = max(r.registers for r in rows if r.kernel == name and r.registers)
        lines.append(f"- `{name}` ({most} registers): {REGISTER_NOTES.get(name, 'not yet explained')}.")
    return lines


def _versions():
    import numba
    import numpy

    parts = [f"python {sys.version.split()[0]}", f"numpy {numpy.__version__}", f"numba {numba.__version__}"]
    with contextlib.suppress(Exception):
        import importlib.metadata as md

        parts.append(f"numba-cuda {md.version('numba-cuda')}")
    with contextlib.suppress(Exception):
        from numba.cuda.cudadrv import nvvm

        parts.append("NVVM IR " + ".".join(map(str, nvvm.NVVM().get_ir_version())))
    return ", ".join(parts)


def _compile_section(names, archs, out):
    start = time.perf_counter()
    launches, problems, skipped = record_study_launches(names)
    recorded = time.perf_counter() - start
    rows = compile_launches(launches, archs)
    failed = [r for r in rows if not r.status.startswith("ok")]
    out.append(
        f"Kernels: {len(launches)} distinct (kernel, argument types) launched by the studies' quick grids; "
        f"architectures: {', '.join(f'sm_{a}{b}' for a, b in archs)}; {_versions()}."
    )
    out.append(f"Recording took {recorded:.1f} s, compiling {time.perf_counter() - start - recorded:.1f} s.")
    out.append("")
    out.append(format_table(rows))
    notes = _register_notes(rows)
    if notes:
        out += ["", "Kernels above 64 registers per thread:", *notes, "", LAYOUT_NOTE]
    if skipped:
        out += ["", f"Studies without the cuda backend: {', '.join(skipped)}."]
    if problems:
        out += ["", "Studies that failed before their first launch:", *[f"- {p}" for p in problems]]
    if not launches:
        problems.append("no CUDA launch was recorded")
    return rows, failed, problems


def _compile_only(args, archs):
    out = [f"# simkit gpu-check --compile-only, {datetime.datetime.now(datetime.UTC):%Y-%m-%d %H:%M} UTC", ""]
    rows, failed, problems = _compile_section(args.study, archs, out)
    text = "\n".join(out) + "\n"
    print(text, end="")
    if args.output:
        Path(args.output).parent.mkdir(parents=True, exist_ok=True)
        Path(args.output).write_text(text)
    return 1 if failed or problems else 0


# --------------------------------------------------------------------------- device check


def compare_datasets(cuda_ds, numba_ds, rep_dim="rep"):
    """Compare one study's ``cuda`` and ``numba`` results variable by variable.

    Each numeric variable is ``identical`` (equal to ``rtol=1e-12``), ``close`` (``rtol=1e-6``:
    the same arithmetic, with the GPU's rounding of fused multiply-adds and transcendentals), or
    compared ``statistically``: the mean over replications of each cell, ``|z| <= 4`` with the
    standard error of the difference of two independent means (a near-tie flipped by the last bit
    changes a bandit's whole trajectory, so streams diverge).  Returns a list of
    ``(variable, verdict, detail, passed)``.
    """
    import numpy as np

    out = []
    for name in numba_ds.data_vars:
        a, b = cuda_ds[name].values, numba_ds[name].values
        if a.shape != b.shape or not np.issubdtype(b.dtype, np.number):
            out.append((name, "skipped", f"shape {a.shape} vs {b.shape}", a.shape == b.shape))
            continue
        a, b = a.astype(float), b.astype(float)
        both = np.isfinite(a) & np.isfinite(b)
        scale = np.maximum(np.abs(b), 1e-300)
        rel = float(np.max(np.abs(a - b)[both] / scale[both])) if both.any() else 0.0
        if np.array_equal(np.isfinite(a), np.isfinite(b)) and np.allclose(a[both], b[both], rtol=1e-12, atol=1e-14):
            out.append((name, "identical", f"max rel diff {rel:.1e}", True))
        elif np.array_equal(np.isfinite(a), np.isfinite(b)) and np.allclose(a[both], b[both], rtol=1e-6, atol=1e-9):
            out.append((name, "close", f"max rel diff {rel:.1e}", True))
        elif rep_dim in numba_ds[name].dims:
            axis = numba_ds[name].dims.index(rep_dim)
            n = a.shape[axis]
            ma, mb = np.nanmean(a, axis=axis), np.nanmean(b, axis=axis)
            se = np.sqrt((np.nanvar(a, axis=axis, ddof=1) + np.nanvar(b, axis=axis, ddof=1)) / max(n, 1))
            z = np.where(se > 0, np.abs(ma - mb) / np.where(se > 0, se, 1.0), np.where(ma == mb, 0.0, np.inf))
            zmax = float(np.nanmax(z)) if z.size else 0.0
            out.append((name, "statistical", f"max |z| {zmax:.2f} over {z.size} cell(s), {n} reps", zmax <= 4.0))
        else:
            out.append((name, "different", f"max rel diff {rel:.1e} (no {rep_dim} dimension)", False))
    return out


def _device_check(args, archs):
    from .api import run_study
    from .backends import _real_gpu, gpu_name
    from .errors import BackendError
    from .registry import all_studies, get_study

    if not _real_gpu():
        raise BackendError("gpu-check needs a CUDA GPU, and none is visible on this machine (use --compile-only)")
    from numba import cuda

    device = cuda.get_current_device()
    cc = tuple(device.compute_capability)
    name = gpu_name() or "GPU"
    now = datetime.datetime.now(datetime.UTC)
    out = [f"# simkit gpu-check on {name} (sm_{cc[0]}{cc[1]}), {now:%Y-%m-%d %H:%M} UTC", ""]
    ok = True

    out += ["## Compile table", ""]
    _, failed, problems = _compile_section(args.study, archs or (cc,), out)
    ok &= not failed and not problems
    print("\n".join(out), flush=True)

    out += ["", "## Quick grids: cuda against numba", ""]
    out.append(
        "identical: equal to 1e-12; close: same arithmetic, GPU rounding (rtol 1e-6); statistical: "
        "streams diverge after a near-tie, cell means within 4 standard errors."
    )
    out += [
        "",
        "| study | variable | verdict | detail | cuda checks | seconds cuda / numba |",
        "|---|---|---|---|---|---|",
    ]
    studies = [get_study(n) for n in args.study] if args.study else all_studies()
    for study in studies:
        if "cuda" not in study.backends:
            out.append(f"| {study.name} | - | not offered on cuda | | | |")
            continue
        try:
            t0 = time.perf_counter()
            gpu = run_study(study, quick=True, backend="cuda", out=None, progress=False, plot=False)
            t1 = time.perf_counter()
            cpu = run_study(study, quick=True, backend="numba", out=None, progress=False, plot=False)
            t2 = time.perf_counter()
        except Exception as exc:
            ok = False
            out.append(f"| {study.name} | - | error | {type(exc).__name__}: {str(exc)[:200]} | | |")
            continue
        checks = f"{sum(c.outcome == 'pass' for c in gpu.checks)}/{len(gpu.checks)} pass"
        for var, verdict, detail, passed in compare_datasets(gpu.dataset, cpu.dataset, study.rep_dim):
            ok &= passed
            out.append(
                f"| {study.name} | {var} | {verdict}{'' if passed else ' (FAIL)'} | {detail} | {checks} | "
                f"{t1 - t0:.1f} / {t2 - t1:.1f} |"
            )
        print("\n".join(out[-3:]), flush=True)

    root = Path(__file__).resolve().parent.parent
    for title, skip, command, limit in (
        (
            "pytest -m gpu",
            args.skip_tests,
            [sys.executable, "-m", "pytest", "-m", "gpu", "-q", "-p", "no:cacheprovider"],
            900,
        ),
        (
            "GPU benchmarks (simkit bench --quick)",
            args.skip_bench,
            [sys.executable, "-m", "simkit", "bench", "--quick"],
            900,
        ),
    ):
        out += ["", f"## {title}", ""]
        if skip:
            out.append("skipped")
            continue
        env = {k: v for k, v in os.environ.items() if k != "NUMBA_ENABLE_CUDASIM"}
        try:
            proc = subprocess.run(command, cwd=root, capture_output=True, text=True, env=env, timeout=limit)
            ok &= proc.returncode == 0
            tail = (proc.stdout + proc.stderr).strip().splitlines()[-40:]
            out += ["```", *tail, "```", f"exit status {proc.returncode}"]
        except subprocess.TimeoutExpired:
            ok = False
            out.append(f"timed out after {limit} s")
    text = "\n".join(out) + "\n"
    slug = re.sub(r"[^A-Za-z0-9]+", "-", name).strip("-").lower()
    path = Path(args.output) if args.output else root / "benchmarks" / "results" / f"gpu-check-{slug}-{now:%Y-%m-%d}.md"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    print(text, end="")
    print(f"wrote {path}")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
