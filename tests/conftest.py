"""Test configuration: the framework's demo study and helpers for running the CLI.

The whole suite is meant to run with ``NUMBA_ENABLE_CUDASIM=1`` (see README), so that the
``cuda`` backend runs in Numba's CUDA simulator; tests marked ``gpu`` need a real GPU.
"""

import os
import subprocess
import sys
from pathlib import Path

import pytest

SUPPORT = Path(__file__).parent / "support"
os.environ["SIMKIT_STUDIES"] = "demo_studies"
os.environ["PYTHONPATH"] = os.pathsep.join(filter(None, [str(SUPPORT), os.environ.get("PYTHONPATH", "")]))
sys.path.insert(0, str(SUPPORT))


def pytest_collection_modifyitems(config, items):
    from simkit.backends import _real_gpu

    if _real_gpu():
        return
    skip = pytest.mark.skip(reason="needs a real CUDA GPU")
    for item in items:
        if "gpu" in item.keywords:
            item.add_marker(skip)


def run_cli(*args, env=None, timeout=600):
    """Run ``python -m simkit ARGS`` in a subprocess; return the CompletedProcess."""
    full_env = dict(os.environ)
    full_env.update(env or {})
    for key, value in list(full_env.items()):
        if value is None:
            del full_env[key]
    return subprocess.run(
        [sys.executable, "-m", "simkit", *map(str, args)],
        capture_output=True, text=True, env=full_env, timeout=timeout,
    )


@pytest.fixture
def cli():
    return run_cli
