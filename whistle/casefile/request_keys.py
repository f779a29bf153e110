"""The key of a data-subject request, and who holds it (GDPR art. 15-21 requests: whistle/rights/).

A request's notes and subject are encrypted under its own key, sealed to the members who may
handle it: the rights handlers and the holders of the cases linked to it. The key ring lives
here, beside the case's own key epochs (whistle/casefile/access.py), because leaving a case
(whistle/casefile/sharing.py) also takes the person out of the requests linked to it: the key
is renewed under a new epoch, sealed to those who remain (:func:`renew_request_key`).
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from typing import cast

from sqlalchemy import Table, delete, insert, select
from sqlalchemy.orm import Session

from crypto import (
    KeyKind,
    OpenError,
    PrivateKey,
    PublicKey,
    open_case_key,
    seal_case_key,
)
from whistle.casefile.access import KeyRing, NoAccess
from whistle.casefile.holders import holds
from whistle.core import audit
from whistle.core.clock import Clock
from whistle.core.contexts import (
    rights_request_context,
)
from whistle.core.models import (
    RightsRequest,
    RightsRequestCase,
    RightsRequestKey,
    User,
)
from whistle.core.trust import trusted_recovery_key

REQUEST_KEY_SIZE = 32


KEYS = cast(Table, RightsRequestKey.__table__)


def new_request_key() -> bytes:
    return secrets.token_bytes(REQUEST_KEY_SIZE)  # 256 bits, as a case key


def _seal(public: PublicKey, key: bytes, uid: str, epoch: int) -> bytes:
    return seal_case_key(
        public, key, case_id=rights_request_context(uid), kind=KeyKind.CONTENT, epoch=epoch
    )


def seal_request_key(
    session: Session, request: RightsRequest, key: bytes, epoch: int, users: Sequence[User]
) -> None:
    """Seal the request key of ``epoch`` to the recovery key and to ``users``. Flushes."""
    rows: list[dict[str, object]] = [
        {
            "org_id": request.org_id,
            "request_id": request.id,
            "epoch": epoch,
            "recipient": "recovery",
            "user_id": None,
            "sealed": _seal(trusted_recovery_key(session, request.org_id), key, request.uid, epoch),
        }
    ]
    for member in users:
        assert member.public_key is not None
        rows.append(
            {
                "org_id": request.org_id,
                "request_id": request.id,
                "epoch": epoch,
                "recipient": "user",
                "user_id": member.id,
                "sealed": _seal(PublicKey.from_bytes(member.public_key), key, request.uid, epoch),
            }
        )
    session.execute(insert(KEYS), rows)


def request_holder_ids(session: Session, request_id: int) -> set[int]:
    """Everyone holding the request's key (any epoch)."""
    return {
        int(u)
        for u in session.scalars(
            select(RightsRequestKey.user_id)
            .where(RightsRequestKey.request_id == request_id, RightsRequestKey.recipient == "user")
            .distinct()
        )
        if u is not None
    }


def may_open(session: Session, request: RightsRequest, user_id: int) -> bool:
    """Whether ``user_id`` may read and act on the request: they hold every case it is linked
    to (asked of each case, whistle/casefile/access.py). Their key is checked by
    :func:`open_key`."""
    return all(holds(session, case_id, user_id) for case_id in _linked_ids(session, request.id))


def _linked_ids(session: Session, request_id: int) -> list[int]:
    return [
        int(c)
        for c in session.scalars(
            select(RightsRequestCase.case_id).where(RightsRequestCase.request_id == request_id)
        )
    ]


def open_key(
    session: Session, request: RightsRequest, user_id: int, private_key: PrivateKey | None
) -> KeyRing:
    """The request's keys, every epoch, opened with the user's own sealed copies;
    :class:`NoAccess` without the newest one, or for someone who does not hold every linked
    case."""
    if private_key is None or not may_open(session, request, user_id):
        raise NoAccess
    opened: dict[int, bytes] = {}
    for epoch, sealed in session.execute(
        select(RightsRequestKey.epoch, RightsRequestKey.sealed).where(
            RightsRequestKey.request_id == request.id,
            RightsRequestKey.user_id == user_id,
            RightsRequestKey.recipient == "user",
        )
    ):
        try:
            opened[int(epoch)] = open_case_key(
                private_key,
                sealed,
                case_id=rights_request_context(request.uid),
                kind=KeyKind.CONTENT,
                epoch=int(epoch),
            )
        except OpenError:
            continue
    if request.key_epoch not in opened:
        raise NoAccess
    return KeyRing(opened)


def renew_request_key(
    session: Session,
    clock: Clock,
    request: RightsRequest,
    departing: set[int],
    *,
    actor_user_id: int | None,
    reason: str,
) -> bool:
    """A new epoch of the request's key without ``departing`` (those among them who hold it):
    sealed to the holders who remain and the recovery key; every key row of those leaving is
    deleted. True when something changed. Flushes."""
    held = request_holder_ids(session, request.id)
    leaving = held & departing
    if not leaving:
        return False
    epoch = request.key_epoch + 1
    remaining = sorted(held - leaving)
    users = list(
        session.scalars(
            select(User).where(User.id.in_(remaining or [-1]), User.public_key.is_not(None))
        )
    )
    session.execute(
        delete(RightsRequestKey).where(
            RightsRequestKey.request_id == request.id, RightsRequestKey.user_id.in_(leaving)
        )
    )
    seal_request_key(session, request, new_request_key(), epoch, users)
    request.key_epoch = epoch
    audit.record(
        session,
        clock,
        action="rights.keys_renewed",
        org_id=request.org_id,
        actor_user_id=actor_user_id,
        detail={"request": request.id, "epoch": epoch, "reason": reason, "departed": len(leaving)},
    )
    session.flush()
    return True


def leave_case_requests(
    session: Session,
    clock: Clock,
    case_id: int,
    departing: set[int],
    *,
    actor_user_id: int | None,
    reason: str,
) -> None:
    """``departing`` left case ``case_id``: every request linked to it renews its key without
    them. Flushes."""
    for request in session.scalars(
        select(RightsRequest)
        .join(RightsRequestCase, RightsRequestCase.request_id == RightsRequest.id)
        .where(RightsRequestCase.case_id == case_id)
    ):
        renew_request_key(
            session, clock, request, departing, actor_user_id=actor_user_id, reason=reason
        )


def leave_requests(
    session: Session,
    clock: Clock,
    user_id: int,
    *,
    org_id: int | None,
    actor_user_id: int | None,
    reason: str,
) -> None:
    """``user_id`` left the organisation (or every one): every request they hold renews its
    key without them. Flushes."""
    query = (
        select(RightsRequest)
        .join(RightsRequestKey, RightsRequestKey.request_id == RightsRequest.id)
        .where(RightsRequestKey.user_id == user_id)
        .distinct()
    )
    if org_id is not None:
        query = query.where(RightsRequest.org_id == org_id)
    for request in list(session.scalars(query)):
        renew_request_key(
            session, clock, request, {user_id}, actor_user_id=actor_user_id, reason=reason
        )
