"""In-memory throttling that keeps nothing about the client on disk.

Reporter routes must not store IP addresses (DESIGN.md), so limits are kept per process in
memory only, keyed by a short-lived keyed hash, and forgotten when their window passes. With
several gunicorn workers each keeps its own counts; the limits are per worker, which still
bounds a guessing attack to (workers x limit) tries per window, far below what an 80-bit code
would need.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field


@dataclass
class _Window:
    hits: deque[float] = field(default_factory=deque)


class SlidingWindowLimiter:
    """At most ``limit`` events per ``window`` seconds per key; thread-safe; memory bounded.

    Keys are hashed with a random per-process key before use, so even a memory dump holds no
    client address in clear, and the hash cannot be linked across restarts.
    """

    def __init__(
        self,
        limit: int,
        window: float,
        *,
        max_keys: int = 100_000,
        now: Callable[[], float] = time.monotonic,
    ) -> None:
        self.limit = limit
        self.window = window
        self.max_keys = max_keys
        self._now = now
        self._salt = secrets.token_bytes(32)
        self._windows: dict[bytes, _Window] = {}
        self._lock = threading.Lock()

    def _key(self, key: str) -> bytes:
        return hmac.new(self._salt, key.encode("utf-8"), hashlib.sha256).digest()[:16]

    def _prune(self, now: float) -> None:
        stale = [
            k for k, w in self._windows.items() if not w.hits or w.hits[-1] <= now - self.window
        ]
        for k in stale:
            del self._windows[k]

    def hit(self, key: str) -> bool:
        """Record one event for ``key``; False when it is over the limit (and not recorded)."""
        now = self._now()
        hashed = self._key(key)
        with self._lock:
            window = self._windows.get(hashed)
            if window is None:
                if len(self._windows) >= self.max_keys:
                    self._prune(now)
                    if len(self._windows) >= self.max_keys:
                        return False  # under a flood, refuse new keys rather than grow
                window = self._windows[hashed] = _Window()
            while window.hits and window.hits[0] <= now - self.window:
                window.hits.popleft()
            if len(window.hits) >= self.limit:
                return False
            window.hits.append(now)
            return True

    def blocked(self, key: str) -> bool:
        """True when ``key`` is at its limit, without recording anything."""
        now = self._now()
        hashed = self._key(key)
        with self._lock:
            window = self._windows.get(hashed)
            if window is None:
                return False
            while window.hits and window.hits[0] <= now - self.window:
                window.hits.popleft()
            return len(window.hits) >= self.limit

    def reset(self, key: str) -> None:
        with self._lock:
            self._windows.pop(self._key(key), None)
