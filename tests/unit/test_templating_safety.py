"""Untrusted templates: no way into Python internals, and no render that runs away.

Every runaway template here must be stopped by a render limit with a clear message, fast
and without allocating its payload: a test that hangs or exhausts memory is a failure.
"""

from __future__ import annotations

import re
import time
import tracemalloc
from collections.abc import Iterator
from typing import Any

import pytest
from herald.templating import RenderFailed, RenderLimits, TemplateInvalid, compile_channel

# Generous next to the 1 s render timeout, which most cases never come near.
FAST_SECONDS = 3.0
MEMORY_BYTES = 30_000_000
TOO_LONG = "a value would exceed 1,000,000 characters"
TOO_LARGE = "a number would be too large"


def sms(template: str) -> Any:
    return compile_channel("sms", {"text": template}, field="channels.sms")


@pytest.fixture
def traced() -> Iterator[None]:
    """Trace allocations during the test: tracemalloc.get_traced_memory() is its peak."""
    tracemalloc.start()
    yield
    tracemalloc.stop()


@pytest.mark.parametrize(
    ("template", "name"),
    [
        ("{{ ''.__class__.__mro__ }}", "__mro__"),
        ("{{ cycler.__init__.__globals__ }}", "__globals__"),
        ("{{ x['__class__'] }}", "__class__"),
        ("{{ x._private }}", "_private"),
        ("{{ x|attr('__dict__') }}", "__dict__"),
        ("line 1\n{% for i in x %}{{ i.__class__ }}{% endfor %}", "__class__"),
    ],
)
def test_access_to_private_names_is_refused_on_save(template: str, name: str) -> None:
    # then
    with pytest.raises(TemplateInvalid) as invalid:
        sms(template)
    line = template.count("\n") + 1
    assert invalid.value.message == (
        f"sms.text, line {line}: '{name}' cannot be used: names starting with '_' are private"
    )


@pytest.mark.parametrize(
    "template", ["{% include 'x' %}", "{% extends 'base' %}", "{% import 'm' as m %}"]
)
def test_a_part_cannot_load_other_templates(template: str) -> None:
    # then
    with pytest.raises(TemplateInvalid, match="is not supported: each part stands alone"):
        sms(template)


@pytest.mark.parametrize(
    ("template", "owner"),
    [
        ("{{ x[name] }}", "dict"),
        ("{{ x|attr(name) }}", "dict"),
        ("{{ ''[name] }}", "str"),
        ("{% for k in x[name] %}{{ k }}{% endfor %}", "dict"),
        ("{{ ('{0.' ~ name ~ '}').format(x) }}", "dict"),  # a format string built at render
        ("{{ ('%s'|format(x[name])) }}", "dict"),
    ],
)
def test_dynamic_access_to_internals_fails_the_render(template: str, owner: str) -> None:
    # given
    part = sms(template)

    # then
    with pytest.raises(RenderFailed) as failed:
        part.render({"x": {"a": 1}, "name": "__class__"})
    assert failed.value.message == (
        f"sms.text: access to attribute '__class__' of '{owner}' object is unsafe."
    )


@pytest.mark.parametrize(
    ("template", "message"),
    [
        ("{% for i in range(100000) %}{% endfor %}", "range() is limited to 10,000 items"),
        (
            "{% for i in range(10000) %}{% for j in range(10000) %}{% endfor %}{% endfor %}",
            "loop iteration limit (100,000) reached",
        ),
        (
            "{% for a in range(100) %}{% for b in range(100)|map('string') %}"
            "{% for c in range(100) %}{% endfor %}{% endfor %}{% endfor %}",
            "loop iteration limit (100,000) reached",
        ),
        ("{% for x in items recursive %}{{ loop(items) }}{% endfor %}", "nested too deeply"),
        ("{% macro f(n) %}{{ f(n + 1) }}{% endmacro %}{{ f(0) }}", "nested too deeply"),
        (
            "{% macro f(n) %}{% if n %}{{ f(n - 1) }}{{ f(n - 1) }}{% endif %}{% endmacro %}"
            "{{ f(60) }}",
            "took longer than 1.0 s",
        ),
        (
            "{% for i in range(10000) %}{{ 'x' * 1000 }}{% endfor %}",
            "output exceeds 1,000,000 characters",
        ),
        (
            "{% block b %}{% for i in range(9000) %}{{ 'x' * 200 }}{% endfor %}{% endblock %}"
            "{{ self.b() }}",
            "output exceeds 1,000,000 characters",
        ),
    ],
)
def test_a_runaway_template_is_stopped_with_a_clear_error(template: str, message: str) -> None:
    # given
    part = sms(template)
    started = time.monotonic()

    # then
    with pytest.raises(RenderFailed) as failed:
        part.render({"items": [1, 2, 3]})
    assert failed.value.message == f"sms.text: {message}"
    assert time.monotonic() - started < FAST_SECONDS


@pytest.mark.parametrize(
    ("template", "message"),
    [
        ("{{ 'x' * 10**9 }}", TOO_LONG),
        ("{{ [1] * 10**9 }}", TOO_LONG),
        ("{{ 10 ** (10 ** 10) }}", TOO_LARGE),
        ("{{ 2 ** 100000 }}", TOO_LARGE),
        (
            "{% set ns = namespace(n=3) %}{% for i in range(64) %}{% set ns.n = ns.n * ns.n %}"
            "{% endfor %}",
            TOO_LARGE,
        ),
        (
            "{% set ns = namespace(s='a') %}{% for i in range(60) %}{% set ns.s = ns.s ~ ns.s %}"
            "{% endfor %}",
            TOO_LONG,
        ),
        (
            "{% set ns = namespace(s='a') %}{% for i in range(60) %}{% set ns.s = ns.s + ns.s %}"
            "{% endfor %}",
            TOO_LONG,
        ),
        ("{{ '%1000000000s' % 1 }}", TOO_LONG),
        ("{{ '%*s' % (10**9, 'x') }}", TOO_LONG),
        ("{{ ('%(a)s' * 10000) % {'a': 'x' * 1000} }}", TOO_LONG),
        ("{{ '%1000000000s'|format(1) }}", TOO_LONG),
        ("{{ '{:>999999999}'.format(1) }}", TOO_LONG),
        ("{{ '{:{}}'.format(1, 999999999) }}", TOO_LONG),
        ("{{ ('{0}' * 10000).format('x' * 1000) }}", TOO_LONG),
        ("{{ 'a'.ljust(10**9) }}", TOO_LONG),
        ("{{ 'a'.zfill(10**9) }}", TOO_LONG),
        ("{{ ('\t' * 1000).expandtabs(100000) }}", TOO_LONG),
        ("{{ ('a' * 1000).replace('a', 'b' * 10000) }}", TOO_LONG),
        ("{{ ','.join(['x' * 999999] * 100) }}", TOO_LONG),
        ("{{ (1).to_bytes(10**9, 'big') }}", TOO_LONG),
        ("{{ 'x'|center(10**9) }}", TOO_LONG),
        ("{{ 'x'|center(1000000000) }}", TOO_LONG),
        ("{{ ('a\n' * 1000)|indent(100000) }}", TOO_LONG),
        ("{{ ('a' * 1000)|replace('a', 'b' * 10000) }}", TOO_LONG),
        ("{{ (['x' * 999999] * 100)|join }}", TOO_LONG),
        ("{{ ('a ' * 10000)|wordwrap(1, wrapstring='x' * 1000) }}", TOO_LONG),
        ("{{ [1]|batch(10**9, 'x')|list }}", "linecount is limited to 10,000"),
        ("{{ [1]|slice(10**9)|list }}", "slices is limited to 10,000"),
        # One value shared at every level: 2**60 elements once expanded, by str() or ==.
        (
            "{% set ns = namespace(a=1) %}{% for i in range(60) %}{% set ns.a = [ns.a, ns.a] %}"
            "{% endfor %}{{ ns.a == ns.a[0] }}",
            TOO_LONG,
        ),
        (
            "{% macro f(x, n) %}{% if n %}{{ f((x, x), n - 1) }}{% else %}{{ x }}{% endif %}"
            "{% endmacro %}{{ f(1, 60) }}",
            TOO_LONG,
        ),
        (
            "{% set big = 'x' * 999999 %}{% macro f(n) %}{% if n %}{{ f(n - 1) }}{{ f(n - 1) }}"
            "{% else %}{{ big }}{% endif %}{% endmacro %}{{ f(30) }}",
            TOO_LONG,
        ),
        # Many distinct large values kept alive at once, here one per recursion level.
        (
            "{% macro f(n) %}{% set s = ('x' * 900000) ~ n %}{{ f(n + 1) }}{% endmacro %}"
            "{{ f(0) }}",
            "builds more than 10,000,000 characters of text",
        ),
        ("{{ lipsum(10**6) }}", "'lipsum' is undefined"),
    ],
)  # fmt: skip
def test_a_memory_bomb_fails_fast_without_allocating_its_payload(
    template: str, message: str, traced: None
) -> None:
    # given
    part = sms(template)
    started = time.monotonic()

    # when
    with pytest.raises(RenderFailed) as failed:
        part.render({})

    # then
    assert failed.value.message == f"sms.text: {message}"
    assert time.monotonic() - started < FAST_SECONDS
    assert tracemalloc.get_traced_memory()[1] < MEMORY_BYTES


def test_output_up_to_the_limit_renders() -> None:
    # when
    rendered = sms("{% for i in range(1000) %}{{ 'x' * 1000 }}{% endfor %}").render({})

    # then
    assert len(rendered["text"]) == 1_000_000


def test_limits_are_shared_by_every_part_of_a_render() -> None:
    # given
    email = compile_channel(
        "email",
        {"subject": "s", "text": "{{ 'x' * 600 }}", "html": "{{ 'y' * 600 }}"},
        field="channels.email",
    )

    # then
    with pytest.raises(RenderFailed, match=r"^email\.html: output exceeds 1,000 characters$"):
        email.render({}, RenderLimits(max_output_chars=1000))


@pytest.mark.parametrize(
    ("limits", "message"),
    [
        (RenderLimits(max_loop_iterations=10), "loop iteration limit (10) reached"),
        (RenderLimits(max_range=10), "range() is limited to 10 items"),
        (RenderLimits(timeout_seconds=0.05), "took longer than 0.05 s"),
    ],
)
def test_limits_can_be_set_per_render(limits: RenderLimits, message: str) -> None:
    # given
    part = sms(
        "{% macro f(n) %}{% if n %}{{ f(n - 1) }}{{ f(n - 1) }}{% endif %}{% endmacro %}"
        "{% for i in range(11) %}{{ f(18) }}{% endfor %}"
    )
    started = time.monotonic()

    # then
    with pytest.raises(RenderFailed, match=f"^sms\\.text: {re.escape(message)}$"):
        part.render({}, limits)
    assert time.monotonic() - started < FAST_SECONDS


def test_renders_stay_within_limits_on_several_threads_at_once() -> None:
    # given
    from concurrent.futures import ThreadPoolExecutor

    runaway = sms("{% for i in range(10000) %}{% for j in range(10000) %}{% endfor %}{% endfor %}")
    fine = sms("{% for i in range(9000) %}.{% endfor %}")

    def outcome(part: Any) -> str:
        try:
            return str(len(part.render({})["text"]))
        except RenderFailed as failed:
            return failed.message

    # when
    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(outcome, [runaway, fine] * 8))

    # then
    assert results == ["sms.text: loop iteration limit (100,000) reached", "9000"] * 8
