"""A batch's email addresses: the fast check accepts, normalizes and refuses exactly as
pydantic's `EmailStr` (email-validator) does."""

from __future__ import annotations

import pytest
from herald.models.batches import BatchRecipient
from herald.models.notifications import Recipient
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

# Around the fast path's edges: dots, dashes, plus, digits, case, special-use and numeric
# top-level domains, lengths, non-ASCII, whitespace, display names.
EDGES = [
    "a@example.com",
    "First.Last+tag@Mail.Example.COM",
    "a..b@example.com",
    ".a@example.com",
    "a.@example.com",
    "a@-example.com",
    "a@example-.com",
    "a@ex--ample.com",
    "a@xn--bcher-kva.example",
    "a@example.c",
    "a@example.123",
    "a@example",
    "a@localhost",
    "a@mail.test",
    "a@host.local",
    "a@x.onion",
    "a@in-addr.arpa",
    "a@example.invalid",
    "a@EXAMPLE.INVALID",
    " a@example.com ",
    "Jane <jane@example.com>",
    "\u00e9l\u00e8ve@example.com",
    "a@b\u00fccher.de",
    "a\u200b@example.com",
    "a" * 64 + "@example.com",
    "a" * 65 + "@example.com",
    "a@" + ("b" * 63 + ".") * 4 + "com",
    "a@" + "b" * 64 + ".com",
    "a\n@example.com",
    "a@@example.com",
    "@example.com",
    "a@",
    "",
]


def _outcome(model: type[Recipient], email: str) -> tuple[str, str]:
    try:
        return ("ok", str(model(email=email).email))
    except ValidationError as exc:
        return ("error", exc.errors()[0]["msg"])


@pytest.mark.parametrize("email", EDGES)
def test_the_fast_check_agrees_with_email_str_on_edge_cases(email: str) -> None:
    # given / when / then
    assert _outcome(BatchRecipient, email) == _outcome(Recipient, email)


@settings(max_examples=400, deadline=None)
@given(
    st.text(alphabet="aZ09._+-@", min_size=1, max_size=30),
    st.sampled_from(["com", "COM", "test", "c", "local", "io", "123", "xn--p1ai", ""]),
)
def test_the_fast_check_agrees_with_email_str_on_generated_addresses(head: str, tld: str) -> None:
    # given an address-like string, with or without a top-level domain
    email = f"{head}.{tld}" if tld else head

    # when / then
    assert _outcome(BatchRecipient, email) == _outcome(Recipient, email)
