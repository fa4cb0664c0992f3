#!/usr/bin/env bash
# GPU check, for a machine with a CUDA GPU and no network (the lent device machine):
#   bash scripts/gpu_check.sh            -> prints everything and writes benchmarks/results/gpu-<date>.txt
# It installs simkit without downloading anything, runs the GPU tests (pytest -m gpu) and the
# benchmarks (which include the cuda backend when a GPU is visible).
set -uo pipefail
cd "$(dirname "$0")/.."
mkdir -p benchmarks/results
report="benchmarks/results/gpu-$(date -u +%Y-%m-%d).txt"
{
    echo "# simkit GPU check, $(date -u +%Y-%m-%dT%H:%M:%SZ)"
    nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader 2>/dev/null || echo "nvidia-smi: not available"
    pip install --quiet --no-deps --no-build-isolation -e . 2>&1 | tail -n 2
    python -m simkit info
    echo "## pytest -m gpu"
    timeout 300 python -m pytest -m gpu -q -p no:cacheprovider 2>&1 | tail -n 30
    echo "## simkit bench --quick"
    timeout 240 python -m simkit bench --quick 2>&1
} 2>&1 | tee "$report"
echo "wrote $report"
