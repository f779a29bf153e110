"""What the benchmark scripts share: the machine's description and a throw-away PostgreSQL
database that is dropped whatever happens (an error, Ctrl-C, SIGTERM)."""

from __future__ import annotations

import contextlib
import dataclasses
import os
import platform
import secrets
import shutil
import signal
import socket
import struct
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, text
from sqlalchemy.engine import make_url

from whistle.casefile import content
from whistle.core import trust
from whistle.core.db import make_engine, normalise_url


def cpu_model() -> str:
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or "unknown CPU"


def argon2_costs() -> str:
    """The production Argon2id costs, as every benchmark prints them: case codes and staff
    passwords have their own (crypto/kdf.py)."""
    from crypto import Argon2Params

    def said(params: Argon2Params) -> str:
        return f"t={params.time_cost}, m={params.memory_kib // 1024} MiB, p={params.parallelism}"

    return (
        f"Argon2id: case codes {said(Argon2Params.for_case_codes())}; "
        f"staff passwords {said(Argon2Params())}"
    )


def memory_gib() -> float:
    with contextlib.suppress(OSError, ValueError):
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return int(line.split()[1]) / 2**20
    return 0.0


@contextlib.contextmanager
def shielded() -> Iterator[None]:
    """Ctrl-C and SIGTERM wait while cleanup runs: a second Ctrl-C must not leave a database."""
    previous = (
        signal.signal(signal.SIGINT, signal.SIG_IGN),
        signal.signal(signal.SIGTERM, signal.SIG_IGN),
    )
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous[0])
        signal.signal(signal.SIGTERM, previous[1])


def admin_statement(admin_url: str, statement: str) -> None:
    admin = create_engine(normalise_url(admin_url), isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as connection:
            connection.execute(text(statement))
    finally:
        admin.dispose()


@contextlib.contextmanager
def postgresql_url(admin_url: str) -> Iterator[tuple[str, str]]:
    """A fresh database with a random name: (its URL, "PostgreSQL <version>"); dropped on the
    way out whatever happened."""
    name = f"whistle_bench_{secrets.token_hex(4)}"
    url = (
        make_url(normalise_url(admin_url)).set(database=name).render_as_string(hide_password=False)
    )
    created = False
    try:
        admin_statement(admin_url, f'CREATE DATABASE "{name}"')
        created = True
        probe = make_engine(url)
        try:
            with probe.connect() as connection:
                server = str(connection.scalar(text("SHOW server_version"))).split()[0]
        finally:
            probe.dispose()
        yield url, f"PostgreSQL {server}"
    finally:
        if created:
            with shielded():
                admin_statement(admin_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@contextlib.contextmanager
def postgresql(admin_url: str) -> Iterator[tuple[Engine, str]]:
    """As :func:`postgresql_url`, with an engine on it (disposed before the drop)."""
    with postgresql_url(admin_url) as (url, description):
        engine = make_engine(url)
        try:
            yield engine, description
        finally:
            engine.dispose()


# --- Shared by load_bench.py and fault_bench.py ---------------------------------------------
# Imports of the app stay inside the functions: export_bench.py's children import this module
# and measure their own memory.


@dataclasses.dataclass
class Handlers:
    """The bench organisation's key holders: user id -> private key (SECRET: memory only)."""

    keys: dict[int, Any]

    def __repr__(self) -> str:
        return f"Handlers({len(self.keys)} key holders)"


def make_bench_organisation(instance: Path, slug: str) -> Handlers:
    """An organisation with three key-holding handlers (one a lead), an admin and a recovery
    key, as tests/steps/factories.py makes; the handlers' private keys are kept in memory so the
    bench can open every stored report as a handler would. Passwords are random and thrown
    away: nobody signs in."""
    from crypto import Argon2Params, PrivateKey, wrap_private_key
    from whistle.app import create_app
    from whistle.core.clock import SystemClock
    from whistle.core.models import Membership, Role, User
    from whistle.core.org_keys import create_org_keys
    from whistle.core.organisations import create_organisation
    from whistle.core.runtime import runtime
    from whistle.keys import certification, first_use
    from whistle.staff.passwords import hash_password

    app = create_app(instance_path=instance)
    rt = runtime(app)
    clock = SystemClock()
    params = Argon2Params.for_tests()  # only the staff's own password wrap
    keys: dict[int, Any] = {}
    users: list[Any] = []
    try:
        with app.app_context(), rt.sessions() as session:
            org = create_organisation(session, clock, name="Benchfirma ApS", slug=slug)
            create_org_keys(session, clock, org, rt.settings.instance_key)
            people = (
                ("Hanne Handler", [Role.HANDLER]),
                ("Henrik Handler", [Role.HANDLER]),
                ("Lise Lead", [Role.LEAD, Role.HANDLER]),
                ("Adam Admin", [Role.ADMIN]),
            )
            for name, roles in people:
                password = secrets.token_urlsafe(16)
                private = PrivateKey.generate() if Role.ADMIN not in roles else None
                user = User(
                    email=f"{name.lower().replace(' ', '.')}@example.org",
                    display_name=name,
                    password_hash=hash_password(password, params),
                    public_key=private.public_key().to_bytes() if private else None,
                    wrapped_private_key=(
                        wrap_private_key(private, password, params) if private else None
                    ),
                    is_active=True,
                    created_at=clock.now(),
                )
                session.add(user)
                session.flush()
                if private is not None:
                    keys[user.id] = private
                for role in roles:
                    session.add(
                        Membership(
                            org_id=org.id, user_id=user.id, role=role, created_at=clock.now()
                        )
                    )
                users.append(user)
            session.commit()
            # As a real organisation: keys pinned, the lead trusted on first use, and the
            # handlers' keys certified by her (whistle/keys/certification.py).
            trust.pin_organisation(session, org)
            lead = users[2]
            first_use.trust_first_lead(
                session, clock, lead, keys[lead.id], instance_key=rt.settings.instance_key
            )
            for handler in users[:2]:
                certification.certify(
                    session, clock, org.id, lead, keys[lead.id], handler.id, compared=True
                )
    finally:
        rt.engine.dispose()
    return Handlers(keys)


@dataclasses.dataclass(repr=False)
class OpenedCase:
    """A stored case as a handler reads it (SECRET content: compare, never print)."""

    report: dict[str, Any]
    files: list[bytes]
    reporter_messages: list[str]


def app_session_info(instance: Path) -> dict[str, object]:
    """The ``Session.info`` the app gives its sessions for the deployment in ``instance``: the
    key pins and the key store (for a bench that makes its own ``Session(engine, info=...)``)."""
    from whistle.core.key_pins import session_info
    from whistle.core.keystore import KeyStore
    from whistle.core.settings import load_settings

    settings = load_settings(instance_path=instance)
    return {**session_info(instance), "keystore": KeyStore(settings.keystore_url)}


def app_session(instance: Path) -> Any:
    """A database session of the deployment in ``instance`` as the app makes them: with the
    key pins and the key store (whistle/core/db.py ``make_sessionmaker``). Close it when done."""
    from whistle.app import create_app
    from whistle.core.runtime import runtime

    return runtime(create_app(instance_path=instance)).sessions()


def open_as_handler(session: Any, store_root: Path, case: Any, handlers: Handlers) -> OpenedCase:
    """Open ``case`` with the first handler holding it, through the app's own readers: the
    report, every file (its authenticated plaintext) and the reporter's messages. Raises when
    any part does not open (a missing key, a missing or damaged file). ``session`` must be an
    app session (:func:`app_session`): the case keys are wrapped under keys in the key store."""
    from whistle.casefile import access as case_access
    from whistle.casefile.conversation import conversation, open_file, report_files
    from whistle.core.storage import FileStore

    keys = None
    for user_id, private in handlers.keys.items():
        try:
            keys = case_access.open_keys(session, case, user_id, private)
            break
        except case_access.NoAccess:
            continue
    if keys is None:
        raise LookupError("no bench handler holds the case")
    report = content.read_report(case, keys)
    store = FileStore(store_root)
    messages = conversation(session, case, keys.content)
    views = [*report_files(session, case, keys.content), *(f for m in messages for f in m.files)]
    files = []
    for view in views:
        if view.purged_on is not None:
            continue
        found = open_file(session, store, case, keys.content, view.storage_name)
        assert found is not None
        files.append(b"".join(found[1]))
    reporter_messages = [m.body for m in messages if m.author == "reporter"]
    return OpenedCase(report=report, files=files, reporter_messages=reporter_messages)


def gunicorn_workers(master: int) -> list[int]:
    """The pids of gunicorn's workers (the master's children)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        with contextlib.suppress(OSError):
            raw = (entry / "stat").read_text()
            if int(raw[raw.rindex(")") + 2 :].split()[1]) == master:
                found.append(int(entry.name))
    return sorted(found)


def _proc_address(address: str, port: int) -> str:
    """An IPv4 address and port as /proc/net/tcp writes them (little-endian hex)."""
    packed = socket.inet_aton(address)
    return f"{struct.unpack('<I', packed)[0]:08X}:{port:04X}"


def worker_serving(master: int, server_port: int, client: tuple[str, int]) -> int | None:
    """The gunicorn worker holding the server side of the connection from ``client``, or None
    while no worker has accepted it."""
    local = _proc_address("127.0.0.1", server_port)
    remote = _proc_address(*client)
    inodes = set()
    with contextlib.suppress(OSError):
        for row in Path("/proc/net/tcp").read_text().splitlines()[1:]:
            fields = row.split()
            if fields[1] == local and fields[2] == remote:
                inodes.add(f"socket:[{fields[9]}]")
    if not inodes:
        return None
    for pid in gunicorn_workers(master):
        with contextlib.suppress(OSError):
            for fd in Path(f"/proc/{pid}/fd").iterdir():
                with contextlib.suppress(OSError):
                    if os.readlink(fd) in inodes:
                        return pid
    return None


def open_files_of(pid: int) -> list[str]:
    """The paths process ``pid`` has open (empty once it is gone)."""
    paths = []
    with contextlib.suppress(OSError):
        for fd in Path(f"/proc/{pid}/fd").iterdir():
            with contextlib.suppress(OSError):
                paths.append(os.readlink(fd))
    return paths


class PrivatePostgreSQL:
    """A throw-away PostgreSQL cluster of this run's own (initdb in a temporary folder, its own
    port on 127.0.0.1), so the bench can stop and start it without touching the machine's
    server. Run as root, the cluster runs as the ``postgres`` system user."""

    def __init__(self) -> None:
        self.bindir = _postgresql_bindir()
        self.root = Path(tempfile.mkdtemp(prefix="whistle-pg-"))
        self.data = self.root / "data"
        self.port = free_port()
        self.log = self.root / "server.log"
        self.running = False
        self._as_postgres = os.geteuid() == 0
        if self._as_postgres:
            shutil.chown(self.root, "postgres", "postgres")

    @property
    def admin_url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def _run(self, *command: str) -> None:
        prefix = ["runuser", "-u", "postgres", "--"] if self._as_postgres else []
        subprocess.run(
            [*prefix, *command],
            check=True,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            timeout=120,
        )

    def create(self) -> None:
        self._run(
            str(self.bindir / "initdb"),
            "-D",
            str(self.data),
            "-A",
            "trust",
            "-U",
            "postgres",
            "--no-sync",
        )

    def start(self) -> None:
        options = f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 -c fsync=on"
        self._run(
            str(self.bindir / "pg_ctl"),
            "-D",
            str(self.data),
            "-o",
            options,
            "-l",
            str(self.log),
            "-w",
            "-t",
            "60",
            "start",
        )
        self.running = True

    def stop(self, mode: str = "fast") -> None:
        self._run(str(self.bindir / "pg_ctl"), "-D", str(self.data), "-m", mode, "-w", "stop")
        self.running = False

    def remove(self) -> None:
        with shielded():
            if self.running:
                with contextlib.suppress(subprocess.SubprocessError, OSError):
                    self.stop("immediate")
            shutil.rmtree(self.root, ignore_errors=True)


def _postgresql_bindir() -> Path:
    with contextlib.suppress(OSError, subprocess.SubprocessError):
        found = subprocess.run(
            ["pg_config", "--bindir"], check=True, capture_output=True, text=True, timeout=10
        ).stdout.strip()
        if (Path(found) / "initdb").exists():
            return Path(found)
    versions = sorted(
        Path("/usr/lib/postgresql").glob("*/bin/initdb"),
        key=lambda p: int(p.parent.parent.name) if p.parent.parent.name.isdigit() else 0,
    )
    if not versions:
        raise SystemExit("initdb not found: install the PostgreSQL server package")
    return versions[-1].parent


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def ranked(row: dict[str, Any]) -> dict[str, Any]:
    """A case row for a bulk INSERT with its ``due_rank``, as the model's flush event would set
    it (a bulk INSERT does not run the event)."""
    from whistle.core.deadlines import due_rank

    row["due_rank"] = due_rank(
        row["status"],
        row["received_on"],
        row["acknowledge_due"],
        row["acknowledged_on"],
        row["feedback_due"],
        row["feedback_on"],
    )
    return row
