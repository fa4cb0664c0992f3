"""The device memory layout of :func:`simkit.launch.launch` (item index fastest on the GPU).

Kernels index per-item arrays by the work item first; on ``cuda`` the launcher stores them with
the item axis fastest and hands the kernel a strided view of the same logical shape.  These
tests run in Numba's CUDA simulator (``NUMBA_ENABLE_CUDASIM=1``, as the whole suite does) and
check the round trip (inputs in, outputs back, nothing transposed by mistake), the strides the
kernel sees, the recorded argument types ``simkit gpu-check --compile-only`` compiles for, and
that the CPU path is untouched.
"""

from __future__ import annotations

import numpy as np
import pytest
from numba import config, cuda
from simkit.kernels.targets import cpu_launcher, cuda_launcher, device

from simkit import launch as launch_mod
from simkit.launch import launch, per_item

pytestmark = pytest.mark.skipif(not config.ENABLE_CUDASIM, reason="runs the CUDA path in Numba's CUDA simulator")

ITEMS = 5


@device
def _item_body(state, table, scale, work, out):
    # every element gets a value that names its (item, row, column), so a transposition shows
    for i in range(out.shape[0]):
        for j in range(out.shape[1]):
            work[i, j] = table[i, j] * scale + out[i, j]
            out[i, j] = work[i, j] + 1000.0 * state[0]
    state[0] = state[0] + 1
    state[1] = state[1] + 2


@cpu_launcher
def _layout_cpu(states, table, scale, work, out):
    for r in range(states.shape[0]):
        _item_body(states[r], table[r], scale, work[r], out[r])


@cuda_launcher
def _layout_cuda(states, table, scale, work, out):
    r = cuda.grid(1)
    if r < states.shape[0]:
        _item_body(states[r], table[r], scale, work[r], out[r])


def _inputs():
    states = np.arange(2 * ITEMS, dtype=np.uint64).reshape(ITEMS, 2)
    table = np.arange(ITEMS * 3 * 4, dtype=float).reshape(ITEMS, 3, 4)
    out = np.linspace(0.0, 1.0, ITEMS * 3 * 4).reshape(ITEMS, 3, 4)
    return states, table, out


def _expected(states, table, out):
    return table * 2.0 + out + 1000.0 * states[:, 0, None, None].astype(float)


@pytest.mark.parametrize("layout", ["item-fastest", "as-given"])
def test_cuda_round_trip_matches_cpu(layout):
    states, table, out = _inputs()
    expected = _expected(states, table, out)
    kept = (states.copy(), table.copy())
    got = out.copy()
    launch(
        _layout_cuda,
        "cuda",
        states=states,
        args=(per_item(table), 2.0),
        scratch=((ITEMS, 3, 4),),
        outputs=(got,),
        layout=layout,
    )
    np.testing.assert_array_equal(got, expected)
    cpu = out.copy()
    launch(_layout_cpu, "numba", states=states, args=(per_item(table), 2.0), scratch=((ITEMS, 3, 4),), outputs=(cpu,))
    np.testing.assert_array_equal(cpu, expected)
    np.testing.assert_array_equal(states, kept[0])  # the kernel advanced a copy
    np.testing.assert_array_equal(table, kept[1])


def test_item_axis_is_fastest_on_the_device():
    a = np.arange(ITEMS * 3 * 4, dtype=float).reshape(ITEMS, 3, 4)
    view = launch_mod._to_device_item_fastest(cuda, a)
    assert view.shape == a.shape
    # neighbouring items (threads) are 8 bytes apart; then rows and columns of one item
    assert view.strides == (8, 4 * ITEMS * 8, ITEMS * 8)
    np.testing.assert_array_equal(launch_mod._to_host(view), a)
    flat = launch_mod._to_device_item_fastest(cuda, np.arange(ITEMS, dtype=float))
    assert flat.strides == (8,)


def test_per_item_arrays_must_lead_with_the_items():
    states, table, out = _inputs()
    with pytest.raises(ValueError, match="does not lead with the 5 work items"):
        launch(
            _layout_cuda,
            "cuda",
            states=states,
            args=(per_item(table[:3]), 2.0),
            scratch=((ITEMS, 3, 4),),
            outputs=(out,),
        )
    with pytest.raises(ValueError, match="layout must be one of"):
        launch(_layout_cuda, "cuda", states=states, args=(per_item(table), 2.0), outputs=(out,), layout="rows")


def test_recorded_signature_is_the_strided_view():
    states, table, out = _inputs()
    with launch_mod.recording() as rec:
        launch(
            _layout_cuda,
            "cuda",
            states=states,
            args=(per_item(table), 2.0),
            scratch=((ITEMS, 3, 4),),
            outputs=(out,),
        )
    (entry,) = rec.launches
    layouts = [getattr(t, "layout", None) for t in entry.signature]
    # states (items, 2) -> "F"; the 3-D table, work and output -> "A"; the scalar has no layout
    assert layouts == ["F", "A", None, "A", "A"]
    with launch_mod.recording() as rec:
        launch(_layout_cuda, "cuda", states=states, args=(per_item(table), 2.0), outputs=(out,), layout="as-given")
    assert [getattr(t, "layout", None) for t in rec.launches[0].signature] == ["C", "C", None, "C"]


def test_the_device_view_outside_the_simulator():
    """The real-GPU path of the layout (a ``DeviceNDArray`` over the same memory), checked without a GPU.

    ``item_first_view`` builds the strided view from the buffer's device pointer only, so a stand-in
    buffer (a pointer value, shape, strides) shows what a kernel launch would pass: the pointer, the
    item-first shape and the item-fastest strides, typed as layout ``A``.  Runs in a subprocess
    without ``NUMBA_ENABLE_CUDASIM`` (the simulator replaces ``numba.cuda.cudadrv``).
    """
    import os
    import subprocess
    import sys
    import textwrap

    code = textwrap.dedent(
        """
        import numpy as np
        from simkit.launch import item_first_view

        class Pointer:
            class device_ctypes_pointer:
                value = 4096

        buffer = np.zeros((4, 5, 7))  # (rows, columns, items) in C order
        base = type("Base", (), {"shape": buffer.shape, "strides": buffer.strides, "dtype": buffer.dtype,
                                 "gpu_data": Pointer()})()
        view = item_first_view(base)
        shim = view._strided_memory_view_shim  # what numba-cuda passes to the kernel
        print(view.shape, view.strides, view._numba_type_.layout, shim.ptr, shim._layout.strides_in_bytes)
        """
    )
    env = {k: v for k, v in os.environ.items() if k != "NUMBA_ENABLE_CUDASIM"}
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.split("\n")[0] == "(7, 4, 5) (8, 280, 56) A 4096 (8, 280, 56)"
