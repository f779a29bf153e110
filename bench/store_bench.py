"""Benchmark of the file store's two backends (issue 18): the local folder and the database's
chunk rows on SQLite and PostgreSQL, writing, reading back and deleting a 50 MiB file.

Run from the repository root: ``PYTHONPATH=. .venv/bin/python bench/store_bench.py``
(``--pg URL`` names the PostgreSQL server; a database of its own is made there and dropped).
It takes about half a minute. This is a script, not a test: the properties (a file visible only
when complete, bounded memory, deletion) are tests/core/test_file_stores.py's. It prints the
best of three rounds of each, in MiB/s, and the deletion in milliseconds.
"""

from __future__ import annotations

import argparse
import os
import secrets
import shutil
import tempfile
import time
from pathlib import Path

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from whistle.core.db import make_engine, normalise_url
from whistle.core.db_storage import DatabaseStore
from whistle.core.schema import upgrade
from whistle.core.storage import FileStore, Store

MB = 1 << 20
SIZE = 50 * MB
PIECE = 64 * 1024
ROUNDS = 3


def measure(label: str, store: Store) -> None:
    piece = os.urandom(PIECE)
    rounds = []
    for _ in range(ROUNDS):
        name = store.new_name()
        started = time.perf_counter()
        with store.writer(name) as out:
            for _ in range(SIZE // PIECE):
                out.write(piece)
        written = time.perf_counter()
        with store.open(name) as handle:
            while handle.read(PIECE):
                pass
        read = time.perf_counter()
        store.delete(name)
        rounds.append((written - started, read - written, time.perf_counter() - read))
    write, read_, delete = (min(r[i] for r in rounds) for i in range(3))
    print(
        f"{label:22s} write {SIZE / MB / write:6.0f} MiB/s   read {SIZE / MB / read_:6.0f} MiB/s"
        f"   delete {delete * 1000:5.0f} ms"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pg", default="postgresql://postgres@127.0.0.1:5432/postgres")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="store-bench-"))
    try:
        measure("folder", FileStore(work / "files"))
        engine = make_engine(f"sqlite:///{work / 'whistle.db'}")
        upgrade(engine)
        measure("database (SQLite)", DatabaseStore(engine))
        engine.dispose()
        name = f"whistle_store_bench_{secrets.token_hex(4)}"
        admin = create_engine(normalise_url(args.pg), isolation_level="AUTOCOMMIT")
        with admin.connect() as connection:
            connection.execute(text(f'CREATE DATABASE "{name}"'))
        try:
            url = make_url(normalise_url(args.pg)).set(database=name)
            engine = make_engine(url.render_as_string(hide_password=False))
            upgrade(engine)
            measure("database (PostgreSQL)", DatabaseStore(engine))
            engine.dispose()
        finally:
            with admin.connect() as connection:
                connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            admin.dispose()
    finally:
        shutil.rmtree(work)


if __name__ == "__main__":
    main()
