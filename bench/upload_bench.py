"""Benchmark of one large upload through the README's deployment: nginx buffering the body in
front of gunicorn started with whistle/serving/gunicorn_conf.py, real HTTP, one report with
one big attachment.

Run from the repository root: ``.venv/bin/python bench/upload_bench.py`` (options: ``--mb`` (1024),
``--rate`` (client send rate in MB/s; 0 = as fast as it goes), ``--direct`` (no nginx: straight to
gunicorn), ``--workers`` (2), ``--file`` (upload that file instead of random bytes: a picture or
PDF, which the upload helper process cleans); ``--help`` lists them). 1 GiB at 2 MB/s takes about
nine minutes; ``--mb 100 --rate 2`` shows the same behaviour in under a minute. This is a script,
not a test; the figures go into docs/benchmarks.md ("Abuse and large uploads").

What it does, all on this machine: a temporary instance on a fresh PostgreSQL database
(random name, dropped at the end), limits raised to fit the file (``max_request_mb`` and the
organisation's per-file and per-report limits), Argon2id at the production defaults; gunicorn
with the README's command; nginx (``--direct`` skips it) with the README's proxy block on a
free port, without TLS, its body buffer in the temporary folder. The client sends the report
form with one attachment of ``--mb`` MiB of random bytes (made on the fly, never whole in
memory), paced to ``--rate``, and counts success only when the case code is shown.

While it runs, every 50 ms it samples each gunicorn worker's resident memory plus that of the
worker's own child processes (a helper process, if the app runs one): the peak of that sum, for
the worker that served the upload, is the figure the issue bounds (150 MB). It also samples
whether any gunicorn worker is busy in the app while nginx is still receiving the body (it
should not be: the body is on nginx's disk until it is whole).

Nothing printed contains a case code or report text.
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import json
import mimetypes
import os
import re
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from importlib.metadata import version
from pathlib import Path
from types import FrameType

from benchkit import argon2_costs, cpu_model, gunicorn_workers, make_bench_organisation, memory_gib
from benchkit import postgresql_url as postgresql

from whistle.core.db import make_engine
from whistle.core.instance import init_instance
from whistle.core.schema import upgrade

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
SLUG = "uploadfirma"
CODE_RE = re.compile(r'<p class="code" lang="en">([A-Z0-9-]+)</p>')
MiB = 2**20

NGINX_CONF = """
worker_processes 1;
daemon off;
pid {root}/nginx.pid;
error_log {root}/nginx-error.log crit;
{user}
events {{ worker_connections 256; }}
http {{
    access_log off;
    client_body_temp_path {root}/bodies 1 2;
    proxy_temp_path {root}/proxy;
    fastcgi_temp_path {root}/fastcgi;
    uwsgi_temp_path {root}/uwsgi;
    scgi_temp_path {root}/scgi;
    server {{
        listen 127.0.0.1:{port};
        client_max_body_size {body_mb}m;
        client_body_timeout 60s;
        proxy_request_buffering on;
        location / {{
            proxy_pass http://127.0.0.1:{upstream};
            proxy_http_version 1.1;
            proxy_set_header Host $host;
            proxy_set_header X-Forwarded-For $remote_addr;
            proxy_set_header X-Forwarded-Proto $scheme;
            proxy_set_header X-Forwarded-Host $host;
            proxy_read_timeout 300s;
        }}
    }}
}}
"""


def free_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def rss_kib(pid: int, field: str = "Rss") -> int:
    """Resident memory of ``pid`` (KiB): ``Rss`` counts the shared libraries' pages in every
    process that maps them; ``Pss`` shares them out, what the process adds to the machine."""
    with contextlib.suppress(OSError, ValueError, IndexError):
        for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1])
    return 0


def high_water(pid: int) -> int:
    """The highest resident memory ``pid`` has had since it started (VmHWM, KiB)."""
    with contextlib.suppress(OSError, ValueError, IndexError):
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    return 0


def children(pid: int) -> list[int]:
    """Every descendant of ``pid`` (a worker's helper processes and theirs)."""
    found: list[int] = []
    with contextlib.suppress(OSError):
        for task in Path(f"/proc/{pid}/task").iterdir():
            with contextlib.suppress(OSError):
                for child in (task / "children").read_text().split():
                    found.append(int(child))
                    found.extend(children(int(child)))
    return found


@dataclass
class Memory:
    """Per worker: resting RSS, and the peak of worker + its helpers (KiB)."""

    resting: dict[int, int] = field(default_factory=dict)
    peak: dict[int, int] = field(default_factory=dict)
    resting_pss: dict[int, int] = field(default_factory=dict)
    peak_pss: dict[int, int] = field(default_factory=dict)
    # The worker's own high-water mark (VmHWM), which no 50 ms sample can miss.
    high_water: dict[int, int] = field(default_factory=dict)
    # The worker's RSS plus its helpers' high-water marks (VmHWM), at each sample: a helper's
    # peak between two samples still counts (the worker only waits while its helper works).
    peak_with_helper_high_water: dict[int, int] = field(default_factory=dict)
    helpers_seen: int = 0
    busy_while_receiving: int = 0
    samples: int = 0


def sample(master: int, memory: Memory, stop: threading.Event, receiving: threading.Event) -> None:
    while not stop.wait(0.05):
        memory.samples += 1
        for worker in gunicorn_workers(master):
            helpers = children(worker)
            memory.helpers_seen = max(memory.helpers_seen, len(helpers))
            worker_rss = rss_kib(worker)
            helper_rss = {h: rss_kib(h) for h in helpers}
            total = worker_rss + sum(helper_rss.values())
            memory.peak[worker] = max(memory.peak.get(worker, 0), total)
            pss = rss_kib(worker, "Pss") + sum(rss_kib(h, "Pss") for h in helpers)
            memory.peak_pss[worker] = max(memory.peak_pss.get(worker, 0), pss)
            memory.high_water[worker] = max(memory.high_water.get(worker, 0), high_water(worker))
            # A helper that ends between the two reads has no high-water mark left to read.
            with_marks = worker_rss + sum(max(helper_rss[h], high_water(h)) for h in helpers)
            memory.peak_with_helper_high_water[worker] = max(
                memory.peak_with_helper_high_water.get(worker, 0), with_marks
            )
            if receiving.is_set() and _on_cpu(worker):
                memory.busy_while_receiving += 1


def _on_cpu(pid: int) -> bool:
    """A thread of ``pid`` running (state R) other than gunicorn's idle loop."""
    running = 0
    with contextlib.suppress(OSError):
        for task in Path(f"/proc/{pid}/task").iterdir():
            with contextlib.suppress(OSError):
                raw = (task / "stat").read_text()
                if raw[raw.rindex(")") + 2] == "R":
                    running += 1
    return running > 0


class PacedBody:
    """``size`` bytes of file content inside a form, read in chunks, paced to ``rate`` bytes
    per second (0: unpaced): random bytes, or the file ``source`` read from disk. Never held
    whole in memory."""

    def __init__(
        self, head: bytes, size: int, tail: bytes, rate: float, source: Path | None = None
    ) -> None:
        self.parts = [head, tail]
        self.size = size
        self.rate = rate
        self.sent = 0
        self.block = os.urandom(MiB)
        self.source = source.open("rb") if source is not None else None
        self.length = len(head) + size + len(tail)

    def __iter__(self) -> Iterator[bytes]:
        start = time.perf_counter()
        yield self.parts[0]
        left = self.size
        while left:
            if self.source is not None:
                chunk = self.source.read(min(left, 256 * 1024))
            else:
                chunk = self.block[: min(left, 256 * 1024)]
                # A different block each MiB, so nothing compresses or deduplicates.
                if self.sent % MiB == 0:
                    self.block = os.urandom(MiB)
            left -= len(chunk)
            self.sent += len(chunk)
            yield chunk
            if self.rate:
                ahead = self.sent / self.rate - (time.perf_counter() - start)
                if ahead > 0:
                    time.sleep(ahead)
        if self.source is not None:
            self.source.close()
        yield self.parts[1]


@dataclass
class Result:
    status: int = 0
    code_shown: bool = False
    seconds: float = 0.0
    problem: str = ""


def upload(
    port: int, size: int, rate: float, receiving: threading.Event, source: Path | None = None
) -> Result:
    result = Result()
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=900)
    try:
        connection.request("GET", f"/o/{SLUG}/report", headers={"Accept-Language": "en"})
        form = connection.getresponse()
        page = form.read().decode()
        cookie = (form.headers.get("Set-Cookie") or "").split(";", 1)[0]
        token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page) or re.search(
            r'name="csrf_token" value="([^"]+)"', page
        )
        category = re.search(r'<option value="([1-9][0-9]*)"', page)
        if token is None or category is None:
            result.problem = "form page without CSRF token or category"
            return result
        connection.close()
        boundary = f"----whistle-upload-{secrets.token_hex(8)}"
        name, kind = "fake-recording.mp4", "video/mp4"
        if source is not None:
            name = "fake-" + source.name
            kind = mimetypes.guess_type(source.name)[0] or "application/octet-stream"
        fields = {
            "csrf_token": token.group(1),
            "category": category.group(1),
            "what": "Fake upload benchmark report: an invented recording, nothing real.",
            "identity": "anonymous",
        }
        head = (
            b"".join(
                f'--{boundary}\r\nContent-Disposition: form-data; name="{k}"\r\n\r\n'
                f"{v}\r\n".encode()
                for k, v in fields.items()
            )
            + (
                f'--{boundary}\r\nContent-Disposition: form-data; name="attachments"; '
                f'filename="{name}"\r\nContent-Type: {kind}\r\n\r\n'
            ).encode()
        )
        tail = f"\r\n--{boundary}--\r\n".encode()
        body = PacedBody(head, size, tail, rate, source)
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=900)
        start = time.perf_counter()
        receiving.set()
        connection.putrequest("POST", f"/o/{SLUG}/report")
        for name, value in (
            ("Content-Type", f"multipart/form-data; boundary={boundary}"),
            ("Content-Length", str(body.length)),
            ("Cookie", cookie),
            ("Accept-Language", "en"),
        ):
            connection.putheader(name, value)
        connection.endheaders()
        for chunk in body:
            connection.send(chunk)
        receiving.clear()
        answer = connection.getresponse()
        answer.read()
        result.seconds = time.perf_counter() - start
        result.status = answer.status
        location = answer.headers.get("Location", "")
        cookie = (answer.headers.get("Set-Cookie") or cookie).split(";", 1)[0]
        connection.close()
        if answer.status == 303:
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
            connection.request("GET", location, headers={"Cookie": cookie})
            shown = connection.getresponse().read().decode()
            result.code_shown = CODE_RE.search(shown) is not None
    except (OSError, http.client.HTTPException) as exc:
        result.problem = f"connection: {type(exc).__name__}"
    finally:
        receiving.clear()
        connection.close()
    return result


def write_config(instance: Path, db_url: str, body_mb: int, port: int) -> None:
    with (instance / "config.toml").open("a", encoding="utf-8") as config:
        config.write(
            "\n# Written by bench/upload_bench.py\n"
            f'database_url = "{db_url}"\nargon2_profile = "production"\n'
            f"max_request_mb = {body_mb}\ntrusted_proxies = 1\n"
            f'base_url = "http://127.0.0.1:{port}"\nlog_level = "WARNING"\n'
        )


def raise_org_limits(instance: Path, file_mb: int) -> None:
    from benchkit import app_session
    from sqlalchemy import select

    from whistle.core.models import Organisation, OrgSetting

    with app_session(instance) as session:
        org = session.scalar(select(Organisation).where(Organisation.slug == SLUG))
        assert org is not None
        for key in ("upload_max_file_mb", "upload_max_total_mb"):
            session.merge(OrgSetting(org_id=org.id, key=key, value=json.dumps(file_mb)))
        session.commit()


def start(command: list[str], log: Path, env: dict[str, str]) -> subprocess.Popen[bytes]:
    with log.open("wb") as out:
        return subprocess.Popen(
            command,
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


def wait_for(port: int, path: str, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError, http.client.HTTPException):
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
            connection.request("GET", path)
            if connection.getresponse().status == 200:
                return
        time.sleep(0.2)
    raise RuntimeError(f"nothing answered on port {port}")


def stop(process: subprocess.Popen[bytes] | None) -> None:
    if process is not None and process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mb", type=int, default=1024, help="attachment size in MiB")
    parser.add_argument("--rate", type=float, default=0, help="client rate in MB/s (0: full)")
    parser.add_argument("--direct", action="store_true", help="no nginx: straight to gunicorn")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers")
    parser.add_argument(
        "--file",
        type=Path,
        help="upload this file (its name tells its type) instead of --mb of random bytes",
    )
    parser.add_argument(
        "--database-url",
        default=os.environ.get("WHISTLE_BENCH_DATABASE_URL", DEFAULT_ADMIN_URL),
        help="an existing database to run CREATE/DROP DATABASE from",
    )
    args = parser.parse_args()
    if args.file is not None:
        if not args.file.is_file():
            parser.error(f"--file: no such file: {args.file}")
        args.mb = max(1, -(-args.file.stat().st_size // MiB))
    if args.mb < 1 or args.rate < 0:
        parser.error("--mb at least 1, --rate not negative")
    if not args.direct and shutil.which("nginx") is None:
        parser.error("nginx is not installed (apt-get install nginx-light), or use --direct")
    return args


def interrupt(_signum: int, _frame: FrameType | None) -> None:
    raise KeyboardInterrupt


def main() -> int:
    args = parse_args()
    signal.signal(signal.SIGTERM, interrupt)
    print(f"machine: {len(os.sched_getaffinity(0))} cores, {cpu_model()}, {memory_gib():.0f} GiB")
    print(
        f"gunicorn {version('gunicorn')} (README command, {args.workers} workers), "
        + ("no proxy" if args.direct else "nginx " + nginx_version())
        + f"; {argon2_costs()}"
    )
    workdir = Path(tempfile.mkdtemp(prefix="whistle-upload-"))
    gunicorn = nginx = None
    good = False
    body_mb = args.mb + 16  # the form around the file
    try:
        with postgresql(args.database_url) as (db_url, description):
            instance = workdir / "instance"
            init_instance(instance)
            engine = make_engine(db_url)
            upgrade(engine)
            engine.dispose()
            app_port, proxy_port = free_port(), free_port()
            port = app_port if args.direct else proxy_port
            write_config(instance, db_url, body_mb, port)
            make_bench_organisation(instance, SLUG)
            raise_org_limits(instance, body_mb)
            env = {k: v for k, v in os.environ.items() if not k.startswith("WHISTLE_")}
            env["WHISTLE_INSTANCE"] = str(instance)
            env["PYTHONPATH"] = str(ROOT)
            gunicorn_bin = Path(sys.executable).parent / "gunicorn"
            gunicorn = start(
                [
                    str(gunicorn_bin),
                    "-c",
                    "python:whistle.serving.gunicorn_conf",
                    "--bind",
                    f"127.0.0.1:{app_port}",
                    "--workers",
                    str(args.workers),
                    "wsgi:app",
                ],
                workdir / "gunicorn.log",
                env,
            )
            wait_for(app_port, "/healthz")
            if not args.direct:
                nginx = start_nginx(workdir, proxy_port, app_port, body_mb)
                wait_for(proxy_port, "/healthz")
            print(
                f"{description}; uploading "
                + (f"{args.file.name} ({args.mb} MiB)" if args.file else f"{args.mb} MiB")
                + " at "
                + (f"{args.rate:g} MB/s" if args.rate else "full speed"),
                flush=True,
            )
            time.sleep(1)
            memory = Memory()
            for worker in gunicorn_workers(gunicorn.pid):
                helpers = children(worker)
                memory.resting[worker] = rss_kib(worker) + sum(rss_kib(h) for h in helpers)
                memory.resting_pss[worker] = rss_kib(worker, "Pss") + sum(
                    rss_kib(h, "Pss") for h in helpers
                )
            sampling, receiving = threading.Event(), threading.Event()
            sampler = threading.Thread(
                target=sample, args=(gunicorn.pid, memory, sampling, receiving), daemon=True
            )
            sampler.start()
            size = args.file.stat().st_size if args.file else args.mb * MiB
            result = upload(port, size, args.rate * 1e6, receiving, args.file)
            sampling.set()
            sampler.join()
            good = report(args, result, memory, workdir / "gunicorn.log")
    except KeyboardInterrupt:
        print("\ninterrupted; cleaning up", file=sys.stderr)
    finally:
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        stop(nginx)
        stop(gunicorn)
        shutil.rmtree(workdir, ignore_errors=True)
    return 0 if good else 1


def nginx_version() -> str:
    found = subprocess.run(["nginx", "-v"], capture_output=True, text=True, check=False)
    return found.stderr.strip().rsplit("/", 1)[-1]


def start_nginx(workdir: Path, port: int, upstream: int, body_mb: int) -> subprocess.Popen[bytes]:
    root = workdir / "nginx"
    for name in ("bodies", "proxy", "fastcgi", "uwsgi", "scgi"):
        (root / name).mkdir(parents=True, exist_ok=True)
    conf = root / "nginx.conf"
    user = "user root root;" if os.geteuid() == 0 else ""
    conf.write_text(
        NGINX_CONF.format(root=root, port=port, upstream=upstream, body_mb=body_mb, user=user)
    )
    return start(["nginx", "-c", str(conf), "-p", str(root)], root / "stdout.log", dict(os.environ))


def report(args: argparse.Namespace, result: Result, memory: Memory, log: Path) -> bool:
    size = args.file.stat().st_size if args.file else args.mb * MiB
    mb = size / 1e6
    what = f"{args.file.name} ({mb:,.1f} MB)" if args.file else f"{args.mb} MiB"
    print(
        f"\nupload of {what}: HTTP {result.status}, case code "
        f"{'shown' if result.code_shown else 'NOT shown'}, {result.seconds:.1f} s "
        f"({mb / result.seconds if result.seconds else 0:.1f} MB/s end to end)"
        + (f"; problem: {result.problem}" if result.problem else "")
    )
    resting = max(memory.resting.values(), default=0)
    # The worker that grew most is the one that served the upload (only workers that were
    # already there at rest count: a replaced worker would be a finding of its own). The
    # form page and the upload may reach different workers, and a 50 ms sample can miss a
    # key derivation, so growth is judged by the high-water marks, which miss nothing.
    served = [w for w in memory.peak if w in memory.resting] or list(memory.peak)

    def growth(worker: int) -> int:
        marks = max(
            memory.peak[worker],
            memory.high_water.get(worker, 0),
            memory.peak_with_helper_high_water.get(worker, 0),
        )
        return marks - memory.resting.get(worker, 0)

    busiest = max(served, key=growth)
    if set(memory.peak) - set(memory.resting):
        print("  a gunicorn worker appeared during the upload (one was replaced)")
    peak = memory.peak[busiest]
    print(
        f"memory (RSS, MiB): worker at rest {resting / 1024:.0f}; peak of the worker that "
        f"served the upload plus its helper processes {peak / 1024:.0f} "
        f"(= {peak * 1024 / 1e6:.0f} MB, target < 150 MB); the worker's own high-water mark "
        f"{memory.high_water.get(busiest, 0) / 1024:.0f}; "
        f"helper processes seen at once: {memory.helpers_seen}; {memory.samples} samples"
    )
    if memory.helpers_seen:
        marks = memory.peak_with_helper_high_water.get(busiest, 0)
        print(
            f"  the worker's RSS plus its helpers' own high-water marks (a helper's peak "
            f"between two samples counted): {marks / 1024:.0f} MiB (= {marks * 1024 / 1e6:.0f} MB)"
        )
    print(
        f"memory (PSS, MiB, shared pages shared out): worker at rest "
        f"{memory.resting_pss.get(busiest, 0) / 1024:.0f}; peak with helpers "
        f"{memory.peak_pss.get(busiest, 0) / 1024:.0f}"
    )
    if not args.direct:
        print(
            "samples with a gunicorn worker on the CPU while nginx was still receiving: "
            f"{memory.busy_while_receiving}"
        )
    lines = log.read_text(errors="replace").splitlines()
    problems = [line for line in lines if "WORKER TIMEOUT" in line or "unhandled error" in line]
    print("gunicorn log: " + ("no worker timeout, no unhandled error" if not problems else ""))
    for line in problems[:5]:
        print(f"  {line}")
    return result.code_shown and not problems


if __name__ == "__main__":
    sys.exit(main())
