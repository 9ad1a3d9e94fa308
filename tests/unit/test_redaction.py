"""Sink URLs as they may be shown: no user information, no query-string values, whatever the URL's shape."""

from __future__ import annotations

import pytest

from fraudlog.redaction import redact_url, redact_urls


@pytest.mark.parametrize(("url", "shown"), [
    ("https://user:hunter2@hooks.example/fraud", "https://***@hooks.example/fraud"),
    ("https://sk_live_123@hooks.example:8443/fraud", "https://***@hooks.example:8443/fraud"),
    ("https://hooks.example/fraud?token=abc&team=risk", "https://hooks.example/fraud?token=***&team=***"),
    ("http://u:p@[::1]:8080/hook?sig=x#frag", "http://***@[::1]:8080/hook?sig=***"),
    ("https://hooks.example/fraud", "https://hooks.example/fraud"),
    ("jsonl://./alerts.jsonl", "jsonl://./alerts.jsonl"),
])
def test_credentials_and_query_values_are_replaced(url: str, shown: str) -> None:
    assert redact_url(url) == shown


def test_redacting_twice_changes_nothing() -> None:
    once = redact_url("http://user:pw@127.0.0.1:9/hook?token=t")
    assert redact_url(once) == once


def test_an_unparseable_url_is_hidden_whole() -> None:
    assert redact_url("http://user:pw@[not-an-address/hook") == "***"


def test_urls_inside_an_error_message_are_redacted_and_the_sentence_kept() -> None:
    text = "ConnectError posting to https://user:pw@hooks.example/a?token=t: refused (see https://a:b@c.example/d)."
    assert redact_urls(text) == ("ConnectError posting to https://***@hooks.example/a?token=***: refused "
                                 "(see https://***@c.example/d).")


@pytest.mark.parametrize("url", ["http://u:pa#SECRET@host/hook", "http://u:pa?SECRET@host/hook",
                                 "http://u:pa/SECRET@host/hook", "http://u#SECRET@host/hook"])
def test_a_password_with_an_unencoded_delimiter_is_hidden_whole(url: str) -> None:
    """`#`, `?` or `/` in a password end the URL's authority early: what precedes the real `@` would be shown
    as the host, and the rest as path or query (issue 27 #12). Nothing after the scheme is shown."""
    shown = redact_url(url)
    assert shown == "http://***"
    assert redact_urls(f"posting to {url}: refused") == "posting to http://***: refused"
