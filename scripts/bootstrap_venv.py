"""Create a virtualenv with pip, even where the system Python has no ensurepip.

Debian's python3 ships without `venv`'s pip unless python3-venv is installed; rather than
asking for root, fetch the pip wheel from PyPI (the only index we rely on) and install it with
itself. Standard library only: this runs before anything is installed.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import urllib.request
import venv
from pathlib import Path


def has_pip(python: Path) -> bool:
    answer = subprocess.run([python, "-m", "pip", "--version"], capture_output=True, check=False)
    return answer.returncode == 0


def main(target: str) -> int:
    folder = Path(target)
    python = folder / "bin" / "python"
    if python.exists() and has_pip(python):
        return 0
    try:
        venv.create(folder, with_pip=True, clear=python.exists())
    except subprocess.CalledProcessError:
        # ensurepip is missing (Debian without python3-venv): make the venv bare, then add pip.
        venv.create(folder, with_pip=False, clear=True)
    if has_pip(python):
        return 0
    with urllib.request.urlopen("https://pypi.org/pypi/pip/json", timeout=60) as answer:
        release = json.load(answer)
    wheel = next(item for item in release["urls"] if item["filename"].endswith(".whl"))
    with tempfile.TemporaryDirectory() as scratch:
        path = Path(scratch) / wheel["filename"]
        urllib.request.urlretrieve(wheel["url"], path)
        # A wheel is a zip that Python can run from: pip installs itself from its own wheel.
        subprocess.run([python, f"{path}/pip", "install", "--quiet", str(path)], check=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1] if len(sys.argv) > 1 else ".venv"))
