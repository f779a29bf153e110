"""What the writer (whistle/export.py) and the reader (whistle/bundle_reader.py) of a case file
for counsel must agree on, in one place (docs/export-format.md).

The contexts are authenticated with the sealed bundle key and the encrypted archive, so a key
or archive moved to another export's header fails to open.
"""

from __future__ import annotations

FORMAT = "whistle-export"
VERSION = 1
MAGIC = b"WHISTLE-EXPORT\x00\x01"
# The first line of counsel's key file (their wrapped private key), written by the counsel
# pages and read by `whistle export open`.
KEY_FILE_HEADER = "WHISTLE COUNSEL KEY FILE v1"


def key_context(export_id: str) -> str:
    """What the bundle key, sealed to counsel's public key, is bound to."""
    return f"export:{export_id}"


def bundle_context(export_id: str) -> tuple[str, str]:
    """What the encrypted archive of the bundle is bound to."""
    return ("export-bundle", export_id)
