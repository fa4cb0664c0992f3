"""The README's Python snippet works pasted into ``python`` at the repository root."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _python_blocks():
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    return re.findall(r"```python\n(.*?)```", text, flags=re.S)


def test_readme_has_a_python_snippet():
    assert _python_blocks(), "README.md has no ```python block"


def test_readme_snippet_runs_from_the_repository_root():
    code = "\n".join(_python_blocks())
    # `python -` reads the code from stdin as a pasted session would: sys.path[0] is the
    # current folder, the repository root, so the source folder simkit/ is what is imported
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "SIMKIT_STUDIES")}
    proc = subprocess.run(
        [sys.executable, "-"], input=code, text=True, capture_output=True, cwd=ROOT, env=env, timeout=600
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
