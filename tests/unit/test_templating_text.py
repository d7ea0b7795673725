"""The text part derived from an email's HTML, and how SMS texts are encoded."""

from __future__ import annotations

import pytest
from herald.templating import SmsEncoding, html_to_text, sms_encoding


def test_an_html_email_becomes_readable_text() -> None:
    # given
    html = """<!doctype html>
    <html><head><title>Receipt</title><style>p { color: red }</style></head>
    <body>
      <script>track()</script>
      <h1>Thanks,   Ada&nbsp;&amp;&nbsp;Bob!</h1>
      <p>Your order:<br>two items</p>


      <p></p><p></p>
      <ul>
        <li>Tea &lt;green&gt;</li>
        <li><a href="https://shop.example/p/1?a=1&amp;b=2">Cup</a></li>
      </ul>
      <table><tr><td>Total</td><td>$9</td></tr>
             <tr><td>Paid</td><td>yes</td></tr></table>
      <div>Visit <a href="https://shop.example">https://shop.example</a>
      or mail <a href="mailto:help@shop.example">help@shop.example</a>.
      <a href="#top">Top</a></div>
    </body></html>"""

    # when
    text = html_to_text(html)

    # then
    assert text == (
        "Thanks, Ada & Bob!\n"
        "\n"
        "Your order:\n"
        "two items\n"
        "\n"
        "- Tea <green>\n"
        "- Cup (https://shop.example/p/1?a=1&b=2)\n"
        "\n"
        "Total $9\n"
        "Paid yes\n"
        "\n"
        "Visit https://shop.example or mail help@shop.example. Top"
    )


@pytest.mark.parametrize(
    ("html", "expected"),
    [
        ("<P>Upper <B>case</B></P><BR>x", "Upper case\n\nx"),
        ("<p>a <!-- a <p> in a comment --> b</p>", "a b"),
        ("<p>a <!-- a comment left open", "a"),
        ("<a title=\"a>b\" href='/x?a=1&amp;b=2'>go</a>", "go (/x?a=1&b=2)"),
        ("<a href=https://x.example>x</a> and <a>no link</a>", "x (https://x.example) and no link"),
        ("<script>if (a<b) { x = '</div>' }</script><p>after</p>", "after"),
        ("<STYLE>p { }</STYLE><scripts>shown</scripts>", "shown"),
        ("<p>1 < 2 &amp; 3 > 2 &#39;q&#39; &unknown;</p>", "1 < 2 & 3 > 2 'q' &unknown;"),
        ("<!doctype html><![CDATA[x]]><?xml y?><ul><li>one<li>two</ul>", "- one\n- two"),
        ("<div>unclosed <span>tags", "unclosed tags"),
    ],
)
def test_markup_that_trips_simple_converters_is_read_as_a_browser_would(
    html: str, expected: str
) -> None:
    assert html_to_text(html) == expected


def test_a_head_left_open_ends_at_the_body() -> None:
    # then
    assert html_to_text("<head><title>x</title><body><p>Hello</p>") == "Hello"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", SmsEncoding("GSM-7", 0, 0)),
        ("a" * 160, SmsEncoding("GSM-7", 1, 160)),
        ("a" * 161, SmsEncoding("GSM-7", 2, 161)),
        ("a" * 306, SmsEncoding("GSM-7", 2, 306)),
        ("a" * 307, SmsEncoding("GSM-7", 3, 307)),
        ("Prix: 5€ {ok}", SmsEncoding("GSM-7", 1, 16)),  # €, { and } take an escape each
        ("€" * 80, SmsEncoding("GSM-7", 1, 160)),
        ("€" * 81, SmsEncoding("GSM-7", 2, 162)),
        # 306 septets fit two parts of 153, but the escape pair of the 77th € cannot be
        # split across the second and a third part.
        ("a" * 152 + "€" * 77, SmsEncoding("GSM-7", 3, 306)),
        ("Café à Øresund, ¿qué? Ñ @ £ ¥ § Δ", SmsEncoding("GSM-7", 1, 33)),
        ("crêpe", SmsEncoding("UCS-2", 1, 5)),  # ê is not in the GSM alphabet
        ("ê" * 70, SmsEncoding("UCS-2", 1, 70)),
        ("ê" * 71, SmsEncoding("UCS-2", 2, 71)),
        ("😀" * 35, SmsEncoding("UCS-2", 1, 70)),  # an emoji is a surrogate pair: 2 units
        ("😀" * 36, SmsEncoding("UCS-2", 2, 72)),
        ("a" * 66 + "😀" * 34, SmsEncoding("UCS-2", 3, 134)),  # pairs are not split
    ],
)
def test_an_sms_is_gsm_7_when_it_can_be_and_counts_its_segments(
    text: str, expected: SmsEncoding
) -> None:
    # then
    assert sms_encoding(text) == expected
