"""Channel content as templates: which parts of each channel are templates, and how one
template version (content per locale and channel) compiles and renders."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

from herald.locales import fallback_chain, normalize_locale
from herald.templating.errors import RenderFailed, TemplateInvalid
from herald.templating.limits import DEFAULT_LIMITS, RenderBudget, RenderLimits
from herald.templating.parts import TemplatePart, compile_part

# RFC 5322 caps a header line at 998 characters.
MAX_SUBJECT_LENGTH = 998


@dataclass(frozen=True)
class _Field:
    kind: Literal["text", "html", "strings", "json"]  # strings: {key: text template}
    required: bool = False


_TITLE_BODY = {"title": _Field("text", True), "body": _Field("text", True)}
CHANNEL_FIELDS: dict[str, dict[str, _Field]] = {
    "email": {"subject": _Field("text", True), "text": _Field("text"), "html": _Field("html")},
    "sms": {"text": _Field("text", True)},
    # Free-form text (inside the 24-hour window), a Content template, or both (the text is
    # sent inside the window, the template outside it).
    "whatsapp": {
        "text": _Field("text"),
        "content_sid": _Field("text"),
        "content_variables": _Field("strings"),
    },
    "push": {
        **_TITLE_BODY,
        "data": _Field("strings"),
        "image": _Field("text"),
        "sound": _Field("text"),
        "collapse_key": _Field("text"),
        # Numbers and choices: kept as given (a string among them is a template).
        "badge": _Field("json"),
        "ttl_seconds": _Field("json"),
        "priority": _Field("json"),
    },
    "web_push": {
        **_TITLE_BODY,
        "url": _Field("text"),
        "icon": _Field("text"),
        "data": _Field("json"),
        "ttl_seconds": _Field("json"),
        "urgency": _Field("json"),
        "topic": _Field("text"),
    },
    "in_app": {
        **_TITLE_BODY,
        "action_url": _Field("text"),
        "actions": _Field("json"),
        "data": _Field("json"),
        "expires_at": _Field("json"),
    },
    "webhook": {"body": _Field("json", True)},
}
"""Only email's html is HTML (autoescaped); in json fields every string is a template."""


class CompiledChannel:
    """One channel's content, compiled: every template string of it, in its shape."""

    def __init__(self, channel: str, fields: dict[str, Any]) -> None:
        self.channel = channel
        self._fields = fields
        self.variables: frozenset[str] = frozenset().union(*(p.variables for p in _parts(fields)))

    def render(
        self, variables: Mapping[str, Any], limits: RenderLimits = DEFAULT_LIMITS
    ) -> dict[str, Any]:
        """The content rendered for `variables`, in the same shape (absent fields None).

        All parts share one budget. An email's subject is collapsed to one line. (Deriving a
        missing text part from the html is the email composer's job, for inline content
        too: `herald.services.email.complete_email`.) Raises RenderFailed.
        """
        with RenderBudget(limits) as budget:
            rendered = {
                name: _render(node, variables, budget) for name, node in self._fields.items()
            }
        if self.channel == "email":
            _finish_email(rendered)
        return rendered


def _render(node: Any, variables: Mapping[str, Any], budget: RenderBudget) -> Any:
    if isinstance(node, TemplatePart):
        return node.render(variables, budget)
    if isinstance(node, dict):
        return {key: _render(value, variables, budget) for key, value in node.items()}
    if isinstance(node, list):
        return [_render(value, variables, budget) for value in node]
    return node


def _parts(node: Any) -> Iterable[TemplatePart]:
    if isinstance(node, TemplatePart):
        yield node
    elif isinstance(node, dict):
        for value in node.values():
            yield from _parts(value)
    elif isinstance(node, list):
        for value in node:
            yield from _parts(value)


def _finish_email(rendered: dict[str, Any]) -> None:
    subject = " ".join(rendered["subject"].split())
    if not subject:
        raise RenderFailed("email.subject: renders empty")
    if len(subject) > MAX_SUBJECT_LENGTH:
        raise RenderFailed(
            f"email.subject: renders {len(subject):,} characters, "
            f"more than the {MAX_SUBJECT_LENGTH} an email subject can hold"
        )
    rendered["subject"] = subject


def compile_channel(
    channel: str, content: Mapping[str, Any], *, field: str, locale: str | None = None
) -> CompiledChannel:
    """Validate and compile every template string of one channel's content.

    `field` is the request path of the content (`channels.email`); errors name the part
    under it (`channels.email.html`). With `locale`, messages name it too, for templates
    with several locales. Raises TemplateInvalid listing every invalid part.
    """
    compiler = _Compiler(channel, field, f" ({locale})" if locale else "")
    fields = compiler.compile(content)
    if compiler.errors:
        first = compiler.errors[0]
        details = [d for error in compiler.errors for d in error.details]
        raise TemplateInvalid(first.message, details)
    return CompiledChannel(channel, fields)


class _Compiler:
    """Compiles one channel's content, collecting every error rather than the first."""

    def __init__(self, channel: str, field: str, locale_note: str) -> None:
        self.channel = channel
        self.field = field
        self.locale_note = locale_note
        self.errors: list[TemplateInvalid] = []

    def fail(self, path: str, message: str) -> None:
        label = f"{self.channel}.{path}" if path else self.channel
        field = f"{self.field}.{path}" if path else self.field
        self.errors.append(
            TemplateInvalid(
                f"{label}{self.locale_note}: {message}", [{"field": field, "message": message}]
            )
        )

    def compile(self, content: Mapping[str, Any]) -> dict[str, Any]:
        spec = CHANNEL_FIELDS.get(self.channel)
        if spec is None:
            self.fail("", f"unknown channel, expected one of {', '.join(CHANNEL_FIELDS)}")
            return {}
        if not isinstance(content, Mapping):
            self.fail("", "must be an object")
            return {}
        for name in content.keys() - spec.keys():
            self.fail(str(name), "unknown field")
        fields = {name: self.field_value(name, f, content.get(name)) for name, f in spec.items()}
        if self.channel == "email" and not content.get("text") and not content.get("html"):
            self.fail("", "text or html is required")
        if (
            self.channel == "whatsapp"
            and not content.get("text")
            and not content.get("content_sid")
        ):
            self.fail("", "text or content_sid is required")
        return fields

    def field_value(self, name: str, spec: _Field, value: Any) -> Any:
        if value is None or value == "":
            if spec.required:
                self.fail(name, "is required")
            return None
        if spec.kind in ("text", "html"):
            return self.template(name, value, html=spec.kind == "html")
        if spec.kind == "strings":
            if not isinstance(value, Mapping):
                self.fail(name, "must be an object of strings")
                return None
            return {str(key): self.template(f"{name}.{key}", text) for key, text in value.items()}
        return self.json(name, value)

    def template(self, path: str, source: Any, *, html: bool = False) -> TemplatePart | None:
        if not isinstance(source, str):
            self.fail(path, "must be a string")
            return None
        label = f"{self.channel}.{path}{self.locale_note}"
        try:
            return compile_part(source, label=label, field=f"{self.field}.{path}", html=html)
        except TemplateInvalid as exc:
            self.errors.append(exc)
            return None

    def json(self, path: str, value: Any) -> Any:
        if isinstance(value, str):
            return self.template(path, value)
        if isinstance(value, Mapping):
            return {str(k): self.json(f"{path}.{k}", v) for k, v in value.items()}
        if isinstance(value, list):
            return [self.json(f"{path}[{i}]", v) for i, v in enumerate(value)]
        return value


@dataclass(frozen=True, eq=False)
class CompiledTemplate:
    """One template version, compiled: {locale: {channel: CompiledChannel}}."""

    default_locale: str
    contents: Mapping[str, Mapping[str, CompiledChannel]]
    variables: frozenset[str]
    """Every variable any part uses (some may be optional, via `default` or `is defined`)."""

    @classmethod
    def compile(
        cls,
        default_locale: str,
        contents: Mapping[str, Mapping[str, Mapping[str, Any]]],
        *,
        field_prefix: Callable[[str, str], str] | None = None,
    ) -> CompiledTemplate:
        """Compile every channel of every locale; the default locale must have content.

        `field_prefix(locale, channel)` gives the request path of a content in errors
        (default `"<locale>.<channel>"`). Raises TemplateInvalid listing every error.
        """
        prefix = field_prefix or (lambda locale, channel: f"{locale}.{channel}")
        default = _locale(default_locale, "locale")
        several = len(contents) > 1
        compiled: dict[str, dict[str, CompiledChannel]] = {}
        errors: list[TemplateInvalid] = []
        for tag, channels in contents.items():
            locale = _locale(tag, tag)
            if locale in compiled:
                raise TemplateInvalid(
                    f"locale '{locale}' is given twice", [{"field": tag, "message": "duplicate"}]
                )
            compiled[locale] = {}
            for channel, content in channels.items():
                try:
                    compiled[locale][channel] = compile_channel(
                        channel,
                        content,
                        field=prefix(locale, channel),
                        locale=locale if several else None,
                    )
                except TemplateInvalid as exc:
                    errors.append(exc)
        if errors:
            raise TemplateInvalid(errors[0].message, [d for e in errors for d in e.details])
        if default not in compiled:
            raise TemplateInvalid(
                f"no content for the default locale '{default}'",
                [{"field": "locale", "message": "has no content"}],
            )
        variables = frozenset().union(
            *(c.variables for channels in compiled.values() for c in channels.values())
        )
        return cls(default, compiled, variables)

    def channels(self) -> frozenset[str]:
        """The channels some locale has content for."""
        return frozenset(c for channels in self.contents.values() for c in channels)

    def locales(self) -> list[str]:
        """The locales with content, the default first."""
        return [self.default_locale, *(t for t in self.contents if t != self.default_locale)]

    def has_content(self, locale: str, channel: str) -> bool:
        """Whether `locale` itself (without fallback) has content for `channel`."""
        return channel in self.contents.get(locale, {})

    def variables_for(self, channels: Iterable[str]) -> frozenset[str]:
        """The variables the content of these channels uses, in any locale."""
        wanted = set(channels)
        return frozenset().union(
            *(
                compiled.variables
                for by_channel in self.contents.values()
                for channel, compiled in by_channel.items()
                if channel in wanted
            )
        )

    def channel_variables(self, locale: str | None, channel: str) -> frozenset[str]:
        """The variables of the content `render(channel, locale, ...)` would render."""
        resolved = self.resolve_locale(locale, channel)
        return frozenset() if resolved is None else self.contents[resolved][channel].variables

    def resolve_locale(self, locale: str | None, channel: str) -> str | None:
        """The locale whose content a recipient in `locale` gets on `channel`: `fr-CA`,
        then `fr`, then the default. None when none of them has content for it.

        A locale that is not a valid BCP 47 tag falls back to the default.
        """
        try:
            requested = normalize_locale(locale) if locale else None
        except ValueError:
            requested = None
        for tag in fallback_chain(requested, self.default_locale):
            if channel in self.contents.get(tag, {}):
                return tag
        return None

    def render(
        self,
        channel: str,
        locale: str | None,
        variables: Mapping[str, Any],
        limits: RenderLimits = DEFAULT_LIMITS,
    ) -> dict[str, Any]:
        """The content of `channel` for a recipient in `locale` (with fallback), rendered.

        Raises RenderFailed, also when no locale in the chain has content for `channel`.
        """
        resolved = self.resolve_locale(locale, channel)
        if resolved is None:
            raise RenderFailed(f"the template has no {channel} content")
        return self.contents[resolved][channel].render(variables, limits)


def _locale(tag: str, field: str) -> str:
    try:
        return normalize_locale(tag)
    except ValueError as exc:
        raise TemplateInvalid(str(exc), [{"field": field, "message": str(exc)}]) from None
