"""Formatted text an administrator writes for reporters: Markdown in, safe HTML out.

An organisation's texts (:mod:`whistle.admin.texts`) are kept as Markdown, as the administrator
typed them. :func:`render` turns Markdown into HTML with markdown-it (CommonMark), then
:func:`sanitise` keeps a small safe subset with bleach: paragraphs, emphasis, lists, line breaks,
headings (levels 2 to 4) and links to http, https and mailto only, each with
``rel="noopener noreferrer"``. Anything else (a script, an image, an ``onerror`` or ``style``
attribute, a ``javascript:`` link) is dropped, its text kept as text. HTML typed among the
Markdown goes through the same sanitiser, so a text pasted from the old HTML editor still shows
as it did.

Texts saved before they were Markdown were sanitised HTML; :func:`html_to_markdown` turns such a
text into Markdown that renders the same (migration 0019 converts every stored text with it).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from html.parser import HTMLParser
from typing import Any

from bleach.html5lib_shim import Filter
from bleach.sanitizer import Cleaner
from markdown_it import MarkdownIt
from markdown_it.rules_core import StateCore
from markupsafe import Markup

ALLOWED_TAGS = ["p", "ul", "ol", "li", "a", "em", "strong", "br", "h2", "h3", "h4"]
ALLOWED_ATTRIBUTES = {"a": ["href"], "ol": ["start"]}
ALLOWED_PROTOCOLS = ["http", "https", "mailto"]
# A link opened from a reporter's page tells the other site neither where the reporter came
# from (no Referer) nor gives it a handle on this page (no window.opener).
LINK_REL = "noopener noreferrer"
# A text sits under a level-2 heading of its page: its own headings start one level lower.
TOP_HEADING, LOWEST_HEADING = 2, 4


class _SafeLinks(Filter):
    """Runs after bleach's sanitiser: every link gets ``rel="noopener noreferrer"``."""

    def __iter__(self) -> Iterator[dict[str, Any]]:
        for token in super().__iter__():
            if token["type"] in ("StartTag", "EmptyTag") and token["name"] == "a":
                token["data"] = {**dict(token["data"]), (None, "rel"): LINK_REL}
            yield token


# Elements whose content is no text for a reader: dropped whole, before bleach strips the rest.
_NOT_TEXT = re.compile(r"<(script|style|template)\b[^>]*>.*?</\1\s*>", re.S | re.I)


def sanitise(html: str) -> str:
    """The safe subset of ``html`` (see the module's description); anything else is dropped,
    its text kept as text (but for scripts and styles). Sanitising its own result changes
    nothing."""
    html = _NOT_TEXT.sub("", html)
    cleaner = Cleaner(
        tags=ALLOWED_TAGS,
        attributes=ALLOWED_ATTRIBUTES,
        protocols=ALLOWED_PROTOCOLS,
        strip=True,
        strip_comments=True,
        filters=[_SafeLinks],
    )
    return str(cleaner.clean(html))


def _lower_headings(state: StateCore) -> None:
    """``#`` is a level-2 heading, ``##`` level 3, anything deeper level 4."""
    for token in state.tokens:
        if token.type in ("heading_open", "heading_close"):
            level = min(int(token.tag[1]) + TOP_HEADING - 1, LOWEST_HEADING)
            token.tag = f"h{level}"


def _parser() -> MarkdownIt:
    parser = MarkdownIt("commonmark", {"html": True, "linkify": False, "typographer": False})
    parser.core.ruler.push("lower_headings", _lower_headings)
    # Every link is made a link here, so that bleach alone decides: a link to anything but
    # http, https or mailto loses its address and shows as its text.
    parser.validateLink = lambda url: True  # type: ignore[method-assign]
    return parser


_MARKDOWN = _parser()


def render(source: str) -> Markup:
    """Markdown ``source`` as safe HTML."""
    clean = sanitise(_MARKDOWN.render(source))
    return Markup(clean)  # noqa: S704 - sanitised with bleach just now  # nosec B704


_AROUND_BLOCKS = re.compile(r"\s*(</?(?:p|ul|ol|li|h2|h3|h4|br)\b[^>]*>)\s*")


def normalised(html: str) -> str:
    """``html`` sanitised, with runs of white space as one space and none around paragraphs,
    lists, headings and line breaks: two texts that show the same have the same normalised
    HTML."""
    clean = sanitise(html).replace("&quot;", '"').replace("&#39;", "'").replace("&#x27;", "'")
    return _AROUND_BLOCKS.sub(r"\1", re.sub(r"\s+", " ", clean)).strip()


# --- Plain text and old HTML as Markdown ------------------------------------------------------

_ALWAYS = re.compile(r"([\\`*_\[\]])")
_TAG_LIKE = re.compile(r"<(?=[A-Za-z/!?])")
_ENTITY_LIKE = re.compile(r"&(?=#?[A-Za-z0-9]+;)")
_LINE_START = re.compile(r"^(\s*)([#>+=|~-]|\d+(?=[.)]))")


def escape(text: str) -> str:
    """``text`` as Markdown that shows exactly ``text`` (line by line)."""
    lines = []
    for line in text.split("\n"):
        escaped = _ENTITY_LIKE.sub(r"\\&", _TAG_LIKE.sub(r"\\<", _ALWAYS.sub(r"\\\1", line)))
        match = _LINE_START.match(escaped)
        if match and match.group(2)[0].isdigit():
            end = match.end()
            escaped = escaped[:end] + "\\" + escaped[end:]
        elif match:
            escaped = escaped[: match.start(2)] + "\\" + escaped[match.start(2) :]
        lines.append(escaped)
    return "\n".join(lines)


def paragraphs_as_markdown(text: str) -> str:
    """Plain ``text``, one paragraph a line, as Markdown (a blank line between paragraphs)."""
    return "\n\n".join(escape(part.strip()) for part in text.split("\n") if part.strip())


@dataclass
class _Node:
    tag: str
    attrs: dict[str, str] = field(default_factory=dict)
    children: list[_Node | str] = field(default_factory=list)


class _Tree(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.root = _Node("root")
        self.stack = [self.root]

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        node = _Node(tag, {k: v or "" for k, v in attrs})
        self.stack[-1].children.append(node)
        if tag != "br":
            self.stack.append(node)

    def handle_endtag(self, tag: str) -> None:
        for depth in range(len(self.stack) - 1, 0, -1):
            if self.stack[depth].tag == tag:
                del self.stack[depth:]
                return

    def handle_data(self, data: str) -> None:
        self.stack[-1].children.append(data)


_BLOCKS = {"p", "ul", "ol", "li", "h2", "h3", "h4"}


def _inline(children: list[_Node | str], inside: frozenset[str] = frozenset()) -> str:
    """Inline HTML as Markdown; emphasis inside the same emphasis adds nothing."""
    out = []
    for child in children:
        if isinstance(child, str):
            out.append(escape(re.sub(r"\s+", " ", child)).replace("\n", " "))
        elif child.tag == "br":
            out.append("\\\n")
        elif child.tag in ("em", "strong") and child.tag not in inside:
            inner = _inline(child.children, inside | {child.tag})
            out.append(_wrapped("*" if child.tag == "em" else "**", inner))
        elif child.tag == "a":
            text = _inline(child.children, inside)
            href = child.attrs.get("href", "").replace(">", "%3E").replace("<", "%3C")
            out.append(f"[{text}](<{href}>)" if text.strip() else "")
        else:
            out.append(_inline(child.children, inside))
    return "".join(out)


def _wrapped(marker: str, inner: str) -> str:
    """Emphasis markers close to the words they mark, white space outside them."""
    core = inner.strip(" ")
    if not core:
        return inner
    before = inner[: len(inner) - len(inner.lstrip(" "))]
    after = inner[len(inner.rstrip(" ")) :]
    return f"{before}{marker}{core}{marker}{after}"


def _paragraph(inline: str) -> str:
    """Inline Markdown as a paragraph: no white space around its lines, no line break at
    either end (a break there shows nothing)."""
    lines = [line.strip(" ") for line in inline.split("\n")]
    text = "\n".join(lines).strip("\n ")
    while text.endswith("\\") and not text.endswith("\\\\"):
        text = text[:-1].rstrip("\n ")
    while text.startswith("\\\n"):
        text = text[2:].lstrip("\n ")
    return text


def _blocks(children: list[_Node | str]) -> list[str]:
    blocks: list[str] = []
    pending: list[_Node | str] = []
    last_list: str | None = None
    last_list_tag, last_alternate = "", False

    def flush() -> None:
        text = _paragraph(_inline(pending))
        if text:
            blocks.append(text)
        pending.clear()

    for child in children:
        if isinstance(child, str) or child.tag not in _BLOCKS:
            pending.append(child)
            continue
        flush()
        if child.tag in ("h2", "h3", "h4"):
            text = _paragraph(_inline(child.children)).replace("\\\n", " ")
            if text:
                blocks.append("#" * (int(child.tag[1]) - TOP_HEADING + 1) + " " + text)
        elif child.tag in ("ul", "ol"):
            # A list right after another of its kind needs other markers, or it continues it.
            follows = bool(blocks) and blocks[-1] is last_list and last_list_tag == child.tag
            alternate = follows and not last_alternate
            items = _list(child, alternate)
            if items:
                blocks.append(items)
                last_list, last_list_tag, last_alternate = items, child.tag, alternate
        else:  # a paragraph, or an item outside a list
            blocks.extend(_blocks(child.children))
    flush()
    return blocks


def _list(node: _Node, alternate: bool = False) -> str:
    items: list[str] = []
    number = int(node.attrs.get("start", "1") or 1) if node.tag == "ol" else 0
    for child in node.children:
        if isinstance(child, str):
            continue
        if node.tag == "ol":
            marker = f"{number + len(items)}{')' if alternate else '.'} "
        else:
            marker = "* " if alternate else "- "
        inner: list[_Node | str] = child.children if child.tag == "li" else [child]
        loose = any(isinstance(c, _Node) and c.tag == "p" for c in inner)
        body = ("\n\n" if loose else "\n").join(_blocks(inner))
        pad = " " * len(marker)
        lines = body.split("\n") if body else [""]
        items.append(
            marker + lines[0] + "".join("\n" + (pad + line if line else "") for line in lines[1:])
        )
    loose = any("\n\n" in item for item in items)
    return ("\n\n" if loose else "\n").join(items)


def html_to_markdown(html: str) -> str:
    """Sanitised HTML (what texts were before Markdown) as Markdown that renders the same."""
    tree = _Tree()
    tree.feed(sanitise(html))
    tree.close()
    return "\n\n".join(_blocks(tree.root.children))
