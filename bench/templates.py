"""Template rendering benchmark: a typical transactional email, warm and cold.

Run alone with `python -m bench.templates`. Each figure is measured on one thread for
about two seconds: warm renders reuse the compiled template (the usual case: versions are
cached per execution environment), cold renders compile a new version every time.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from itertools import count
from typing import Any

from herald.services.email import complete_email
from herald.templating import CompiledTemplate, TemplateCache, html_to_text

SECONDS = 2.0
SUBJECT = "Your order {{ order.id }} is confirmed"
HTML = """<!doctype html>
<html>
<head>
  <meta charset="utf-8">
  <title>Order {{ order.id }}</title>
  <style>body { font-family: sans-serif; } td { padding: 4px; }</style>
</head>
<body>
<table width="100%" cellpadding="0" cellspacing="0">
  <tr><td>
    <h1>Thanks for your order, {{ customer.first_name }}!</h1>
    <p>We received order <strong>#{{ order.id }}</strong> on {{ order.date }}.</p>
    <table class="items">
      <tr><th>Item</th><th>Qty</th><th>Price</th></tr>
      {% for item in items %}
      <tr class="{{ loop.cycle('odd', 'even') }}">
        <td>{{ item.name }}</td>
        <td>{{ item.quantity }}</td>
        <td>{{ item.price }}</td>
      </tr>
      {% endfor %}
    </table>
    <p>Total: <strong>{{ order.total }}</strong></p>
    <p>Shipping to:<br>
      {{ customer.name }}<br>
      {{ address.line1 }}<br>
      {{ address.city }}, {{ address.postcode }}
    </p>
    {% if order.note %}<p>Your note: {{ order.note }}</p>{% endif %}
    <p><a href="{{ order.tracking_url }}">Track your order</a></p>
    <p>Questions? Reply to this email or visit
      <a href="https://shop.example/help">our help center</a>.</p>
  </td></tr>
</table>
<p style="font-size: 12px; color: #888">
  You received this email because you ordered from Example Shop.
  <a href="{{ unsubscribe_url }}">Unsubscribe</a>
</p>
</body>
</html>
"""
TEXT = "Thanks for your order {{ order.id }}, {{ customer.first_name }}: {{ order.total }}."
VARIABLES: dict[str, Any] = {
    "order": {
        "id": "A-10023",
        "date": "2026-11-21",
        "total": "$45.00",
        "note": "Leave it at the <door> & ring",
        "tracking_url": "https://shop.example/track?id=A-10023&src=email",
    },
    "customer": {"first_name": "Ada", "name": "Ada Lovelace"},
    "items": [
        {"name": f"Widget <{i}> & co", "quantity": i, "price": f"${i * 3}.00"} for i in range(1, 6)
    ],
    "address": {"line1": "1 Main St", "city": "London", "postcode": "N1 7GU"},
    "unsubscribe_url": "https://shop.example/u/abc",
}


def _per_second(work: Callable[[], object], seconds: float = SECONDS) -> float:
    work()  # warm up
    done, started = 0, time.perf_counter()
    while (elapsed := time.perf_counter() - started) < seconds:
        for _ in range(20):
            work()
        done += 20
    return done / elapsed


def _compile(email: dict[str, str]) -> CompiledTemplate:
    return CompiledTemplate.compile("en", {"en": {"email": email}})


def bench_template_renders() -> dict[str, float]:
    """Renders per second of a transactional email (subject + ~45-line html, a loop over
    5 items, autoescaped variables), printed and returned."""
    html_only = _compile({"subject": SUBJECT, "html": HTML})
    with_text = _compile({"subject": SUBJECT, "html": HTML, "text": TEXT})
    rendered_html = html_only.render("email", "en", VARIABLES)["html"]
    cache = TemplateCache()
    versions = count()

    def cold() -> object:
        compiled = cache.get_or_compile(
            ("tpl_bench", next(versions)), lambda: _compile({"subject": SUBJECT, "html": HTML})
        )
        return compiled.render("email", "en", VARIABLES)

    figures = {
        "warm_renders_per_s": _per_second(lambda: html_only.render("email", "en", VARIABLES)),
        "warm_renders_with_text_part_per_s": _per_second(
            lambda: with_text.render("email", "en", VARIABLES)
        ),
        "warm_composed_per_s": _per_second(
            lambda: complete_email(html_only.render("email", "en", VARIABLES))
        ),
        "html_to_text_per_s": _per_second(lambda: html_to_text(rendered_html)),
        "cold_renders_per_s": _per_second(cold),
    }
    print(
        "Template render, transactional email (subject + html, loop over 5 items), one thread:\n"
        f"  warm (subject + html)             {figures['warm_renders_per_s']:8,.0f} renders/s\n"
        f"  warm, with a text part too        "
        f"{figures['warm_renders_with_text_part_per_s']:8,.0f} renders/s\n"
        f"  warm, text part derived from html "
        f"{figures['warm_composed_per_s']:8,.0f} emails/s\n"
        f"  html_to_text alone ({len(rendered_html):,} chars)   "
        f"{figures['html_to_text_per_s']:8,.0f} /s\n"
        f"  cold (compile + render)           {figures['cold_renders_per_s']:8,.0f} renders/s"
    )
    return figures


if __name__ == "__main__":
    bench_template_renders()
