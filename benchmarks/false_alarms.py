"""Measure every check's false-alarm rate: run each study at its quick settings over many seeds.

Each check of a correct simulation should fail rarely (the tolerances aim at a family-wise rate
below 0.1% per check for within-Monte-Carlo-error checks); an ``inconclusive`` outcome is not a
false alarm.  Runs at the quick replications and at half of them, seeds 0..S-1, and appends one
JSON line per (study, reps, seed) to ``--log`` so an interrupted measurement keeps what it has;
``--report`` turns the log into a Markdown table.

    python benchmarks/false_alarms.py --seeds 20 --log fa.jsonl
    python benchmarks/false_alarms.py --report fa.jsonl > benchmarks/results/false-alarms.md
"""

from __future__ import annotations

import argparse
import collections
import json
import sys
import time


def measure(seeds: int, log: str, studies=None) -> None:
    import simkit
    from simkit.registry import all_studies

    chosen = [s for s in all_studies() if not studies or s.name in studies]
    done = set()
    try:
        with open(log) as fh:
            for line in fh:
                d = json.loads(line)
                done.add((d["study"], d["reps"], d["seed"]))
    except FileNotFoundError:
        pass
    for seed in range(seeds):
        for study in chosen:
            for reps in (study.quick_reps, max(2, study.quick_reps // 2)):
                if (study.name, reps, seed) in done:
                    continue
                start = time.perf_counter()
                try:
                    result = simkit.run_study(
                        study,
                        quick=True,
                        reps=reps,
                        seed=seed,
                        out=None,
                        progress=False,
                        backend="numba" if "numba" in study.backends else "numpy",
                    )
                    rows = [
                        {"name": c.name, "outcome": c.outcome, "value": c.value, "detail": c.detail}
                        for c in result.checks
                    ]
                    error = None
                except Exception as exc:  # recorded, so one broken study does not stop the measurement
                    rows, error = [], f"{type(exc).__name__}: {exc}"
                with open(log, "a") as fh:
                    fh.write(
                        json.dumps(
                            {
                                "study": study.name,
                                "reps": reps,
                                "seed": seed,
                                "checks": rows,
                                "error": error,
                                "seconds": time.perf_counter() - start,
                            }
                        )
                        + "\n"
                    )
                print(f"{study.name} reps={reps} seed={seed}: {time.perf_counter() - start:.1f} s", file=sys.stderr)


def report(log: str) -> str:
    counts = collections.defaultdict(lambda: collections.Counter())
    quick = {}
    errors = []
    with open(log) as fh:
        for line in fh:
            d = json.loads(line)
            quick.setdefault(d["study"], max(quick.get(d["study"], 0), d["reps"]))
            if d["error"]:
                errors.append(f"{d['study']} reps={d['reps']} seed={d['seed']}: {d['error']}")
            for c in d["checks"]:
                counts[(d["study"], c["name"], d["reps"])][c["outcome"]] += 1
    lines = ["| study | check | reps | seeds | fail | inconclusive | pass |", "|---|---|---|---|---|---|---|"]
    for (study, name, reps), c in sorted(counts.items()):
        n = sum(c.values())
        label = "quick" if reps == quick[study] else "half"
        lines.append(f"| {study} | {name} | {reps} ({label}) | {n} | {c['fail']} | {c['inconclusive']} | {c['pass']} |")
    if errors:
        lines += ["", "Runs that raised:", *[f"- {e}" for e in errors]]
    return "\n".join(lines)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--seeds", type=int, default=20)
    p.add_argument("--log", default="false-alarms.jsonl")
    p.add_argument("--study", action="append", default=None)
    p.add_argument("--report", metavar="LOG", default=None, help="print the Markdown table of LOG and exit")
    args = p.parse_args(argv)
    if args.report:
        print(report(args.report))
        return 0
    measure(args.seeds, args.log, args.study)
    return 0


if __name__ == "__main__":
    sys.exit(main())
