"""Reading a template's text as a person would see it (what must be translatable)."""

from __future__ import annotations

import re
from html.parser import HTMLParser

USER_FACING_ATTRS = {"title", "alt", "placeholder", "aria-label", "aria-description"}


class TextCollector(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.found: list[str] = []
        self._skip = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in ("script", "style"):
            self._skip += 1
        for name, value in attrs:
            if name in USER_FACING_ATTRS and value and re.search(r"[A-Za-zÆØÅæøå]", value):
                self.found.append(f"{tag}[{name}]={value!r}")

    def handle_endtag(self, tag: str) -> None:
        if tag in ("script", "style") and self._skip:
            self._skip -= 1

    def handle_data(self, data: str) -> None:
        if not self._skip and re.search(r"[A-Za-zÆØÅæøå]{2,}", data):
            self.found.append(data.strip())
