"""Compiled kernels of simkit (installed as ``simkit.kernels``).

Kernel bodies are plain Python functions marked with :func:`~simkit.kernels.targets.device`;
:mod:`simkit.kernels.targets` compiles each body once per target (Numba CPU, Numba CUDA), so
the same source runs in a ``prange`` loop and in a CUDA grid.
"""
