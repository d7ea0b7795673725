"""BCP 47 language tags: validation, canonical casing and the fallback chain."""

from __future__ import annotations

import re

# Well-formed BCP 47 (RFC 5646) tags without grandfathered forms: language, optional
# extlang/script/region, variants, extensions and a private-use suffix.
_TAG = re.compile(
    r"^(?P<language>[a-z]{2,3}(?:-[a-z]{3}){0,3}|[a-z]{4,8})"
    r"(?:-(?P<script>[a-z]{4}))?"
    r"(?:-(?P<region>[a-z]{2}|[0-9]{3}))?"
    r"(?P<rest>(?:-(?:[a-z0-9]{5,8}|[0-9][a-z0-9]{3}))*"
    r"(?:-[0-9a-wy-z](?:-[a-z0-9]{2,8})+)*"
    r"(?:-x(?:-[a-z0-9]{1,8})+)?)$",
    re.IGNORECASE,
)
MAX_TAG_LENGTH = 35


def normalize_locale(tag: str) -> str:
    """The tag in canonical casing (`pt-BR`, `zh-Hant-TW`); ValueError when not BCP 47.

    Accepts the POSIX underscore (`fr_CA`) that clients often send.
    """
    candidate = tag.strip().replace("_", "-")
    match = _TAG.match(candidate) if len(candidate) <= MAX_TAG_LENGTH else None
    if match is None:
        raise ValueError(f"'{tag}' is not a BCP 47 language tag, e.g. 'en' or 'fr-CA'")
    parts = [match["language"].lower()]
    if match["script"]:
        parts.append(match["script"].title())
    if match["region"]:
        parts.append(match["region"].upper())
    if match["rest"]:
        parts.append(match["rest"].lstrip("-").lower())
    return "-".join(parts)


def fallback_chain(locale: str | None, default: str) -> list[str]:
    """The locales to try, most specific first: `fr-CA` → `fr` → the default.

    Subtags are dropped from the right one at a time, so `zh-Hant-TW` tries `zh-Hant`
    before `zh`. Each locale appears once.
    """
    chain: list[str] = []
    if locale:
        parts = locale.split("-")
        chain.extend("-".join(parts[:n]) for n in range(len(parts), 0, -1))
    chain.append(default)
    return list(dict.fromkeys(chain))
