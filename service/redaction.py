"""Credentials out of URLs before a URL is shown anywhere: a stored error, a startup line, a table.

An alert sink URL may carry a password (`https://user:pw@host/hook`) or a token in its query string
(`?token=...`); both are secrets the operator configured, and neither may reach `GET /v1/alerts`, the CLI
or a log. Pure and standard-library only, so the store, the sinks and the CLI can all use it.
"""

from __future__ import annotations

import re
from urllib.parse import parse_qsl, urlsplit, urlunsplit

# No brackets: `[...]` in a URL's host part reads as an IPv6 address, and redacting twice must be harmless.
REDACTED = "***"

# Scheme, then everything up to whitespace or a character that ends a URL inside prose or quoting; a
# trailing punctuation mark belongs to the sentence ("... from http://host/hook: refused").
_URL_IN_TEXT = re.compile(r"(?i)\b[a-z][a-z0-9+.-]*://[^\s\"'<>]*[^\s\"'<>.,;:!?)]")


def redact_url(url: str) -> str:
    """`url` with its user information and every query-string value replaced by `***`.

    The user name goes too: services put a token there as often as a name (`https://TOKEN@host`). Query
    values all go, not only names that look secret: a webhook URL's query is rarely anything but a key.
    """
    try:
        parts = urlsplit(url)
    except ValueError:
        return REDACTED  # unparseable: show nothing rather than guess which part is secret
    if has_ambiguous_authority(url):
        return f"{parts.scheme}://{REDACTED}"
    netloc = parts.netloc
    if "@" in netloc:
        netloc = f"{REDACTED}@{netloc.rpartition('@')[2]}"
    query = "&".join(f"{name}={REDACTED}" for name, _ in parse_qsl(parts.query, keep_blank_values=True))
    if parts.query and not query:
        query = REDACTED
    return urlunsplit((parts.scheme, netloc, parts.path, query, ""))


def redact_urls(text: str) -> str:
    """Every URL inside `text` (an exception message, an error reason) passed through `redact_url`."""
    return _URL_IN_TEXT.sub(lambda match: redact_url(match.group(0)), text)


def has_ambiguous_authority(url: str) -> bool:
    """True when an `@` follows the URL's authority: a user name or password holding an unencoded `/`, `?` or
    `#` ended the authority early, so what reads as host, path, query or fragment holds the secret (issue 27
    #12). Such a URL is shown as its scheme alone; a legitimate `@` after the host must be written `%40`."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return False
    return "@" not in parts.netloc and "@" in url.partition("://")[2]
