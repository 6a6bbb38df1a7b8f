"""Text every database stores, and the web addresses an attachment may be."""

from __future__ import annotations

import pytest

from app.domain.text import is_storable
from app.domain.urls import MAX_URL, is_web_url


@pytest.mark.parametrize(
    "text", ["", "plain", "émigré ✓", "emoji \U0001f600", "tab\tand\nnewline", "\ufffe"]
)
def test_text_of_any_script_is_storable(text: str) -> None:
    assert is_storable(text)


@pytest.mark.parametrize("text", ["\x00", "a\x00b", "\ud800", "x\udbff", "\udc00y", "\udfff"])
def test_a_nul_or_a_lone_surrogate_anywhere_is_not(text: str) -> None:
    assert not is_storable(text)


def test_a_web_url_has_at_most_the_longest_length() -> None:
    base = "https://example.com/"

    assert is_web_url(base + "a" * (MAX_URL - len(base)))
    assert not is_web_url(base + "a" * (MAX_URL - len(base) + 1))


@pytest.mark.parametrize(
    "url", ["https://example.com:0/", "https://example.com:65536/", "https://.example.com/"]
)
def test_a_web_url_has_a_real_port_and_host(url: str) -> None:
    assert not is_web_url(url)
