"""Print pip constraints pinning every dependency (and the test extra) at its lower bound.

The lower-bounds CI job installs these, so the `>=` bounds in pyproject.toml stay true.
Transitive packages whose newest release no longer supports the lowest stack are pinned in
.ci/lower-bounds-transitive.txt.
"""

import re
import sys
import tomllib
from pathlib import Path

root = Path(__file__).resolve().parents[1]
project = tomllib.loads((root / "pyproject.toml").read_text())["project"]
requirements = list(project["dependencies"]) + list(project["optional-dependencies"]["test"])
for req in requirements:
    match = re.fullmatch(r"([A-Za-z0-9_.\-]+)(\[[^\]]*\])?>=([0-9][^,;\s]*)", req.strip())
    if not match:
        sys.exit(f"cannot read a lower bound from {req!r}: write dependencies as name>=version")
    print(f"{match.group(1)}=={match.group(3)}")
for line in (root / ".ci" / "lower-bounds-transitive.txt").read_text().splitlines():
    if line.strip() and not line.startswith("#"):
        print(line.strip())
