"""Two real ``whistle`` commands started at the same moment, as two machines' timers would
(issue 18: the background jobs run on every machine at once).

Each is its own process with its own engine and connections, running the ``whistle`` command
group (whistle/cli.py) against the same database and instance folder. Both first do their
imports and make their app (settings, engine), as a timer's command does before its work,
then say they are ready and wait for a start file, which is made once both are ready: the
two commands start their work within a millisecond or so of each other, not one after the
other.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

# What each process runs: the imports, "ready", wait for "start", then the command.
_STARTER = """
import json, os, sys, time
from flask.cli import ScriptInfo
ready, start, timing = sys.argv[1:4]
import whistle.cli
batch = os.environ.get("WHISTLE_TEST_RETENTION_BATCH")
if batch:
    import whistle.retention.deletion as deletion
    deletion.run.__kwdefaults__["batch"] = int(batch)
app = whistle.cli._make_app()
open(ready, "w").close()
while not os.path.exists(start):
    time.sleep(0.001)
began = time.time()
try:
    whistle.cli.cli.main(sys.argv[4:], "whistle", obj=ScriptInfo(create_app=lambda: app))
finally:
    with open(timing, "w") as out:
        json.dump([began, time.time()], out)
"""


@dataclass
class Outcome:
    returncode: int
    stdout: str
    stderr: str
    began: float
    ended: float


def job_environment(instance: Path, database_url: str, **settings: str) -> dict[str, str]:
    """The environment of a machine of the deployment: its instance folder (shared here, as
    the key store and file store would be), the shared database, and ``settings`` as
    ``WHISTLE_<NAME>`` variables."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("WHISTLE_")}
    env["WHISTLE_INSTANCE"] = str(instance)
    env["WHISTLE_DATABASE_URL"] = database_url
    env["WHISTLE_ARGON2_PROFILE"] = "test"
    env["WHISTLE_BASE_URL"] = "http://localhost"
    env["PYTHONPATH"] = str(ROOT)  # this checkout's whistle/, whatever the venv points to
    for name, value in settings.items():
        env[f"WHISTLE_{name.upper()}"] = value
    return env


def run_twice_at_once(
    workdir: Path, env: dict[str, str], *args: str, timeout: float = 300
) -> list[Outcome]:
    """Run ``whistle ARGS`` in two processes started together; return both outcomes."""
    workdir.mkdir(parents=True, exist_ok=True)
    start = workdir / "start"
    processes = []
    for number in (1, 2):
        command = [
            sys.executable,
            "-c",
            _STARTER,
            str(workdir / f"ready-{number}"),
            str(start),
            str(workdir / f"timing-{number}.json"),
            *args,
        ]
        processes.append(
            subprocess.Popen(
                command,
                cwd=ROOT,
                env=env,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
        )
    try:
        deadline = time.monotonic() + 120
        while not all((workdir / f"ready-{n}").exists() for n in (1, 2)):
            if any(p.poll() is not None for p in processes) or time.monotonic() > deadline:
                break
            time.sleep(0.005)
        start.touch()
        results = [p.communicate(timeout=timeout) for p in processes]
    finally:
        for process in processes:
            if process.poll() is None:
                process.kill()
                process.wait()
    outcomes = []
    for number, process, (stdout, stderr) in zip((1, 2), processes, results, strict=True):
        timing = workdir / f"timing-{number}.json"
        began, ended = json.loads(timing.read_text()) if timing.exists() else (0.0, 0.0)
        outcomes.append(Outcome(process.returncode, stdout, stderr, began, ended))
    return outcomes


def overlapped(outcomes: list[Outcome]) -> bool:
    """Whether the two runs were under way at the same time."""
    first, second = outcomes
    return first.began < second.ended and second.began < first.ended
