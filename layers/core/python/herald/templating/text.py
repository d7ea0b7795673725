"""The plain-text part of an HTML email."""

from __future__ import annotations

import re
from html.parser import HTMLParser

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


def html_to_text(html: str) -> str:
    """A readable plain-text version of an HTML email.

    Drops the head, styles and scripts; blocks and `<br>` become line breaks (paragraphs,
    headings, lists and tables a blank line), `<li>` a "- " line, `<a href=u>label</a>`
    "label (u)" unless the label is the address; whitespace collapses, entities are
    unescaped, and there is never more than one blank line in a row.
    """
    parser = _TextParser()
    parser.feed(html)
    parser.close()
    text = _PARAGRAPH_BREAK.sub("\n\n", "".join(parser.out))
    text = _LINE_BREAK.sub("\n", text)
    lines: list[str] = []
    for raw in text.split("\n"):
        line = " ".join(raw.split())
        if line or (lines and lines[-1]):  # at most one blank line in a row
            lines.append(line)
    return "\n".join(lines).strip()


class _TextParser(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.out: list[str] = []
        self.hidden = 0
        self.links: list[tuple[str, int]] = []  # (href, where its label starts in out)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _HIDDEN:
            self.hidden += 1
        elif tag == "body":
            self.hidden = 0  # a head left open ends where the body starts
        elif tag == "br":
            self.out.append("\n")
        elif tag == "li":
            self.out.append(_LINE + "- ")
        else:
            self._block(tag)
            if tag == "a":
                self.links.append((dict(attrs).get("href") or "", len(self.out)))

    def handle_endtag(self, tag: str) -> None:
        if tag in _HIDDEN:
            self.hidden = max(self.hidden - 1, 0)
        elif tag == "a" and self.links:
            href, start = self.links.pop()
            label = " ".join("".join(self.out[start:]).translate(_DATA).split())
            href = href.strip()
            if _shows_link(href) and label not in (href, href.removeprefix("mailto:")):
                self.out.append(f" ({href})" if label else href)
        else:
            self._block(tag)

    def _block(self, tag: str) -> None:
        if tag in _PARAGRAPHS:
            self.out.append(_PARAGRAPH)
        elif tag in _LINES:
            self.out.append(_LINE)
        elif tag in _CELLS:
            self.out.append(" ")

    def handle_data(self, data: str) -> None:
        if not self.hidden:
            self.out.append(data.translate(_DATA))


def _shows_link(href: str) -> bool:
    return bool(href) and not href.startswith(("#", "javascript:"))
