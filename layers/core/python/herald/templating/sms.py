"""How an SMS text is encoded and how many segments it is billed as."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

# GSM 03.38 default alphabet (the escape code 0x1B left out) and its extension table,
# whose characters take an escape septet plus their own.
GSM_BASIC = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
GSM_EXTENSION = frozenset("\f^{}\\[~]|€")
# (single message, each part of a concatenated one): the user data header of a
# concatenated message takes 7 septets / 3 UTF-16 units of every part.
_GSM_LIMITS = (160, 153)
_UCS2_LIMITS = (70, 67)


@dataclass(frozen=True)
class SmsEncoding:
    encoding: Literal["GSM-7", "UCS-2"]
    segments: int
    characters: int
    """GSM-7 septets (extension characters count 2), or UTF-16 code units for UCS-2."""


def sms_encoding(text: str) -> SmsEncoding:
    """The encoding an SMS of `text` needs and how many segments it takes.

    GSM-7 when every character is in the GSM 03.38 alphabet, else UCS-2 (UTF-16: an
    emoji takes 2 units). Parts of a long message never split an escape sequence or a
    surrogate pair, as phones and carriers do. An empty text takes 0 segments.
    """
    if all(c in GSM_BASIC or c in GSM_EXTENSION for c in text):
        widths = [2 if c in GSM_EXTENSION else 1 for c in text]
        return SmsEncoding("GSM-7", _segments(widths, _GSM_LIMITS), sum(widths))
    widths = [2 if ord(c) > 0xFFFF else 1 for c in text]
    return SmsEncoding("UCS-2", _segments(widths, _UCS2_LIMITS), sum(widths))


def _segments(widths: list[int], limits: tuple[int, int]) -> int:
    single, part = limits
    total = sum(widths)
    if total <= single:
        return 1 if total else 0
    segments, used = 1, 0
    for width in widths:
        if used + width > part:  # a character that does not fit starts the next part
            segments += 1
            used = 0
        used += width
    return segments
