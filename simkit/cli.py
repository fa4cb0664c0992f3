"""The ``simkit`` command line: list, run, reproduce, plot, info, bench.

Bad input ends with exit status 2 and one line on stderr; a run whose checks fail exits 1.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
import time

from .errors import ParameterError, SimkitError

__all__ = ["main"]

FAMILIES = ("collapse", "bandits", "regression", "irl")


class _Parser(argparse.ArgumentParser):
    def error(self, message):
        self.exit(2, f"{self.prog}: error: {message}\n")


def _fail(message: str, status: int = 2):
    sys.stderr.write(f"simkit: error: {message}\n")
    return status


def _parse_sets(study, items):
    """``["T=100,316", "d=8"]`` → ``{"T": [100, 316], "d": 8}``, typed and validated."""
    overrides = {}
    for item in items or ():
        if "=" not in item:
            raise ParameterError(f"--set {item!r}: expected name=value (for a grid parameter name=v1,v2,...)")
        name, _, text = item.partition("=")
        name = name.strip()
        if not name or not text.strip():
            raise ParameterError(f"--set {item!r}: expected name=value (for a grid parameter name=v1,v2,...)")
        names = [p.name for p in study.params]
        if name not in names:
            raise ParameterError(f"--set {name}: {study.name} has no such parameter (known: {', '.join(names)})")
        if name in overrides:
            raise ParameterError(
                f"--set {name}: given twice; give it once (a grid parameter takes a list: {name}=v1,v2)"
            )
        param = study.param(name)
        values = [param.parse(part) for part in text.split(",")]
        overrides[name] = values if name in study.grid else (values[0] if len(values) == 1 else values)
    return overrides


def _add_run_options(p, *, single=True):
    p.add_argument("--quick", action="store_true", help="small grid and few replications (seconds)")
    p.add_argument("--reps", type=_int_arg("--reps"), default=None, help="replications per cell")
    p.add_argument("--seed", type=_int_arg("--seed"), default=0, help="run seed (default 0)")
    p.add_argument("--backend", default="auto", help="auto, numpy, numba or cuda (default auto)")
    p.add_argument("--out", default="results", help="results folder (default ./results)")
    if single:
        p.add_argument(
            "--set",
            dest="sets",
            action="append",
            metavar="NAME=VALUE",
            help="override a setting, or a grid parameter with comma-separated values",
        )
    p.add_argument("--workers", type=_int_arg("--workers"), default=1, help="local worker processes")
    p.add_argument("--dask", default=None, metavar="ADDRESS", help="Dask scheduler address, or 'local'")
    p.add_argument("--fresh", action="store_true", help="ignore checkpoints of an interrupted run")
    p.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    p.add_argument(
        "--store",
        choices=("full", "summary"),
        default="full",
        help="what STUDY.nc keeps: every replication (full, default) or mean/SE/count (summary)",
    )
    if single:
        p.add_argument(
            "--dry-run",
            action="store_true",
            help="print the plan (cells, units, replications, files, estimated time) and write nothing",
        )


class _StudyHelp(argparse.Action):
    """``simkit run STUDY --help``: the options, then the study's declared parameters."""

    def __call__(self, parser, namespace, values, option_string=None):
        parser.print_help()
        name = getattr(namespace, "study", None)
        if name:
            from .describe import parameter_table
            from .registry import get_study

            try:
                study = get_study(name)
            except SimkitError as exc:
                parser.exit(2, f"simkit: error: {exc}\n")
            print(f"\nparameters of {study.name} (--set NAME=VALUE; a swept parameter takes v1,v2,...):")
            print(parameter_table(study))
        else:
            print("\nsimkit run STUDY --help lists the parameters of STUDY; simkit list names the studies")
        parser.exit(0)


def _int_arg(label):
    def parse(text):
        try:
            return int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{label} must be an integer, got {text!r}") from None

    parse.__name__ = label
    return parse


def build_parser() -> argparse.ArgumentParser:
    from . import __version__

    parser = _Parser(prog="simkit", description="Simulate model misspecification beside its theory.")
    parser.add_argument("--version", action="version", version=f"simkit {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    sub.add_parser("list", help="studies, their papers and what each reproduces")
    desc = sub.add_parser("describe", help="what a study teaches, its parameters, outputs, checks and cost")
    desc.add_argument("study")
    run = sub.add_parser("run", help="run one study (simkit run STUDY --help lists its parameters)", add_help=False)
    run.add_argument("-h", "--help", action=_StudyHelp, nargs=0, help="show this help and the study's parameters")
    run.add_argument("study")
    _add_run_options(run)
    rep = sub.add_parser("reproduce", help="run every study and print one table of checks")
    _add_run_options(rep, single=False)
    rep.add_argument("--only", action="append", metavar="STUDY", help="restrict to these studies")
    plot = sub.add_parser("plot", help="redraw a saved result")
    plot.add_argument("file")
    plot.add_argument("--out", default=None, help="folder for the figure (default: next to FILE)")
    sub.add_parser("info", help="versions, backends, GPU")
    bench = sub.add_parser("bench", help="performance against baselines")
    bench.add_argument("family", nargs="?", choices=FAMILIES, help="one family (default: all)")
    bench.add_argument("--quick", action="store_true", help="small sizes")
    from . import gpucheck

    gpucheck.add_arguments(
        sub.add_parser(
            "gpu-check",
            help="compile every CUDA kernel for sm_80/sm_90 (--compile-only), or verify this GPU",
        )
    )
    return parser


def _on_sigterm(signum, frame):
    from . import interrupts

    interrupts.request("term")
    if not interrupts.deferring():
        raise interrupts.Terminated()


def _on_sigint(signum, frame):
    from . import interrupts

    interrupts.request("int")
    if not interrupts.deferring():
        raise KeyboardInterrupt()


def main(argv=None) -> int:
    """Entry point of the ``simkit`` console script."""
    import signal

    # figures are only ever written to files here; an explicit MPLBACKEND is respected
    os.environ.setdefault("MPLBACKEND", "Agg")

    from . import interrupts

    args = build_parser().parse_args(argv)
    interrupts.clear()
    try:
        previous = {
            signal.SIGTERM: signal.signal(signal.SIGTERM, _on_sigterm),
            signal.SIGINT: signal.signal(signal.SIGINT, _on_sigint),
        }
    except ValueError:  # not the main thread (an embedding application): keep its handlers
        previous = {}
    try:
        return _COMMANDS[args.command](args)
    except SimkitError as exc:
        return _fail(str(exc).splitlines()[0] if str(exc) else type(exc).__name__)
    except KeyboardInterrupt as exc:
        status = 143 if isinstance(exc, interrupts.Terminated) or interrupts.requested() == "term" else 130
        with contextlib.suppress(Exception):
            sys.stderr.write(
                f"simkit: {'terminated' if status == 143 else 'interrupted'}; finished units are checkpointed: "
                "run the same command again to resume\n"
            )
        return status
    except BrokenPipeError:
        # stdout closed early (e.g. `simkit list | head -1`): end quietly, as other tools do
        with contextlib.suppress(OSError):
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())
        return 141
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)


def _cmd_list(args) -> int:
    from .registry import summaries

    rows = [(s["name"], s["family"], s["title"], s["paper"]) for s in summaries()]
    width = max(len(r[0]) for r in rows)
    fam = max(len(r[1]) for r in rows)
    for name, family, title, paper in rows:
        print(f"{name.ljust(width)}  {family.ljust(fam)}  {title}")
        print(f"{' ' * width}  {' ' * fam}  ({paper})")
    return 0


def _run_one(name, args, overrides=None, quiet=False):
    from .api import run_study

    result = run_study(
        name,
        quick=args.quick,
        reps=args.reps,
        seed=args.seed,
        backend=args.backend,
        overrides=overrides,
        workers=args.workers,
        dask=args.dask,
        out=args.out,
        fresh=args.fresh,
        progress=not args.no_progress,
        store=args.store,
    )
    total = result.reused + result.computed
    resumed = f", {result.reused} reused from checkpoints" if result.reused else ""
    print(
        f"{name}: {total} units ({result.computed} computed{resumed}) in {result.wall_seconds:.1f} s "
        f"[{result.dataset.attrs['backend']}, {result.dataset.attrs['reps']} reps]"
    )
    return result


def _cmd_describe(args) -> int:
    from .describe import describe
    from .registry import get_study

    print(describe(get_study(args.study)))
    return 0


def _cmd_run(args) -> int:
    from .checks import format_table
    from .registry import get_study

    study = get_study(args.study)
    overrides = _parse_sets(study, args.sets)
    if args.dry_run:
        return _dry_run(study, args, overrides)
    result = _run_one(study.name, args, overrides)
    print(format_table((study.name, c) for c in result.checks))
    print(_outcome_summary(result.checks))
    for path in result.paths:
        print(f"wrote {path}")
    return 1 if result.failed else 0


def _dry_run(study, args, overrides) -> int:
    from .backends import resolve_backend
    from .describe import plan
    from .executors import make_executor

    backend = resolve_backend(args.backend)
    cfg = study.config(quick=args.quick, reps=args.reps, seed=args.seed, backend=backend, overrides=overrides)
    make_executor(args.workers, args.dask)  # validates --workers / --dask without starting anything
    print(plan(study, cfg, args.out, args.workers))
    return 0


def _outcome_summary(checks) -> str:
    counts = {o: sum(c.outcome == o for c in checks) for o in ("pass", "fail", "inconclusive")}
    text = f"{counts['pass']} passed, {counts['fail']} failed, {counts['inconclusive']} inconclusive"
    if counts["inconclusive"]:
        text += " (inconclusive: the data cannot decide, see the detail under the row; not a failure)"
    return text


def _cmd_reproduce(args) -> int:
    from .checks import format_table
    from .registry import all_studies, get_study

    studies = [get_study(n) for n in args.only] if args.only else all_studies()
    rows = []
    start = time.perf_counter()
    for study in studies:
        result = _run_one(study.name, args)
        rows += [(study.name, c) for c in result.checks]
        for c in result.checks:
            if c.outcome != "pass":
                print(f"  {c.outcome.upper()} {c.name}: {c.detail}")
    print()
    print(format_table(rows))
    checks = [c for _, c in rows]
    print(f"\n{len(studies)} studies: {_outcome_summary(checks)} in {time.perf_counter() - start:.0f} s")
    return 1 if any(c.failed for c in checks) else 0


def _cmd_plot(args) -> int:
    from pathlib import Path

    from .errors import OutputError, StudyError
    from .plotting import save_figure
    from .registry import get_study, study_names
    from .storage import ensure_writable, read_dataset

    ds = read_dataset(args.file)
    name = ds.attrs.get("study")
    if not isinstance(name, str) or not name:
        raise OutputError(f"{args.file}: no 'study' attribute, so simkit cannot tell which study's figure to draw")
    try:
        study = get_study(name)
    except StudyError:
        raise OutputError(
            f"{args.file}: written by study {name!r}, which is not registered here (known: {', '.join(study_names())})"
        ) from None
    if ds.attrs.get("store") == "summary":
        raise OutputError(f"{args.file}: keeps only summaries (--store summary); redraw from a run with --store full")
    try:
        theory = study.theory(ds)
        expected = [] if theory is None else [n for n in theory.data_vars if n not in ds.data_vars]
    except (KeyError, ValueError, TypeError, IndexError):
        expected = []  # the data variables themselves are missing: reported below
    if expected:
        raise OutputError(f"{args.file}: lacks the theory variable(s) {', '.join(expected)} of {study.name}")
    sim = [n for n, v in ds.data_vars.items() if study.rep_dim in v.dims]
    if sim and all(bool(ds[n].isnull().all()) for n in sim):
        raise OutputError(f"{args.file}: every simulated value is NaN ({', '.join(sim)}): nothing to plot")
    folder = ensure_writable(args.out) if args.out else Path(args.file).resolve().parent
    try:
        fig = study.plot(ds)
    except KeyError as exc:
        import re

        text = str(exc.args[0]) if exc.args else "?"
        named = re.search(r"named '([^']+)'", text)
        missing = named.group(1) if named else text
        raise OutputError(f"{args.file}: lacks the variable {missing!r}, which the {study.name} figure needs") from None
    except (ValueError, TypeError, IndexError) as exc:
        raise OutputError(
            f"{args.file}: does not hold what the {study.name} figure needs "
            f"({type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''})"
        ) from None
    try:
        paths = save_figure(fig, folder / Path(args.file).stem)
    except OSError as exc:
        raise OutputError(
            f"cannot write the figure in {folder}: {exc.strerror or type(exc).__name__} (the partial file was removed)"
        ) from None
    for path in paths:
        print(f"wrote {path}")
    return 0


def _cmd_info(args) -> int:
    import platform

    import numba
    import numpy
    import xarray

    from . import __version__
    from .backends import cuda_available, cuda_simulated, gpu_name, resolve_backend
    from .threads import cores

    print(f"simkit {__version__}  (python {platform.python_version()}, {platform.machine()})")
    print(f"numpy {numpy.__version__}, numba {numba.__version__}, xarray {xarray.__version__}")
    print(f"cores: {cores()}, numba threads: {numba.config.NUMBA_NUM_THREADS}")
    gpu = gpu_name()
    print(f"backends: numpy, numba{', cuda' if cuda_available() else ''}; auto -> {resolve_backend('auto')}")
    print(f"gpu: {gpu or 'none'}{' (NUMBA_ENABLE_CUDASIM=1)' if cuda_simulated() else ''}")
    try:
        import cupy

        print(f"cupy {cupy.__version__}")
    except ImportError:
        print("cupy: not installed (pip install 'simkit[gpu]')")
    try:
        import distributed

        print(f"dask.distributed {distributed.__version__}")
    except ImportError:
        print("dask.distributed: not installed (pip install 'simkit[cluster]')")
    return 0


def _cmd_bench(args) -> int:
    import importlib

    families = [args.family] if args.family else list(FAMILIES)
    for family in families:
        try:
            module = importlib.import_module(f"simkit.{family}.bench")
        except ModuleNotFoundError:
            print(f"{family}: no benchmark yet")
            continue
        print(module.main(quick=args.quick))
    return 0


def _cmd_gpu_check(args) -> int:
    from . import gpucheck

    return gpucheck.run(args)


_COMMANDS = {
    "describe": _cmd_describe,
    "gpu-check": _cmd_gpu_check,
    "list": _cmd_list,
    "run": _cmd_run,
    "reproduce": _cmd_reproduce,
    "plot": _cmd_plot,
    "info": _cmd_info,
    "bench": _cmd_bench,
}


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
