"""What a fresh web worker's interpreter has loaded after some work: for the tests that keep
heavy or risky libraries (parsers, zxcvbn) out of the process that serves reporters."""

from __future__ import annotations

import subprocess
import sys


def modules_loaded_after(work: str, modules: tuple[str, ...]) -> list[str]:
    """Which of ``modules`` are in ``sys.modules`` after a fresh interpreter has imported every
    blueprint (as a web worker has them) and run ``work`` (Python source; it may assert)."""
    code = (
        "import sys\nimport whistle.app\n"
        + work
        + f"\nprint(','.join(sorted(m for m in {modules!r} if m in sys.modules)))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    return [name for name in done.stdout.strip().split(",") if name]
