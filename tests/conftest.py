"""Test configuration: the framework's demo study and helpers for running the CLI.

The whole suite is meant to run with ``NUMBA_ENABLE_CUDASIM=1`` (see README), so that the
``cuda`` backend runs in Numba's CUDA simulator; tests marked ``gpu`` need a real GPU.

A test that takes a ``backend`` argument is run once per backend, with the backend's name in
the test id (``test_x[numba]``): by default ``numpy``, ``numba`` and ``cuda`` (``cuda`` is
skipped where neither a GPU nor the simulator is available); ``@pytest.mark.backends("numba",
"cuda")`` narrows the list.
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


BACKEND_NAMES = ("numpy", "numba", "cuda")


def pytest_configure(config):
    config.addinivalue_line("markers", "backends(*names): the backends a test's `backend` argument runs on")


def pytest_generate_tests(metafunc):
    if "backend" not in metafunc.fixturenames:
        return
    if any("backend" in _argnames(m) for m in metafunc.definition.iter_markers("parametrize")):
        return  # the test parametrises backend itself
    marker = metafunc.definition.get_closest_marker("backends")
    names = marker.args if marker else BACKEND_NAMES
    params = [pytest.param(name, id=name, marks=_cuda_skip() if name == "cuda" else ()) for name in names]
    metafunc.parametrize("backend", params)


def _argnames(marker):
    names = marker.args[0] if marker.args else marker.kwargs.get("argnames", "")
    return [n.strip() for n in names.split(",")] if isinstance(names, str) else list(names)


def _cuda_skip():
    from simkit.backends import cuda_available

    return pytest.mark.skipif(not cuda_available(), reason="no CUDA GPU (set NUMBA_ENABLE_CUDASIM=1 for the simulator)")


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
        capture_output=True,
        text=True,
        env=full_env,
        timeout=timeout,
    )


@pytest.fixture
def cli():
    return run_cli
