"""Bandit simulator throughput (pulls/s, rounds/s); see simkit.bandits.bench.

Usage: python benchmarks/bench_bandits.py [--quick]
"""

import sys

from simkit.bandits.bench import main

if __name__ == "__main__":
    print(main(quick="--quick" in sys.argv[1:]))
