"""Sending a decrypted attachment to the browser, for the reporter's and the handlers' side.

The body is the stream of authenticated plaintext from whistle/conversation.py (never the
whole file in memory); the file is always offered as a download, never shown inline, so a
reporter's HTML or SVG file cannot run in Whistle's origin.
"""

from __future__ import annotations

from collections.abc import Iterator
from urllib.parse import quote

from werkzeug.wrappers import Response

from whistle.conversation import FileView


def attachment_disposition(name: str) -> str:
    """``Content-Disposition`` for ``name``: an ASCII fallback and the exact UTF-8 name."""
    ascii_name = name.encode("ascii", "replace").decode().replace('"', "_").replace("?", "_")
    return f"attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(name)}"


def download_response(view: FileView, chunks: Iterator[bytes]) -> Response:
    """A streamed download of one decrypted file."""
    response = Response(chunks, mimetype="application/octet-stream")
    response.headers["Content-Disposition"] = attachment_disposition(view.name)
    response.headers["Content-Length"] = str(view.size)
    return response
