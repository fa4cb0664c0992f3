"""Benchmark of the irl family: ``python benchmarks/bench_irl.py [--quick]`` (same as ``simkit bench irl``)."""

import sys

from simkit.irl.bench import main

if __name__ == "__main__":
    print(main(quick="--quick" in sys.argv[1:]))
