"""The preference center's form post, read back into `Preferences`."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from urllib.parse import parse_qs

from pydantic import ValidationError

from herald.errors import InvalidRequest
from herald.models.common import Channel
from herald.models.users import Preferences, QuietHours

# Browsers submit <input type="time"> as HH:MM, or HH:MM:SS(.sss) when a step asks for it.
_TIME_WITH_SECONDS = re.compile(r"^(\d\d:\d\d)(?::\d\d(?:\.\d+)?)?$")


def parse_preference_form(
    form: Mapping[str, Sequence[str]] | str,
    known_channels: Iterable[Channel],
    known_categories: Iterable[str],
) -> Preferences:
    """The preferences a submitted page asks for; InvalidRequest for unusable quiet hours.

    `form` is the urlencoded body or its parsed fields. An unticked checkbox is not sent, so
    every channel and category the page listed (`known_*`) is False unless present; values
    the page did not list are ignored: a form cannot invent a category.
    """
    fields = parse_qs(form, keep_blank_values=True) if isinstance(form, str) else form
    chosen_channels = set(fields.get("channels", ()))
    chosen_categories = set(fields.get("categories", ()))
    return Preferences(
        channels={name: name in chosen_channels for name in known_channels},
        categories={name: name in chosen_categories for name in known_categories},
        quiet_hours=_quiet_hours(fields) if fields.get("quiet_hours_enabled") else None,
    )


def _quiet_hours(fields: Mapping[str, Sequence[str]]) -> QuietHours:
    start, end = (_clock_time(fields, name) for name in ("quiet_hours_start", "quiet_hours_end"))
    try:
        return QuietHours(start=start, end=end)
    except ValidationError as exc:
        # Details name the form fields (quiet_hours_start, ...), not the model's.
        details = [
            {"field": "_".join(["quiet_hours", *map(str, e["loc"])]), "message": e["msg"]}
            for e in exc.errors()
        ]
        raise InvalidRequest(
            "Quiet hours need a start and an end time that differ, like 22:00 and 08:00.",
            details,
        ) from exc


def _clock_time(fields: Mapping[str, Sequence[str]], name: str) -> str:
    values = fields.get(name) or [""]
    match = _TIME_WITH_SECONDS.match(values[0])
    return match[1] if match else values[0]
