"""The key store (whistle/core/keystore.py) and crypto-shredding (whistle/core/shredding.py): keys
outside
the database, destroyed for good when their case or item is deleted, also after a crash, with
`whistle doctor` finding what a failure left.

The store's own tests run on both backends: SQLite (the default, a file in the instance
folder) and PostgreSQL (a database of its own). The app's tests run on both application
databases, each test with its own key store in its instance folder (tests/conftest.py). The
keys the lead's wiring will make for cases and items are made here by hand, under the names
whistle/core/shredding.py gives them.
"""

from __future__ import annotations

import multiprocessing
import os
import stat
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result
from flask import Flask
from sqlalchemy import create_engine, select, text
from sqlalchemy.engine import URL
from sqlalchemy.orm import Session

from tests.conftest import postgres_required
from tests.steps.cases import keys_of
from tests.steps.factories import Unit
from tests.steps.retention import close, reported_with_file, run
from whistle.app import create_app
from whistle.cases import handling
from whistle.cli import cli
from whistle.core import audit, keystore, keystore_schema, shredding
from whistle.core.clock import FixedClock
from whistle.core.db import normalise_url
from whistle.core.keystore import KeyStore
from whistle.core.keystore_errors import KeyExists, KeyStoreError, ScrubIncomplete
from whistle.core.models import Attachment, AuditEntry, Case, PendingKeyDestruction
from whistle.core.runtime import runtime
from whistle.core.settings import SettingsError, load_settings
from whistle.core.storage import FileStore
from whistle.retention.purge import purge_item

# --- the store on both backends ---------------------------------------------------------------


def _drop_store_tables(url: str) -> None:
    engine = create_engine(normalise_url(url))
    with engine.begin() as connection:
        for table in reversed(keystore_schema.metadata.sorted_tables):
            connection.execute(text(f"DROP TABLE IF EXISTS {table.name}"))
    engine.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """An empty key store's URL: a file in one run, a PostgreSQL database of its own in the
    other (its tables are dropped before each test, so each starts from nothing)."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'keystore.db'}"
        return
    url = request.getfixturevalue("postgres_keystore_url")
    _drop_store_tables(url)
    yield url
    _drop_store_tables(url)


@pytest.fixture
def store(store_url: str) -> Iterator[KeyStore]:
    opened = KeyStore(store_url)
    yield opened
    opened.dispose()


def test_created_keys_are_fresh_random_and_read_back(store: KeyStore) -> None:
    # More names than one query takes, so the batching is used too.
    names = [f"case:fake-{i:04d}" for i in range(1200)]
    made = store.create(names)
    assert set(made) == set(names)
    assert all(len(key) == 32 for key in made.values())
    assert len(set(made.values())) == len(names)  # no two alike

    assert store.get_many([*names, "case:never-made"]) == made
    assert store.get(names[7]) == made[names[7]]
    assert store.get("case:never-made") is None
    assert store.get_many([]) == {} and store.create([]) == {}
    assert store.count() == len(names)

    # A second handle on the same store (another worker) reads the same keys.
    other = KeyStore(store.url)
    try:
        assert other.get_many(names[:10]) == {n: made[n] for n in names[:10]}
    finally:
        other.dispose()


def test_an_existing_name_is_refused_and_nothing_is_created(store: KeyStore) -> None:
    first = store.create(["case:fake-one"])
    with pytest.raises(KeyExists) as refused:
        store.create(["msg:fake-new", "case:fake-one"])
    assert refused.value.names == ["case:fake-one"]
    assert first["case:fake-one"].hex() not in str(refused.value)
    assert store.get("msg:fake-new") is None  # all or nothing
    assert store.get("case:fake-one") == first["case:fake-one"]  # the first key stands


def test_destroying_is_final_and_idempotent(store: KeyStore) -> None:
    made = store.create(["case:fake-a", "case:fake-b", "note:fake-c"])
    assert store.destroy(["case:fake-a", "note:fake-c", "case:fake-never"]) == 2
    assert store.get_many(list(made)) == {"case:fake-b": made["case:fake-b"]}
    assert store.destroy(["case:fake-a", "note:fake-c"]) == 0
    assert store.destroy([]) == 0
    # The name is free again, and a new key under it is not the old one.
    again = store.create(["case:fake-a"])
    assert again["case:fake-a"] != made["case:fake-a"]


@pytest.mark.parametrize(
    "bad",
    ["", "case", "case:", ":x", "Case:x", "case:a b", "case:a/b", "case:æ", "case:" + "a" * 101],
)
def test_malformed_names_are_refused(store: KeyStore, bad: str) -> None:
    for operation in (store.create, store.get_many, store.destroy):
        with pytest.raises(ValueError):
            operation([bad])
    assert store.count() == 0


def test_a_name_twice_in_one_create_is_refused(store: KeyStore) -> None:
    with pytest.raises(ValueError):
        store.create(["case:fake-a", "case:fake-a"])
    assert store.count() == 0


def test_names_are_listed_by_prefix_and_wildcards_are_plain_characters(store: KeyStore) -> None:
    store.create(["file:a_b", "file:axb", "case:a_b", "msg:z"])
    assert list(store.names()) == ["case:a_b", "file:a_b", "file:axb", "msg:z"]
    assert list(store.names("file:")) == ["file:a_b", "file:axb"]
    assert list(store.names("file:a_")) == ["file:a_b"]  # "_" matches itself only
    assert list(store.names("note:")) == []


def _worker(url: str, who: str, other: str, rounds: int, start: Any, results: Any) -> None:
    """One process of the concurrency test: creates, reads and destroys while the other does
    the same; sends back what it made and read (fake keys)."""
    store = KeyStore(url)
    made: dict[str, str] = {}
    won: list[int] = []
    start.wait()
    for i in range(rounds):
        for name, key in store.create([f"case:{who}-{i}", f"msg:{who}-{i}"]).items():
            made[name] = key.hex()
        try:
            store.create([f"case:shared-{i}"])
            won.append(i)
        except KeyExists:
            pass
        store.get_many([f"case:{other}-{j}" for j in range(i + 1)])
        store.destroy([f"msg:{who}-{i}"])
    start.wait()  # both done: each reads everything the other made
    everything = store.get_many([f"case:{other}-{j}" for j in range(rounds)])
    seen = {n: k.hex() for n, k in everything.items()}
    store.dispose()
    results.put((who, made, won, seen))


def test_two_processes_create_read_and_destroy_at_once(store: KeyStore) -> None:
    store.ensure()
    rounds = 25
    context = multiprocessing.get_context("spawn")
    start = context.Barrier(2)
    results = context.Queue()
    workers = [
        context.Process(
            target=_worker,
            args=(
                store.url.render_as_string(hide_password=False),
                who,
                other,
                rounds,
                start,
                results,
            ),
        )
        for who, other in (("alpha", "beta"), ("beta", "alpha"))
    ]
    for worker in workers:
        worker.start()
    answers: dict[str, tuple[dict[str, str], list[int], dict[str, str]]] = {}
    for _ in workers:
        who, made, won, seen = results.get(timeout=120)
        answers[who] = (made, won, seen)
    for worker in workers:
        worker.join(timeout=30)
        assert worker.exitcode == 0

    alpha, beta = answers["alpha"], answers["beta"]
    # Every shared name was won by exactly one process: nobody got a second key under it.
    assert sorted(alpha[1] + beta[1]) == list(range(rounds))
    # Each process's keys are what the store holds, and what the other process read.
    for made, _won, _seen in (alpha, beta):
        kept = {n: k for n, k in made.items() if n.startswith("case:")}
        assert {n: k.hex() for n, k in store.get_many(list(kept)).items()} == kept
    assert beta[2] == {n: k for n, k in alpha[0].items() if n.startswith("case:")}
    assert alpha[2] == {n: k for n, k in beta[0].items() if n.startswith("case:")}
    assert list(store.names("msg:")) == []  # every destroy held
    assert store.count() == 2 * rounds + rounds


# --- destroyed bytes are out of the files ---------------------------------------------------------


def sqlite_files(path: Path) -> bytes:
    """Everything SQLite keeps on disk for the store: the database, its WAL and shared memory."""
    return b"".join(
        Path(f"{path}{suffix}").read_bytes()
        for suffix in ("", "-wal", "-shm")
        if Path(f"{path}{suffix}").exists()
    )


def postgres_pages(url: str | URL) -> bytes:
    """Every page of every partition of the PostgreSQL table, raw: live rows, dead rows and
    free space."""
    engine = create_engine(normalise_url(url), isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as connection:
            try:
                connection.execute(text("CREATE EXTENSION IF NOT EXISTS pageinspect"))
            except Exception as exc:  # noqa: BLE001 - no pageinspect: say so loudly
                reason = f"the pageinspect extension is not available ({type(exc).__name__})"
                if postgres_required():
                    pytest.fail(reason, pytrace=False)
                pytest.skip(reason)
            partitions = connection.scalars(
                text(
                    "SELECT inhrelid::regclass::text FROM pg_inherits "
                    "WHERE inhparent = 'whistle_keys'::regclass"
                )
            ).all()
            assert len(partitions) == keystore_schema.PARTITIONS
            pages = b""
            for partition in partitions:
                count = connection.scalar(
                    text("SELECT pg_relation_size(:p) / current_setting('block_size')::int"),
                    {"p": partition},
                )
                for number in range(int(count)):
                    pages += bytes(
                        connection.scalar(
                            text("SELECT get_raw_page(:p, :n)"), {"p": partition, "n": number}
                        )
                    )
            return pages
    finally:
        engine.dispose()


def store_bytes(store: KeyStore) -> bytes:
    if store.path is not None:
        return sqlite_files(store.path)
    return postgres_pages(store.url)


def test_a_destroyed_key_leaves_no_bytes_in_the_store(store: KeyStore) -> None:
    # Many keys in one transaction and a few in transactions of their own, so the WAL holds
    # several versions of the same pages; then reads, as the app does.
    made = store.create([f"case:fake-{i:03d}" for i in range(400)])
    for i in range(20):
        made.update(store.create([f"msg:fake-{i:02d}"]))
    assert store.get_many(list(made)) == made
    before = store_bytes(store)
    assert all(key in before for key in made.values()), "the scan does not see the keys"

    doomed = [n for n in sorted(made) if n.endswith(("0", "3", "5", "7"))]
    store.destroy(doomed[:-1])
    store.destroy(doomed[-1:])  # a single key in a destroy of its own too

    # Read while the store is open (no connection closed: closing the last one would
    # checkpoint the WAL by itself and hide a destroy that did not).
    after = store_bytes(store)
    found = [n for n in doomed if made[n] in after]
    assert found == [], f"{len(found)} destroyed keys are still in the store's files"
    kept = [n for n in made if n not in doomed]
    assert all(made[n] in after for n in kept)
    if store.path is not None:
        wal = Path(f"{store.path}-wal")
        assert not wal.exists() or wal.stat().st_size == 0


def test_the_scan_sees_a_destroyed_key_that_was_not_scrubbed(
    store: KeyStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The control for the test above: without the checkpoint (SQLite) or the rewrite
    (PostgreSQL) the destroyed key is still there to be found."""
    made = store.create([f"case:fake-{i:02d}" for i in range(20)])
    monkeypatch.setattr(KeyStore, "scrub", lambda self, partitions=None: None)
    store.destroy(["case:fake-07"])
    assert store.get("case:fake-07") is None
    assert made["case:fake-07"] in store_bytes(store)


def test_the_sqlite_store_and_its_logs_are_owner_only(tmp_path: Path) -> None:
    previous = os.umask(0o022)
    try:
        store = KeyStore(f"sqlite:///{tmp_path / 'keystore.db'}")
        store.create(["case:fake-a"])
        for suffix in ("", "-wal", "-shm"):
            path = Path(f"{tmp_path / 'keystore.db'}{suffix}")
            assert path.exists()
            assert stat.S_IMODE(path.stat().st_mode) == 0o600, f"{path.name}"
        store.dispose()
    finally:
        os.umask(previous)


def test_a_store_readable_by_others_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "keystore.db"
    KeyStore(f"sqlite:///{path}").create(["case:fake-a"])
    path.chmod(0o644)
    with pytest.raises(KeyStoreError, match="chmod 600"):
        KeyStore(f"sqlite:///{path}").get("case:fake-a")


def test_a_store_of_a_newer_format_is_refused(store: KeyStore) -> None:
    store.ensure()
    with store.engine.begin() as connection:
        connection.execute(keystore_schema.INFO.update().values(value="2"))
    with pytest.raises(KeyStoreError, match="newer"):
        KeyStore(store.url).ensure()


def test_the_application_database_is_refused_as_a_key_store(
    database_url: str, instance_path: Path
) -> None:
    if database_url.startswith("sqlite"):  # as `whistle init` makes it (umask 077)
        Path(database_url.removeprefix("sqlite:///")).chmod(0o600)
    with pytest.raises(KeyStoreError, match="application's database"):
        KeyStore(database_url).ensure()
    with pytest.raises(SettingsError, match="must not be the application database"):
        load_settings(
            instance_path,
            environ={},
            overrides={"database_url": database_url, "keystore_url": database_url},
        )


def test_a_backup_is_a_key_store_with_every_key_and_never_overwrites(
    store: KeyStore, tmp_path: Path
) -> None:
    made = store.create([f"case:fake-{i:04d}" for i in range(700)])
    store.destroy(["case:fake-0001"])
    # A file name is not pasted into a URL: "?" and "#" are just characters.
    target = tmp_path / "keystore backup?mode=ro#1.db"
    assert store.backup(target) == 699
    assert sorted(p.name for p in tmp_path.iterdir() if "backup" in p.name) == [target.name]
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    copy = KeyStore(URL.create("sqlite", database=str(target)))
    try:
        assert copy.get_many(list(made)) == {n: k for n, k in made.items() if n != "case:fake-0001"}
    finally:
        copy.dispose()
    with pytest.raises(KeyStoreError, match="never overwrites"):
        store.backup(target)


# --- settings, init and the runtime -------------------------------------------------------------


def test_the_default_key_store_is_a_file_in_the_instance_folder(app: Flask) -> None:
    rt = runtime(app)
    assert rt.settings.keystore_url == f"sqlite:///{rt.settings.instance_path / 'keystore.db'}"
    assert rt.keystore.path == rt.settings.instance_path / "keystore.db"
    rt.keystore.create(["case:fake-a"])
    assert (rt.settings.instance_path / "keystore.db").exists()


def test_keystore_url_must_be_a_file_or_postgresql(instance_path: Path) -> None:
    for bad in ("mysql://x/y", "sqlite://", "keys.db"):
        with pytest.raises(SettingsError, match="keystore_url must be"):
            load_settings(instance_path, environ={"WHISTLE_KEYSTORE_URL": bad})
    # The same database under another user, host spelling and default port is still it.
    with pytest.raises(SettingsError, match="must not be the application database"):
        load_settings(
            instance_path,
            environ={
                "WHISTLE_DATABASE_URL": "postgresql://whistle@db.example:5432/whistle",
                "WHISTLE_KEYSTORE_URL": "postgresql://keys:secret@DB.example/whistle",
            },
        )
    fine = load_settings(
        instance_path,
        environ={
            "WHISTLE_DATABASE_URL": "postgresql://whistle@db.example:5432/whistle",
            "WHISTLE_KEYSTORE_URL": "postgresql://keys:secret@keys.example/whistle_keys",
        },
    )
    assert "secret" not in fine.keystore_url_safe


def test_init_makes_the_key_store_and_keeps_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("WHISTLE_INSTANCE", str(tmp_path / "instance"))
    monkeypatch.setenv("WHISTLE_ARGON2_PROFILE", "test")
    runner = CliRunner()
    first = runner.invoke(cli, ["init"])
    assert first.exit_code == 0, first.output
    assert "key store is ready" in first.output
    path = tmp_path / "instance" / "keystore.db"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    store = KeyStore(f"sqlite:///{path}")
    made = store.create(["case:fake-a"])
    store.dispose()
    second = runner.invoke(cli, ["init"])
    assert second.exit_code == 0, second.output
    store = KeyStore(f"sqlite:///{path}")
    assert store.get("case:fake-a") == made["case:fake-a"]
    store.dispose()


def test_a_destroy_held_back_by_an_older_reader_is_finished_by_the_next(
    store_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A transaction older than the destroy still sees the key, so its bytes cannot go yet:
    the destroy says so (ScrubIncomplete) instead of claiming success, and destroying again
    once the reader is done finishes it."""
    monkeypatch.setattr(keystore, "BUSY_TIMEOUT_MS", 300)
    monkeypatch.setattr(keystore, "HORIZON_WAIT", 0.3)
    store = KeyStore(store_url)
    made = store.create([f"case:fake-{i:02d}" for i in range(20)])
    reader = create_engine(normalise_url(store_url))
    try:
        with reader.connect() as older:
            if store.is_sqlite:
                older.exec_driver_sql("BEGIN")
                older.exec_driver_sql("SELECT count(*) FROM whistle_keys").all()
            else:
                older.execute(text("SELECT txid_current()"))
            with pytest.raises(ScrubIncomplete):
                store.destroy(["case:fake-07"])
            assert store.get("case:fake-07") is None  # no query finds it any more
            assert made["case:fake-07"] in store_bytes(store)  # but the bytes are there
            older.rollback()
    finally:
        reader.dispose()
    monkeypatch.undo()  # the usual patience again: other tests' transactions share the server
    assert store.destroy(["case:fake-07"]) == 0
    assert made["case:fake-07"] not in store_bytes(store)
    store.dispose()


# --- the life cycle in the app: deletion, purges, crashes, the doctor --------------------------


def keys_for(app: Flask, session: Session, case: Case) -> dict[str, bytes]:
    """The keys of the case and of each of its messages, notes and files: the app made every
    one of them when it wrote the case (whistle/casefile/access.py, whistle/casefile/records.py)."""
    session.expire_all()
    names = shredding.case_key_names(session, [case.id])[case.id]
    found = runtime(app).keystore.get_many(names)
    assert set(found) == set(names), "a case or one of its records has no key of its own"
    return found


def listed(session: Session) -> set[str]:
    session.expire_all()
    return set(session.scalars(select(PendingKeyDestruction.name)))


def doctor(app: Flask, *args: str) -> Result:
    return app.test_cli_runner().invoke(cli, ["doctor", *args])


def line(result: Result, label: str) -> str:
    found = [row for row in result.output.splitlines() if row.startswith(label)]
    assert found, f"no line {label!r} in the output:\n{result.output}"
    return found[0]


def assert_no_key_in(result: Result, keys: dict[str, bytes]) -> None:
    """The output names kinds and counts: never a key's name (it links a key to a case or an
    item) and never its bytes."""
    for name, key in keys.items():
        assert name not in result.output
        assert name.partition(":")[2] not in result.output
        assert key.hex() not in result.output


class Crash(Exception):
    pass


def crash_at(where: str) -> Callable[[str], None]:
    def step(name: str) -> None:
        if name == where:
            raise Crash(name)

    return step


def test_deleting_a_case_destroys_every_key_it_held(
    app: Flask, session: Session, unit: Unit, clock: FixedClock
) -> None:
    due, _due_code = reported_with_file(app, session, unit, "Fake report to be deleted.")
    kept, _kept_code = reported_with_file(app, session, unit, "Fake report to be kept.")
    close(app, session, clock, unit, due)
    due_keys, kept_keys = keys_for(app, session, due), keys_for(app, session, kept)
    assert {shredding.kind_of(n) for n in due_keys} == {"case", "msg", "note", "file"}

    clock.advance(timedelta(days=70))
    report = run(app, session, clock)
    assert (report.deleted, report.keys) == (1, len(due_keys))
    store = runtime(app).keystore
    assert store.get_many(list(due_keys)) == {}
    assert store.get_many(list(kept_keys)) == kept_keys
    assert listed(session) == set()
    assert run(app, session, clock).keys == 0  # nothing left to do


@pytest.mark.parametrize("finisher", ["retention run", "doctor --repair"])
def test_a_crash_between_the_commit_and_the_destruction_is_finished_later(
    app: Flask, session: Session, unit: Unit, clock: FixedClock, finisher: str
) -> None:
    case, _code = reported_with_file(app, session, unit, "Fake report, deleted in a crash.")
    close(app, session, clock, unit, case)
    keys = keys_for(app, session, case)
    store = runtime(app).keystore
    clock.advance(timedelta(days=70))

    with pytest.raises(Crash):
        run(app, session, clock, after_step=crash_at("committed"))
    session.rollback()
    # The rows are gone for good; the keys are still there, listed for destruction.
    assert session.get(Case, case.id) is None
    assert store.get_many(list(keys)) == keys
    assert listed(session) == set(keys)

    if finisher == "retention run":
        report = run(app, session, clock)
        assert (report.deleted, report.keys) == (0, len(keys))
    else:
        found = doctor(app)
        assert found.exit_code == 1
        assert line(found, "keys listed for destruction, not yet destroyed").endswith(
            f": {len(keys)}"
        )
        assert_no_key_in(found, keys)
        repaired = doctor(app, "--repair")
        assert repaired.exit_code == 0, repaired.output
        assert f"destroyed 0 ownerless keys and {len(keys)} listed keys" in repaired.output
        assert_no_key_in(repaired, keys)
        entry = session.scalars(
            select(AuditEntry).where(AuditEntry.action == "keystore.repaired")
        ).one()
        assert f'"pending":{len(keys)}' in entry.detail
        assert audit.verify(session).ok
    assert store.get_many(list(keys)) == {}
    assert listed(session) == set()


def test_a_key_store_that_cannot_be_scrubbed_keeps_the_listing_until_it_can(
    app: Flask, session: Session, unit: Unit, clock: FixedClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    case, _code = reported_with_file(app, session, unit, "Fake report, store busy.")
    close(app, session, clock, unit, case)
    keys = keys_for(app, session, case)
    clock.advance(timedelta(days=70))

    def busy(_self: KeyStore, _partitions: object = None) -> None:
        raise ScrubIncomplete("fake: a reader held the store")

    with monkeypatch.context() as patched:
        patched.setattr(KeyStore, "scrub", busy)
        result = app.test_cli_runner().invoke(cli, ["retention", "run"])
    assert result.exit_code == 1
    assert "could not be scrubbed" in result.output
    assert listed(session) == set(keys)  # kept, so the next run scrubs again
    assert runtime(app).keystore.get_many(list(keys)) == {}  # the rows went all the same

    again = app.test_cli_runner().invoke(cli, ["retention", "run"])
    assert again.exit_code == 0, again.output
    assert listed(session) == set()


def test_a_listed_key_whose_owner_still_exists_is_never_destroyed(
    app: Flask, session: Session, unit: Unit, clock: FixedClock
) -> None:
    """Only a bug could list a live case's key; destroying it would lose the case."""
    case, _code = reported_with_file(app, session, unit, "Fake report, listed by mistake.")
    keys = keys_for(app, session, case)
    name = shredding.case_key_name(case.uid)
    shredding.queue_destruction(session, unit.org.id, [name])
    session.commit()

    assert run(app, session, clock).keys == 0
    assert runtime(app).keystore.get(name) == keys[name]
    found = doctor(app)
    assert found.exit_code == 1
    assert line(found, "keys listed for destruction but still in use").endswith(": 1")
    repaired = doctor(app, "--repair")
    assert repaired.exit_code == 0, repaired.output
    assert "dropped 1 listings of keys in use" in repaired.output
    assert listed(session) == set()
    assert runtime(app).keystore.get_many(list(keys)) == keys


def test_the_doctor_destroys_keys_whose_owner_is_gone_and_leaves_young_and_unknown_ones(
    app: Flask, session: Session, unit: Unit, clock: FixedClock
) -> None:
    case, _code = reported_with_file(app, session, unit, "Fake report, alive and well.")
    live = keys_for(app, session, case)
    store = runtime(app).keystore
    # A report whose transaction failed after its key was made leaves a key like this one.
    old = store.create(["case:fake-report-never-stored"])
    assert doctor(app).exit_code == 0  # the first run knows no key's age: all may be in flight

    clock.advance(timedelta(hours=2))
    young = store.create(["case:fake-report-in-flight"])
    unknown = store.create(["rights:fake-request-key"])
    found = doctor(app)
    assert found.exit_code == 1
    assert line(found, "key store:").endswith(f"{len(live) + 3} keys")
    assert line(found, "keys whose case, message, note or file is gone").endswith(": 1")
    assert "(reports may be in flight; --all to include): 1 keys" in found.output
    assert line(found, "keys of an unknown kind, not touched").endswith(": 1")
    everything = {**live, **old, **young, **unknown}
    assert_no_key_in(found, everything)

    repaired = doctor(app, "--repair")
    assert repaired.exit_code == 0, repaired.output
    assert "destroyed 1 ownerless keys and 0 listed keys" in repaired.output
    assert_no_key_in(repaired, everything)
    assert store.get_many(list(everything)) == {**live, **young, **unknown}
    entry = session.scalars(
        select(AuditEntry).where(AuditEntry.action == "keystore.repaired")
    ).one()
    assert '"orphans":1' in entry.detail

    # With the app stopped, --all takes the young one too; the unknown kind stays.
    assert doctor(app, "--repair", "--all").exit_code == 0
    assert store.get_many(list(everything)) == {**live, **unknown}


def test_purging_an_item_destroys_the_keys_only_it_used(
    app: Flask, session: Session, unit: Unit, clock: FixedClock
) -> None:
    case, _code = reported_with_file(app, session, unit, "Fake report with a stray file.")
    hanne = unit.handlers[0]
    opened = keys_of(session, case, hanne)
    with app.app_context():
        note = handling.add_note(session, clock, case, opened, hanne.user.id, "Fake note.")
    keys = keys_for(app, session, case)
    attachment = session.scalars(select(Attachment).where(Attachment.case_id == case.id)).one()
    file_key, note_key = (
        shredding.file_key_name(attachment.storage_name),
        shredding.note_key_name(note.uid),
    )
    store = runtime(app).keystore
    for kind, item_id in (("file", attachment.id), ("note", note.id)):
        with app.app_context():
            purge_item(
                session,
                clock,
                FileStore(runtime(app).settings.file_store),
                case,
                opened,
                hanne.user.id,
                kind=kind,
                item_id=item_id,
                reason="Fake reason: irrelevant.",
                keystore=store,
            )
    assert store.get(file_key) is None and store.get(note_key) is None
    assert store.get_many(list(keys)) == {
        n: k for n, k in keys.items() if n not in (file_key, note_key)
    }
    assert listed(session) == set()


def test_a_key_store_out_of_reach_is_said_plainly(
    app: Flask, session: Session, unit: Unit, clock: FixedClock
) -> None:
    # Something to destroy: a case deleted while the key store was away.
    shredding.queue_destruction(session, unit.org.id, ["case:fake-deleted-case"])
    session.commit()
    settings = runtime(app).settings
    app = create_app(
        {
            "database_url": settings.database_url,
            "keystore_url": "postgresql://nobody:fake-password@127.0.0.1:1/none",
            "argon2_profile": "test",
        },
        instance_path=settings.instance_path,
        clock=clock,
    )
    try:
        health = app.test_client().get("/healthz")
        assert (health.status_code, health.get_data(as_text=True)) == (
            503,
            "key store unreachable\n",
        )
        ran = app.test_cli_runner().invoke(cli, ["retention", "run"])
        assert ran.exit_code == 1 and isinstance(ran.exception, SystemExit)
        assert "the key store" in ran.output and "cannot be opened" in ran.output
        checked = doctor(app)
        assert checked.exit_code == 1 and isinstance(checked.exception, SystemExit)
        assert "key store: not checked" in checked.output
        for output in (ran.output, checked.output):
            assert "fake-password" not in output
        assert listed(session) == {"case:fake-deleted-case"}  # for the next run
    finally:
        runtime(app).engine.dispose()
        runtime(app).keystore.dispose()


def test_a_postgresql_key_store_on_the_application_s_server_is_a_problem(
    postgres_url: str, postgres_keystore_url: str, instance_path: Path, clock: FixedClock
) -> None:
    _drop_store_tables(postgres_keystore_url)
    app = create_app(
        {
            "database_url": postgres_url,
            "keystore_url": postgres_keystore_url,
            "argon2_profile": "test",
        },
        instance_path=instance_path,
        clock=clock,
    )
    try:
        result = doctor(app)
        assert result.exit_code == 1
        assert "problem: the key store is on the same PostgreSQL server" in result.output
    finally:
        runtime(app).engine.dispose()
        runtime(app).keystore.dispose()
        _drop_store_tables(postgres_keystore_url)


def test_the_backup_command_writes_an_owner_only_copy_once(app: Flask, tmp_path: Path) -> None:
    made = runtime(app).keystore.create(["case:fake-a", "msg:fake-b"])
    target = tmp_path / "keys-backup.db"
    first = app.test_cli_runner().invoke(cli, ["keystore", "backup", str(target)])
    assert first.exit_code == 0, first.output
    assert "wrote 2 keys" in first.output
    assert all(key.hex() not in first.output for key in made.values())
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    copy = KeyStore(f"sqlite:///{target}")
    assert copy.get_many(list(made)) == made
    copy.dispose()
    second = app.test_cli_runner().invoke(cli, ["keystore", "backup", str(target)])
    assert second.exit_code == 1 and "never overwrites" in second.output


def test_a_postgresql_destroy_rewrites_only_the_partitions_it_touched(
    postgres_keystore_url: str,
) -> None:
    """So a purge locks a sixty-fourth of the keys for a moment, not the whole store."""
    _drop_store_tables(postgres_keystore_url)
    store = KeyStore(postgres_keystore_url)
    store.create([f"case:fake-{i:04d}" for i in range(1000)])
    files = text(
        "SELECT inhrelid::regclass::text, pg_relation_filenode(inhrelid) FROM pg_inherits "
        "WHERE inhparent = 'whistle_keys'::regclass"
    )
    with store.engine.connect() as connection:
        before = dict(connection.execute(files).all())
        connection.rollback()
    store.destroy(["case:fake-0042"])
    with store.engine.connect() as connection:
        after = dict(connection.execute(files).all())
        connection.rollback()
    rewritten = sorted(p for p in before if before[p] != after[p])
    assert len(rewritten) == 1 and len(before) == keystore_schema.PARTITIONS
    assert store.get("case:fake-0042") is None and store.count() == 999
    store.dispose()
    _drop_store_tables(postgres_keystore_url)
