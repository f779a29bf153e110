"""Limits on the reporter's side: throttles (memory only) and upload sizes (per organisation)."""

from __future__ import annotations

import json
from dataclasses import dataclass

from flask import request
from sqlalchemy import select
from sqlalchemy.orm import Session

from whistle.models import OrgSetting
from whistle.throttle import SlidingWindowLimiter

# Per client (hashed address, memory only): a person mistyping a code a few times is fine;
# a guesser gets 10 tries per 15 minutes per worker, against an 80-bit space.
code_limiter = SlidingWindowLimiter(limit=10, window=15 * 60)
# Across all clients, so spreading a guessing attack over many addresses does not help much.
code_global_limiter = SlidingWindowLimiter(limit=600, window=15 * 60)
submission_limiter = SlidingWindowLimiter(limit=5, window=10 * 60)

MB = 1024 * 1024


def client_key() -> str:
    """The client's address, used only as an in-memory, hashed throttle key."""
    return request.remote_addr or "unknown"


def too_many(limiter: SlidingWindowLimiter) -> bool:
    """Record one event for this client; True when it is over the limit."""
    return not limiter.hit(client_key())


def code_attempt_refused() -> bool:
    """True when this case-code attempt must be refused without looking."""
    if code_limiter.blocked(client_key()) or code_global_limiter.blocked("all"):
        return True
    code_limiter.hit(client_key())
    code_global_limiter.hit("all")
    return False


@dataclass(frozen=True)
class UploadLimits:
    max_file_bytes: int
    max_files: int

    @property
    def max_file_mb(self) -> int:
        return self.max_file_bytes // MB


def upload_limits(session: Session, org_id: int) -> UploadLimits:
    """The organisation's upload limits (admin settings), with defaults of 100 MB and 20."""
    values = dict(
        session.execute(
            select(OrgSetting.key, OrgSetting.value).where(
                OrgSetting.org_id == org_id,
                OrgSetting.key.in_(["upload_max_file_mb", "upload_max_files"]),
            )
        ).all()
    )
    max_mb = int(json.loads(values.get("upload_max_file_mb", "100")))
    max_files = int(json.loads(values.get("upload_max_files", "20")))
    return UploadLimits(max_file_bytes=max_mb * MB, max_files=max_files)
