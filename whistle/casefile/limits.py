"""The organisation's limits on the files of a case (admin settings), for reporters and staff
alike."""

from __future__ import annotations

import json
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from whistle.core.models import OrgSetting

MB = 1024 * 1024


@dataclass(frozen=True)
class UploadLimits:
    max_file_bytes: int
    max_files: int
    max_total_bytes: int

    @property
    def max_file_mb(self) -> int:
        return self.max_file_bytes // MB

    @property
    def max_total_mb(self) -> int:
        return self.max_total_bytes // MB


def upload_limits(session: Session, org_id: int) -> UploadLimits:
    """The organisation's upload limits (admin settings).

    Defaults: 100 MB per file, 20 files and 200 MB in one report or message. The deployment's
    ``max_request_mb`` caps every request on top of these.
    """
    values = dict(
        session.execute(
            select(OrgSetting.key, OrgSetting.value).where(
                OrgSetting.org_id == org_id,
                OrgSetting.key.in_(
                    ["upload_max_file_mb", "upload_max_files", "upload_max_total_mb"]
                ),
            )
        ).all()
    )
    max_mb = int(json.loads(values.get("upload_max_file_mb", "100")))
    max_files = int(json.loads(values.get("upload_max_files", "20")))
    max_total_mb = int(json.loads(values.get("upload_max_total_mb", "200")))
    return UploadLimits(
        max_file_bytes=max_mb * MB, max_files=max_files, max_total_bytes=max_total_mb * MB
    )
