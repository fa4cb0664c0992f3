#!/usr/bin/env bash
# GPU check for a machine with a CUDA GPU and no network (the lent device machine):
#   bash scripts/gpu_check.sh [gpu-check options]
# A thin wrapper around `python -m simkit.gpucheck` (= `simkit gpu-check`): the compile table for the
# device, every study's quick grid on cuda against numba, `pytest -m gpu` and the GPU benchmarks, in one
# report benchmarks/results/gpu-check-<device>-<date>.md.  Nothing is installed from the network: if
# simkit is not importable, it is installed from this checkout with pip --no-index --no-deps.
set -uo pipefail
cd "$(dirname "$0")/.."
unset NUMBA_ENABLE_CUDASIM
if ! python -c "import simkit.kernels" 2>/dev/null; then
    pip install --quiet --no-index --no-deps --no-build-isolation -e . || exit 2
fi
exec python -m simkit.gpucheck "$@"
