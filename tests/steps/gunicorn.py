"""A real gunicorn, started the way the README's production section says (its config module,
``whistle/serving/gunicorn_conf.py``), on a free loopback port, for the tests of the serving
set-up and the abuse suite. Its access log (stdout) and error log (stderr) go to files."""

from __future__ import annotations

import contextlib
import http.client
import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
CONFIG = "python:whistle.serving.gunicorn_conf"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def readme_command(port: int, workers: int) -> list[str]:
    """The README's command (``--bind`` and ``--workers`` as an operator would set them)."""
    gunicorn = Path(sys.executable).parent / "gunicorn"
    program = [str(gunicorn)] if gunicorn.exists() else [sys.executable, "-m", "gunicorn"]
    return [
        *program,
        "-c",
        CONFIG,
        "--bind",
        f"127.0.0.1:{port}",
        "--workers",
        str(workers),
        "wsgi:app",
    ]


@dataclass
class Gunicorn:
    process: subprocess.Popen[bytes]
    port: int
    access_log: Path
    error_log: Path

    def logs(self) -> str:
        """Both logs as text (read after :meth:`stop`, so every line is flushed)."""
        return "\n".join(
            path.read_text(encoding="utf-8", errors="replace")
            for path in (self.access_log, self.error_log)
        )

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)


def start_gunicorn(instance: Path, logs: Path, *, workers: int = 2) -> Gunicorn:
    """gunicorn serving the deployment in ``instance``; returns once ``/healthz`` answers."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("WHISTLE_", "GUNICORN"))}
    env["WHISTLE_INSTANCE"] = str(instance)
    env["PYTHONPATH"] = str(ROOT)  # this checkout's whistle/, whatever the venv points to
    logs.mkdir(parents=True, exist_ok=True)
    access, error = logs / "access.log", logs / "error.log"
    with access.open("wb") as out, error.open("wb") as err:
        process = subprocess.Popen(
            readme_command(port, workers),
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=err,
            start_new_session=True,
        )
    server = Gunicorn(process, port, access, error)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(
                f"gunicorn exited with {process.returncode}: {server.logs()[-2000:]}"
            )
        with contextlib.suppress(OSError, http.client.HTTPException):
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
            try:
                connection.request("GET", "/healthz")
                if connection.getresponse().status == 200:
                    return server
            finally:
                connection.close()
        time.sleep(0.1)
    server.stop()
    raise RuntimeError("gunicorn did not answer /healthz within 60 s")
