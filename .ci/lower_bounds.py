"""Pin every dependency (and the test extra) at its lower bound, for the lower-bounds CI job.

    python .ci/lower_bounds.py constraints   # pip constraints: name==lower bound, for every requirement
    python .ci/lower_bounds.py test          # the test extra to install, less the packages in
                                             # .ci/lower-bounds-skip.txt (they need more than the lowest stack)

The job installs these, so the `>=` bounds in pyproject.toml stay true.  Transitive packages whose
newest release no longer supports the lowest stack are pinned in .ci/lower-bounds-transitive.txt.
"""

import re
import sys
import tomllib
from pathlib import Path

root = Path(__file__).resolve().parents[1]
project = tomllib.loads((root / "pyproject.toml").read_text())["project"]
mode = sys.argv[1] if len(sys.argv) > 1 else "constraints"
skip = {
    line.split("#")[0].strip()
    for line in (root / ".ci" / "lower-bounds-skip.txt").read_text().splitlines()
    if line.split("#")[0].strip()
}
if mode == "test":
    for req in project["optional-dependencies"]["test"]:
        if re.match(r"[A-Za-z0-9_.\-]+", req).group(0) not in skip:
            print(req)
    sys.exit(0)
requirements = list(project["dependencies"]) + list(project["optional-dependencies"]["test"])
for req in requirements:
    match = re.fullmatch(r"([A-Za-z0-9_.\-]+)(\[[^\]]*\])?>=([0-9][^,;\s]*)", req.strip())
    if not match:
        sys.exit(f"cannot read a lower bound from {req!r}: write dependencies as name>=version")
    if match.group(1) not in skip:
        print(f"{match.group(1)}=={match.group(3)}")
for line in (root / ".ci" / "lower-bounds-transitive.txt").read_text().splitlines():
    if line.strip() and not line.startswith("#"):
        print(line.strip())
