"""Template rendering: channel shapes, escaping, strict variables, locales and the cache."""

from __future__ import annotations

from typing import Any

import pytest
from herald.services.email import complete_email
from herald.templating import (
    CompiledTemplate,
    RenderFailed,
    TemplateCache,
    TemplateInvalid,
    compile_channel,
)

ORDER = {"order_id": "A-1", "name": "Ada & <Bob>", "items": [{"sku": "x<1>"}, {"sku": "y"}]}


def render(channel: str, content: dict[str, Any], variables: dict[str, Any]) -> dict[str, Any]:
    return compile_channel(channel, content, field=f"channels.{channel}").render(variables)


def test_an_email_renders_its_subject_text_and_html() -> None:
    # given
    content = {
        "subject": "Order {{ order_id }}\n  confirmed",
        "text": "Hi {{ name }}",
        "html": "<ul>{% for item in items %}<li>{{ item.sku }}</li>{% endfor %}</ul>",
    }

    # when
    rendered = render("email", content, ORDER)

    # then
    assert rendered == {
        "subject": "Order A-1 confirmed",
        "text": "Hi Ada & <Bob>",
        "html": "<ul><li>x&lt;1&gt;</li><li>y</li></ul>",
    }


def test_only_the_html_part_is_autoescaped() -> None:
    # when
    rendered = render(
        "email", {"subject": "{{ name }}", "text": "{{ name }}", "html": "{{ name }}"}, ORDER
    )

    # then
    assert rendered["subject"] == rendered["text"] == "Ada & <Bob>"
    assert rendered["html"] == "Ada &amp; &lt;Bob&gt;"


def test_without_a_text_part_the_composed_email_derives_it_from_the_html() -> None:
    # when
    rendered = render(
        "email",
        {"subject": "Hi", "html": "<h1>Hi {{ name }}</h1><p><a href='{{ url }}'>Pay</a></p>"},
        {"name": "Ada", "url": "https://pay.example/1?a=1&b=2"},
    )

    # then the render leaves it out, and composing the email derives it
    assert rendered["text"] is None
    completed = complete_email(rendered)
    assert completed["text"] == "Hi Ada\n\nPay (https://pay.example/1?a=1&b=2)"
    assert complete_email({**rendered, "text": "Own text"})["text"] == "Own text"


@pytest.mark.parametrize(
    ("subject", "message"),
    [
        ("{{ '' }}  ", "email.subject: renders empty"),
        ("{{ 'x' * 999 }}", "more than the 998 an email subject can hold"),
    ],
)
def test_a_subject_must_render_to_one_sendable_line(subject: str, message: str) -> None:
    # given
    email = compile_channel("email", {"subject": subject, "text": "x"}, field="channels.email")

    # then
    with pytest.raises(RenderFailed, match=message):
        email.render({})


@pytest.mark.parametrize(
    ("channel", "content", "expected"),
    [
        ("sms", {"text": "Code {{ code }}"}, {"text": "Code <42>"}),
        (
            "whatsapp",
            {"text": "Code {{ code }}"},
            {"text": "Code <42>", "content_sid": None, "content_variables": None},
        ),
        (
            "whatsapp",
            {"content_sid": "HX{{ 1 }}", "content_variables": {"1": "{{ code }}"}},
            {"text": None, "content_sid": "HX1", "content_variables": {"1": "<42>"}},
        ),
        (
            "push",
            {"title": "T{{ code }}", "body": "B", "data": {"code": "{{ code }}"}, "badge": 2},
            {
                "title": "T<42>",
                "body": "B",
                "data": {"code": "<42>"},
                "badge": 2,
                **dict.fromkeys(("image", "sound", "collapse_key", "ttl_seconds", "priority")),
            },
        ),
        (
            "web_push",
            {"title": "T", "body": "B", "url": "https://x.example/{{ code }}"},
            {
                "title": "T",
                "body": "B",
                "url": "https://x.example/<42>",
                "data": None,
                **dict.fromkeys(("icon", "ttl_seconds", "urgency", "topic")),
            },
        ),
        (
            "in_app",
            {
                "title": "T",
                "body": "B",
                "actions": [{"label": "Track {{ code }}", "url": "/track/{{ code }}"}],
                "data": {"n": 1, "tags": ["{{ code }}", True]},
            },
            {
                "title": "T",
                "body": "B",
                "action_url": None,
                "actions": [{"label": "Track <42>", "url": "/track/<42>"}],
                "data": {"n": 1, "tags": ["<42>", True]},
                "expires_at": None,
            },
        ),
        (
            "webhook",
            {"body": {"event": "code", "{{ code }}": [{"value": "{{ code }}"}, 3, None]}},
            {"body": {"event": "code", "{{ code }}": [{"value": "<42>"}, 3, None]}},
        ),
    ],
)
def test_every_string_of_a_channel_is_a_text_template(
    channel: str, content: dict[str, Any], expected: dict[str, Any]
) -> None:
    # when
    rendered = render(channel, content, {"code": "<42>"})

    # then
    assert rendered == expected


@pytest.mark.parametrize(
    ("template", "message"),
    [
        ("Order {{ order_id }}", "email.subject: 'order_id' is undefined"),
        ("{{ customer.name }}", "email.subject: 'dict object' has no attribute 'name'"),
        ("{% for i in missing %}{% endfor %}", "email.subject: 'missing' is undefined"),
    ],
)
def test_an_undefined_variable_or_attribute_fails_the_render(template: str, message: str) -> None:
    # given
    email = compile_channel("email", {"subject": template, "text": "x"}, field="channels.email")

    # then
    with pytest.raises(RenderFailed) as failed:
        email.render({"customer": {}})
    assert failed.value.message == message


def test_a_render_error_in_a_long_part_names_its_line() -> None:
    # given
    email = compile_channel(
        "email", {"subject": "s", "html": "<p>\n{{ a }}\n{{ b.c }}</p>"}, field="channels.email"
    )

    # then
    with pytest.raises(RenderFailed, match=r"^email\.html, line 3: 'b' is undefined$"):
        email.render({"a": 1})


def test_optional_variables_can_be_tested_under_strict_undefined() -> None:
    # when
    rendered = render(
        "sms", {"text": "{% if coupon is defined %}{{ coupon }}{% endif %}{{ x|default('-') }}"}, {}
    )

    # then
    assert rendered == {"text": "-"}


def test_the_variables_a_template_uses_are_known_when_it_is_saved() -> None:
    # when
    email = compile_channel(
        "email",
        {
            "subject": "{{ order.id }}",
            "html": "{% set total = 0 %}{% for i in items %}{{ i }}{{ loop.index }}{% endfor %}"
            "{% macro m(x) %}{{ x }}{% endmacro %}{{ m(user) }}{{ range(2)|join }}{{ total }}",
        },
        field="channels.email",
    )

    # then
    assert email.variables == {"order", "items", "user"}


@pytest.mark.parametrize(
    ("channel", "content", "field", "message"),
    [
        ("email", {"subject": "{{ x }"}, "channels.email.subject", "line 1: unexpected '}'"),
        ("email", {"subject": "s"}, "channels.email", "text or html is required"),
        ("email", {"text": "t"}, "channels.email.subject", "is required"),
        ("sms", {"text": "t", "media": "x"}, "channels.sms.media", "unknown field"),
        ("push", {"title": "t", "body": "b", "data": {"k": 1}}, "channels.push.data.k",
         "must be a string"),
        ("webhook", {"body": {"a": ["{% if %}"]}}, "channels.webhook.body.a[0]",
         "line 1: Expected an expression, got 'end of statement block'"),
        ("fax", {"text": "t"}, "channels.fax",
         "unknown channel, expected one of email, sms, whatsapp, push, web_push, in_app, webhook"),
        ("sms", {"text": "{{ x|nosuch }}"}, "channels.sms.text",
         "line 1: No filter named 'nosuch'."),
    ],
)  # fmt: skip
def test_invalid_content_is_refused_on_save_naming_the_field(
    channel: str, content: dict[str, Any], field: str, message: str
) -> None:
    # then
    with pytest.raises(TemplateInvalid) as invalid:
        compile_channel(channel, content, field=f"channels.{channel}")
    assert {"field": field, "message": message} in invalid.value.details


def test_a_syntax_error_message_names_the_part_and_line() -> None:
    # then
    with pytest.raises(TemplateInvalid) as invalid:
        compile_channel(
            "email", {"subject": "s", "html": "<p>\n\n{{ x }</p>"}, field="channels.email"
        )
    assert invalid.value.message == "email.html, line 3: unexpected '}'"
    assert invalid.value.details == [
        {"field": "channels.email.html", "message": "line 3: unexpected '}'"}
    ]


TEMPLATE = {
    "en": {"email": {"subject": "Hi {{ name }}", "text": "en"}, "sms": {"text": "en {{ code }}"}},
    "fr": {"email": {"subject": "Bonjour {{ name }}", "text": "fr"}},
    "fr-CA": {"sms": {"text": "fr-CA {{ code }}"}, "push": {"title": "t", "body": "{{ p }}"}},
}  # fmt: skip


@pytest.mark.parametrize(
    ("locale", "channel", "expected"),
    [
        ("fr-CA", "sms", "fr-CA"),
        ("fr-CA", "email", "fr"),  # fr-CA has no email: its parent's
        ("fr_ca", "email", "fr"),  # the POSIX spelling recipients often have
        ("fr-BE", "sms", "en"),  # neither fr-BE nor fr has sms: the default's
        ("de", "email", "en"),
        (None, "sms", "en"),
        ("not a tag!", "email", "en"),
        ("en", "push", None),  # only fr-CA has push; an English recipient gets none
    ],
)
def test_each_channel_falls_back_from_the_recipients_locale_to_the_default(
    locale: str | None, channel: str, expected: str | None
) -> None:
    # given
    template = CompiledTemplate.compile("en", TEMPLATE)

    # then
    assert template.resolve_locale(locale, channel) == expected


def test_a_template_renders_a_channel_in_the_resolved_locale() -> None:
    # given
    template = CompiledTemplate.compile("en", TEMPLATE)

    # when
    email = template.render("email", "fr-CA", {"name": "Zoé"})

    # then
    assert email["subject"] == "Bonjour Zoé"
    with pytest.raises(RenderFailed, match="no push content"):
        template.render("push", "de", {})


def test_a_template_lists_its_channels_locales_and_variables() -> None:
    # when
    template = CompiledTemplate.compile("en", TEMPLATE)

    # then
    assert template.channels() == {"email", "sms", "push"}
    assert template.locales() == ["en", "fr", "fr-CA"]
    assert template.variables == {"name", "code", "p"}
    assert template.variables_for(["sms"]) == {"code"}
    assert template.variables_for(["email", "push"]) == {"name", "p"}
    assert template.channel_variables("fr-CA", "email") == {"name"}
    assert template.has_content("fr", "email") and not template.has_content("fr", "sms")


def test_template_errors_name_the_locale_and_the_callers_field() -> None:
    # given
    contents = {"en": {"sms": {"text": "ok"}}, "fr": {"sms": {"text": "{{ x }"}}}

    # then
    with pytest.raises(TemplateInvalid) as invalid:
        CompiledTemplate.compile(
            "en", contents, field_prefix=lambda locale, channel: f"translations.{locale}.{channel}"
        )
    assert invalid.value.message == "sms.text (fr), line 1: unexpected '}'"
    assert invalid.value.details[0]["field"] == "translations.fr.sms.text"


def test_the_default_locale_must_have_content() -> None:
    # then
    with pytest.raises(TemplateInvalid, match="no content for the default locale 'en'"):
        CompiledTemplate.compile("en", {"fr": {"sms": {"text": "x"}}})


def test_the_cache_builds_each_key_once_and_evicts_the_least_recently_used() -> None:
    # given
    cache = TemplateCache(maxsize=2)
    built: list[str] = []

    def build(key: str) -> CompiledTemplate:
        built.append(key)
        return CompiledTemplate.compile("en", {"en": {"sms": {"text": key}}})

    # when
    first = cache.get_or_compile("a", lambda: build("a"))
    again = cache.get_or_compile("a", lambda: build("a"))
    cache.get_or_compile("b", lambda: build("b"))
    cache.get_or_compile("a", lambda: build("a"))  # "a" is now the most recently used
    cache.get_or_compile("c", lambda: build("c"))  # evicts "b"
    cache.get_or_compile("a", lambda: build("a"))
    cache.get_or_compile("b", lambda: build("b"))

    # then
    assert first is again
    assert built == ["a", "b", "c", "b"]
    assert len(cache) == 2


def test_a_failed_build_is_not_cached() -> None:
    # given
    cache = TemplateCache()

    def broken() -> CompiledTemplate:
        return CompiledTemplate.compile("en", {"en": {"sms": {"text": "{{"}}})

    # then
    for _ in range(2):
        with pytest.raises(TemplateInvalid):
            cache.get_or_compile("k", broken)
    assert len(cache) == 0


@pytest.mark.parametrize(
    ("template", "expected"),
    [
        ("{{ items|join(', ', attribute='sku') }}", "x<1>, y"),
        ("{{ items|map(attribute='sku')|join('/') }}", "x<1>/y"),
        ("{{ [3, 1, 2]|sort|join }} {{ [1, 2, 3]|sum }}", "123 6"),
        ("{{ [1, 2, 3]|batch(2, 0)|list }}", "[[1, 2], [3, 0]]"),
        ("{{ 'a\nb'|indent(2) }}|{{ 'x'|center(5) }}|", "a\n  b|  x  |"),
        ("{{ 'aaa bbb'|wordwrap(3) }}", "aaa\nbbb"),
        ("{{ '%s-%03d'|format('n', 7) }} {{ '%.1f' % 2.25 }}", "n-007 2.2"),
        ("{{ 'abc'|replace('b', 'XY') }} {{ 'abc'.replace('c', 'Z') }}", "aXYc abZ"),
        ("{{ '{} {:>3}'.format(name, 1) }} {{ '-'.join(['a', 'b']) }}", "Ada & <Bob>   1 a-b"),
        ("{{ {'a': [1, 'x']}|tojson }}", '{"a": [1, "x"]}'),
        ("{{ [1] + [2] }} {{ 'ab' * 2 }} {{ 2 ** 8 }} {{ (1, 2) }}", "[1, 2] abab 256 (1, 2)"),
        ("{% for row in items %}{{ loop.cycle('odd', 'even') }}{% endfor %}", "oddeven"),
        ("{{ 'see https://a.example'|urlize }}", 'see <a href="https://a.example" rel="noopener">https://a.example</a>'),
    ],
)  # fmt: skip
def test_jinjas_filters_operators_and_methods_work_within_the_limits(
    template: str, expected: str
) -> None:
    # then
    assert render("sms", {"text": template}, ORDER)["text"] == expected
