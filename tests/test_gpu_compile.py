"""Every CUDA kernel a study launches compiles for real GPUs (sm_80, sm_90): NVVM, then ``ptxas -v``.

No GPU is needed: ``simkit gpu-check --compile-only`` runs in a subprocess without
``NUMBA_ENABLE_CUDASIM`` (the simulator accepts Python that NVVM rejects; see
``test_a_kernel_only_the_simulator_accepts_fails``).  Needs numba-cuda with NVVM and ptxas (the
``test`` extra installs ``numba-cuda[cu12]``).
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import textwrap

import numpy as np
import pytest

pytest.importorskip("numba_cuda", reason="numba-cuda (the test extra) is needed to compile CUDA kernels")

ENV = {k: v for k, v in os.environ.items() if k != "NUMBA_ENABLE_CUDASIM"}
ROW = re.compile(
    r"^\| (\S+) \| (sm_\d+) \| (\d+|-) \| (\d+) / (\d+) \| (\d+|-) \| (\d+|-) \| (\d+) \| ([\d.]+)% \| ([^|]*?) \| (.*?) \| (.*) \|$"
)


@pytest.fixture(scope="module")
def table(tmp_path_factory):
    out = tmp_path_factory.mktemp("gpu-compile") / "table.md"
    proc = subprocess.run(
        [sys.executable, "-m", "simkit.gpucheck", "--compile-only", "--output", str(out)],
        capture_output=True,
        text=True,
        env=ENV,
        timeout=900,
    )
    return proc, out.read_text() if out.exists() else ""


def test_compile_only_exits_zero_and_writes_the_table(table):
    proc, text = table
    assert proc.returncode == 0, (proc.stdout + proc.stderr)[-3000:]
    assert text and text in proc.stdout
    assert "Studies that failed" not in text


def test_every_kernel_compiles_for_both_architectures_without_spills(table):
    _, text = table
    rows = [ROW.match(line) for line in text.splitlines() if line.startswith("| ") and "_cuda" in line]
    assert rows and all(rows), [line for line in text.splitlines() if line.startswith("| ")]
    seen = {}
    layouts_seen = {}
    for m in rows:
        kernel, arch, regs, stores, loads, stack, shared, block, occ, layouts, status, studies = m.groups()
        assert status == "ok", (kernel, arch, status)
        layouts_seen.setdefault(kernel, set()).add(layouts)
        assert int(stores) == 0 and int(loads) == 0, (kernel, arch)
        assert 0 < int(regs) <= 255 and 0 < float(occ) <= 100 and int(block) in (64, 128)
        assert studies, kernel
        seen.setdefault(kernel, set()).add(arch)
    expected = {
        "bandits_karmed.karmed_cuda",
        "bandits_linear.linear_cuda",
        "collapse_gaussian.gaussian_chain_cuda",
        "collapse_kde.kde_chain_cuda",
        "collapse_linear.linear_chain_cuda",
        "collapse_generator.generator_ridge_cuda",
        "irl_bellman.bellman_cuda",
        "regression_markov.markov_krr_cuda",
        "regression_fwht.fwht_cuda",
        "preference_bt.bt_newton_cuda",
        "preference_bt.mixup_cuda",
        "preference_bt.mixup_nodes_cuda",
    }
    assert expected <= set(seen)
    # per-item arrays reach the kernels as item-fastest strided views (F: 2-D, A: 3-D and more), except
    # in the Walsh-Hadamard transform, launched with layout="as-given" (its threads run along columns)
    for kernel, variants in layouts_seen.items():
        strided = any(("F" in v or "A" in v) for v in variants)
        assert strided == (kernel != "regression_fwht.fwht_cuda"), (kernel, variants)
    assert all(archs == {"sm_80", "sm_90"} for archs in seen.values()), seen
    for kernel in seen:  # every kernel above 64 registers says why
        regs = [int(m.group(3)) for m in rows if m.group(1) == kernel]
        if max(regs) > 64:
            assert f"`{kernel}` ({max(regs)} registers): not yet explained" not in text


BAD = '''
import numpy as np
from numba import cuda
from simkit.kernels.targets import cuda_launcher

@cuda_launcher
def scratch_cuda(out):
    """Allocates inside the kernel: the simulator runs it, NVVM cannot."""
    r = cuda.grid(1)
    if r < out.shape[0]:
        tmp = np.empty(3)
        tmp[0] = 1.0
        out[r] = tmp[0]
'''


def test_a_kernel_only_the_simulator_accepts_fails(tmp_path):
    (tmp_path / "bad_kernel_mod.py").write_text(BAD)
    from simkit.backends import cuda_simulated

    if cuda_simulated():  # the simulator happily runs it ...
        sys.path.insert(0, str(tmp_path))
        try:
            import bad_kernel_mod

            from simkit.launch import launch

            out = np.zeros(2)
            launch(bad_kernel_mod.scratch_cuda, "cuda", outputs=(out,), size=2)
            assert out.tolist() == [1.0, 1.0]
        finally:
            sys.path.remove(str(tmp_path))
            sys.modules.pop("bad_kernel_mod", None)
    script = textwrap.dedent(f"""
        import sys
        sys.path.insert(0, {str(tmp_path)!r})
        import numba, numpy as np
        import bad_kernel_mod
        from simkit.gpucheck import compile_launches, format_table
        from simkit.launch import Launch
        rows = compile_launches([Launch(bad_kernel_mod.scratch_cuda, (numba.typeof(np.zeros(2)),), 64, 2)], [(9, 0)])
        print(format_table(rows))
        raise SystemExit(0 if rows[0].status.startswith("NVVM failed") else 3)
    """)
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=ENV, timeout=600)
    assert proc.returncode == 0, (proc.stdout + proc.stderr)[-3000:]  # ... NVVM does not


def test_parse_ptxas_and_occupancy():
    from simkit.gpucheck import occupancy, parse_ptxas

    text = (
        "ptxas info    : Compiling entry function '_Z1kv' for 'sm_90'\n"
        "ptxas info    : Function properties for _Z1kv\n"
        "    40 bytes stack frame, 8 bytes spill stores, 4 bytes spill loads\n"
        "ptxas info    : Used 72 registers, used 0 barriers, 40 bytes cumulative stack size, 512 bytes smem\n"
        "ptxas info    : Function properties for __internal_accurate_pow\n"
        "    0 bytes stack frame, 0 bytes spill stores, 0 bytes spill loads\n"
    )
    assert parse_ptxas(text) == (72, 8, 4, 40, 512)
    # 72 registers -> 2304 per warp; 64-thread blocks (2 warps) -> 14 blocks -> 28 of 64 warps
    assert occupancy(72, 0, 64, (9, 0)) == pytest.approx(28 / 64)
    assert occupancy(32, 0, 128, (9, 0)) == 1.0
    assert occupancy(255, 0, 64, (8, 0)) == pytest.approx(8 / 64)
