"""Scrubbing: removing destroyed keys' bytes from the key store's files, on each backend.

A deleted row is only the start: SQLite keeps older page versions in its write-ahead log, and
PostgreSQL leaves a deleted row's bytes in its page until the table is rewritten. So after
every destroy (whistle/core/keystore.py ``KeyStore.destroy``) SQLite's log is checkpointed
into the database, where ``secure_delete`` zeroed them, and truncated; PostgreSQL's partitions
that lost rows are rewritten with ``VACUUM FULL`` once no older transaction can still see the
rows. Either raises :class:`ScrubIncomplete` when it could not finish; destroying the same
names again finishes it.
"""

from __future__ import annotations

import time
from collections.abc import Collection

from sqlalchemy import Connection, text

from whistle.core.keystore_errors import KeyStoreError, ScrubIncomplete
from whistle.core.keystore_schema import KEYS, PARTITION_NAME

# PostgreSQL: how long a destroy waits for the table lock its VACUUM FULL needs.
LOCK_TIMEOUT = "10s"
HORIZON_PASSED = text(
    """
    SELECT txid_snapshot_xmin(txid_current_snapshot()) > :mark
       AND NOT EXISTS (
           SELECT 1 FROM pg_stat_activity
            WHERE datname = current_database()
              AND pid <> pg_backend_pid()
              AND backend_type = 'client backend'
              AND backend_xmin IS NOT NULL
              AND age(backend_xmin) >= age((:mark % 4294967296)::text::xid))
    """
)


def checkpoint(auto: Connection, *, patience: float) -> None:
    """SQLite: fold the write-ahead log into the database and truncate it.

    The checkpoint itself waits (busy timeout) for readers of older snapshots; it fails at
    once while another process runs a checkpoint (two destroys at the same moment), so it
    is tried again until ``patience`` seconds (the busy timeout) have passed."""
    deadline = time.monotonic() + patience
    while auto.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)").one()[0]:
        if time.monotonic() > deadline:
            raise ScrubIncomplete("the key store's write-ahead log could not be truncated (busy)")
        time.sleep(0.02)


def rewrite(auto: Connection, partitions: Collection[str] | None, *, horizon_wait: float) -> None:
    """PostgreSQL: rewrite the partitions that lost rows (default: the whole table), without
    them.

    ``VACUUM FULL`` copies a deleted row that some transaction might still see ("recently
    dead"), and which transactions count is decided by the snapshots running anywhere on
    the server. So it first waits, up to ``horizon_wait`` seconds, until every transaction
    older than the deletions has ended and no session of this database holds an older
    snapshot. Each partition is locked only while it is rewritten: a destroy stops the reads
    of one sixty-fourth of the keys, for the time it takes to copy that much.
    """
    targets = sorted(partitions) if partitions is not None else [KEYS.name]
    if not all(PARTITION_NAME.fullmatch(t) or t == KEYS.name for t in targets):
        raise KeyStoreError("the key store's table has a partition this code did not make")
    passed = _wait_for_horizon(auto, horizon_wait)
    # The rewrite locks the table briefly; waiting longer than this for the lock leaves
    # the scrub to the next destroy.
    auto.exec_driver_sql(f"SET lock_timeout = '{LOCK_TIMEOUT}'")
    try:
        for target in targets:  # names checked above: ours, never input
            auto.exec_driver_sql(f"VACUUM FULL {target}")
    finally:
        auto.exec_driver_sql("RESET lock_timeout")
    if not passed:
        raise ScrubIncomplete(
            "older transactions on the key store's server kept the destroyed keys' rows"
        )


def _wait_for_horizon(auto: Connection, horizon_wait: float) -> bool:
    """Wait up to ``horizon_wait`` seconds until no transaction older than now can still see
    a deleted row; whether that happened."""
    mark = auto.scalar(text("SELECT txid_current()"))
    deadline = time.monotonic() + horizon_wait
    passed = bool(auto.scalar(HORIZON_PASSED, {"mark": mark}))
    while not passed and time.monotonic() < deadline:
        time.sleep(0.05)
        passed = bool(auto.scalar(HORIZON_PASSED, {"mark": mark}))
    return passed
