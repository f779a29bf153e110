"""The organisation's logo, shown on its reporting page.

An upload (PNG or JPEG, at most 1 MB) is drawn again as a plain PNG, so nothing of it but its
pixels is kept, and stored in the organisation's settings (:mod:`whistle.admin.org_settings`).
A refusal is a :class:`~whistle.core.refusals.Refused` on the form field ``logo``.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import io
from dataclasses import dataclass

from flask_babel import lazy_gettext as _l
from sqlalchemy import exists, select
from sqlalchemy.orm import Session

from whistle.admin.org_settings import get_value, set_value
from whistle.core import audit
from whistle.core.clock import Clock
from whistle.core.db import unit_of_work
from whistle.core.models import OrgSetting
from whistle.core.refusals import Refused

LOGO_KEY = "logo"
LOGO_MAX_BYTES = 1024 * 1024  # the upload
LOGO_MAX_PIXELS = 4000 * 4000  # the upload, checked before decoding: no decompression bombs
LOGO_BOX = (600, 200)  # what is kept: at most this wide and high


@dataclass(frozen=True)
class Logo:
    png: bytes
    etag: str


def logo(session: Session, org_id: int) -> Logo | None:
    """The organisation's logo as stored (a PNG re-encoded at upload), or None."""
    value = get_value(session, org_id, LOGO_KEY)
    if not isinstance(value, str):
        return None
    try:
        data = base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        return None
    return Logo(data, hashlib.sha256(data).hexdigest()[:32])


def has_logo(session: Session, org_id: int) -> bool:
    """Whether the organisation has a logo (without reading it)."""
    return bool(
        session.scalar(
            select(exists().where(OrgSetting.org_id == org_id, OrgSetting.key == LOGO_KEY))
        )
    )


def _reencode(data: bytes) -> tuple[bytes, int, int]:
    """The image drawn again as a plain PNG: nothing of the upload but its pixels survives
    (no EXIF, XMP, comments, text chunks or colour profile that could name a person or a
    device), scaled to fit :data:`LOGO_BOX`."""
    # Imported here, not at the top: the web workers load no image library until an admin
    # changes the logo (attachments are parsed in a helper process, whistle/casefile/sandbox.py).
    from PIL import Image, ImageOps, UnidentifiedImageError

    unreadable = Refused("logo", _l("This file is not a PNG or JPEG image that can be read."))
    too_many_pixels = Refused("logo", _l("The image has too many pixels. Choose a smaller one."))
    try:
        image = Image.open(io.BytesIO(data))
    except Image.DecompressionBombError:
        # Pillow refuses a header declaring absurd dimensions before our own check can.
        raise too_many_pixels from None
    except (UnidentifiedImageError, OSError, ValueError):
        raise unreadable from None
    with image:
        if image.format not in ("PNG", "JPEG"):
            raise Refused("logo", _l("Choose a PNG or JPEG image."))
        if image.width * image.height > LOGO_MAX_PIXELS:
            raise too_many_pixels
        try:
            image.load()
            upright = ImageOps.exif_transpose(image) if image.format == "JPEG" else image
            has_alpha = upright.mode in ("RGBA", "LA", "PA") or (
                upright.mode == "P" and "transparency" in upright.info
            )
            drawn = upright.convert("RGBA" if has_alpha else "RGB")
            drawn.thumbnail(LOGO_BOX)
            out = io.BytesIO()
            drawn.save(out, "PNG", optimize=True)
        # Pillow raises far more than its documented errors on damaged or hostile input.
        except Exception:  # noqa: BLE001
            raise unreadable from None
    return out.getvalue(), drawn.width, drawn.height


def set_logo(session: Session, clock: Clock, org_id: int, actor_id: int, data: bytes) -> None:
    """Store ``data`` (PNG or JPEG, at most 1 MB) as the logo, re-encoded, and commit."""
    with unit_of_work(session):
        if not data:
            raise Refused("logo", _l("Choose an image file."))
        if len(data) > LOGO_MAX_BYTES:
            raise Refused("logo", _l("The image is larger than 1 MB. Choose a smaller one."))
        png, width, height = _reencode(data)
        set_value(session, org_id, LOGO_KEY, base64.b64encode(png).decode("ascii"))
        audit.record(
            session,
            clock,
            action="settings.logo_changed",
            org_id=org_id,
            actor_user_id=actor_id,
            detail={"bytes": len(png), "width": width, "height": height},
        )
        session.flush()


def remove_logo(session: Session, clock: Clock, org_id: int, actor_id: int) -> bool:
    """Remove the logo, and commit; True when there was one."""
    with unit_of_work(session):
        row = session.get(OrgSetting, (org_id, LOGO_KEY))
        if row is None:
            return False
        session.delete(row)
        audit.record(
            session, clock, action="settings.logo_removed", org_id=org_id, actor_user_id=actor_id
        )
        session.flush()
        return True
