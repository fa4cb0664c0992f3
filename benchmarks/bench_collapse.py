"""Benchmark of the collapse family: ``python benchmarks/bench_collapse.py [--quick]`` (same as ``simkit bench collapse``)."""

import sys

from simkit.collapse.bench import main

if __name__ == "__main__":
    print(main(quick="--quick" in sys.argv[1:]))
