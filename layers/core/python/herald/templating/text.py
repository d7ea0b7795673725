"""The plain-text part of an HTML email."""

from __future__ import annotations

import re
from html import unescape

# Content that is not text a reader sees.
_HIDDEN = frozenset({"head", "style", "script", "title", "template", "noscript"})
# Blocks set off by a blank line, and blocks that only start a new line.
_PARAGRAPHS = frozenset(
    {
        "p", "h1", "h2", "h3", "h4", "h5", "h6", "ul", "ol", "dl", "table",
        "blockquote", "pre", "hr", "address", "figure", "form",
    }
)  # fmt: skip
_LINES = frozenset(
    {
        "div", "tr", "li", "dt", "dd", "section", "article", "header", "footer", "nav",
        "main", "aside", "center", "caption", "tbody", "thead", "tfoot", "figcaption",
    }
)  # fmt: skip
_CELLS = frozenset({"td", "th"})
# Where a block starts or ends a line or paragraph; adjacent ones merge into one break
# (`</tr><tr>` is one line break, not a blank line), unlike `<br>`, a "\n" of its own.
_LINE, _PARAGRAPH = "\x01", "\x02"
_DATA = str.maketrans({"\x01": None, "\x02": None, "\t": " ", "\n": " ", "\r": " ", "\f": " "})
_PARAGRAPH_BREAK = re.compile(r"[ \x01]*\x02[ \x01\x02]*")
_LINE_BREAK = re.compile(r" *\x01[ \x01]*")


# One regular expression splits the html into what a reader never sees (comments,
# declarations, scripts and styles, dropped), tags (name, attributes) and text. stdlib's
# HTMLParser did the same in pure Python 2.5 times slower, which showed in the worker for
# every email without a text part.
_TOKENS = re.compile(
    r"<!--.*?(?:-->|$)"  # a comment, closed or not
    r"|<(?:script|style)\b.*?(?:</(?:script|style)\s*>|$)"  # raw text: a "<" in it is no tag
    r"|<[!?][^>]*>?"  # doctype, CDATA, processing instruction
    r"|<(/?)([a-zA-Z][^\s/>]*)((?:[^>\"']|\"[^\"]*\"|'[^']*')*)>?"  # a tag; quotes may hold >
    r"|([^<]+|<)",  # text, or a lone "<"
    re.DOTALL | re.IGNORECASE,
)
_HREF = re.compile(r"""\bhref\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s>]+))""", re.IGNORECASE)


def html_to_text(html: str) -> str:
    """A readable plain-text version of an HTML email.

    Drops the head, styles and scripts; blocks and `<br>` become line breaks (paragraphs,
    headings, lists and tables a blank line), `<li>` a "- " line, `<a href=u>label</a>`
    "label (u)" unless the label is the address; whitespace collapses, entities are
    unescaped, and there is never more than one blank line in a row.
    """
    out = _TextWriter()
    for closing, tag, attributes, data in _TOKENS.findall(html):
        if tag:
            if closing:
                out.end(tag.lower())
            else:
                out.start(tag.lower(), attributes)
        elif data:
            out.data(data)
    text = _PARAGRAPH_BREAK.sub("\n\n", "".join(out.parts))
    text = _LINE_BREAK.sub("\n", text)
    lines: list[str] = []
    for raw in text.split("\n"):
        line = " ".join(raw.split())
        if line or (lines and lines[-1]):  # at most one blank line in a row
            lines.append(line)
    return "\n".join(lines).strip()


class _TextWriter:
    """Turns the tags and text of an html document into text with break markers."""

    def __init__(self) -> None:
        self.parts: list[str] = []
        self.hidden = 0
        self.links: list[tuple[str, int]] = []  # (href, where its label starts in parts)

    def start(self, tag: str, attributes: str) -> None:
        if tag in _HIDDEN:
            self.hidden += 1
        elif tag == "body":
            self.hidden = 0  # a head left open ends where the body starts
        elif tag == "br":
            self.parts.append("\n")
        elif tag == "li":
            self.parts.append(_LINE + "- ")
        else:
            self._block(tag)
            if tag == "a":
                self.links.append((_href(attributes), len(self.parts)))

    def end(self, tag: str) -> None:
        if tag in _HIDDEN:
            self.hidden = max(self.hidden - 1, 0)
        elif tag == "a" and self.links:
            href, start = self.links.pop()
            label = " ".join("".join(self.parts[start:]).translate(_DATA).split())
            if _shows_link(href) and label not in (href, href.removeprefix("mailto:")):
                self.parts.append(f" ({href})" if label else href)
        else:
            self._block(tag)

    def _block(self, tag: str) -> None:
        if tag in _PARAGRAPHS:
            self.parts.append(_PARAGRAPH)
        elif tag in _LINES:
            self.parts.append(_LINE)
        elif tag in _CELLS:
            self.parts.append(" ")

    def data(self, text: str) -> None:
        if not self.hidden:
            self.parts.append(
                unescape(text).translate(_DATA) if "&" in text else text.translate(_DATA)
            )


def _href(attributes: str) -> str:
    found = _HREF.search(attributes)
    if found is None:
        return ""
    return unescape(next(value for value in found.groups() if value is not None)).strip()


def _shows_link(href: str) -> bool:
    return bool(href) and not href.startswith(("#", "javascript:"))
