"""Benchmarks of the regression family: ``python benchmarks/bench_regression.py [--quick]``.

Same report as ``simkit bench regression`` (see :mod:`simkit.regression.bench`).
"""

import argparse

from simkit.regression.bench import main

if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="smaller sizes (seconds instead of minutes)")
    print(main(quick=parser.parse_args().quick))
