"""Argon2id derivations in one process run one after the other (crypto/kdf.py): a gunicorn
worker with many threads then holds one derivation's memory (64 MiB at the defaults) at a
time, not one per thread, so its peak is its resting size plus one derivation (issue 17)."""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest

from crypto import Argon2Params, kdf


def test_concurrent_derivations_in_one_process_never_overlap(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    running = 0
    most = 0
    lock = threading.Lock()
    real = kdf.hash_secret_raw

    def watched(*args: Any, **kwargs: Any) -> bytes:
        nonlocal running, most
        with lock:
            running += 1
            most = max(most, running)
        time.sleep(0.02)  # long enough for the other threads to arrive
        try:
            return real(*args, **kwargs)
        finally:
            with lock:
                running -= 1

    monkeypatch.setattr(kdf, "hash_secret_raw", watched)
    params = Argon2Params.for_tests()
    keys: list[bytes] = []
    threads = [
        threading.Thread(target=lambda: keys.append(kdf.derive_key(b"pw", bytes(16), params)))
        for _ in range(6)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(keys) == 6 and len(set(keys)) == 1
    assert most == 1, f"{most} derivations ran at once in one process"
