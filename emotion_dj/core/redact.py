"""Secrets out of any text a user or a log can see: `redact(text)` scrubs every URL-like part of it, wherever it is in
the text and whatever its scheme, even mangled (`Path()` turns `ftp://a:b@h` into `ftp:/a:b@h`, users type `http:/`).

What goes: the whole userinfo (everything before the last '@' of the authority, so a password holding '@' goes too)
and the value of every query or fragment key that looks secret (SECRET_WORDS anywhere in the key, in lower case:
`passphrase`, `auth_token`, `X-Amz-Signature`, `X-Amz-Credential`, `sessionid`, ...).
It is applied where text leaves the program: the one-line errors (core/cli.py), every log record (a filter on the
root handler), and the sources' labels (summaries, events, the HUD, the page).
"""
from __future__ import annotations

import logging
import re

SECRET_WORDS = ("pass", "pwd", "secret", "token", "key", "sig", "auth", "credential", "session", "cookie", "bearer")
# a scheme, then 0 to 3 slashes, then the userinfo: greedy up to the last '@' before a space, '/', '?' or '#'
USERINFO = re.compile(r"(?P<scheme>\b[A-Za-z][A-Za-z0-9+.-]*:/{0,3})(?P<userinfo>[^\s/?#'\"]*)@")
# key=value after '?', '&', ';' or '#'
QUERY_PAIR = re.compile(r"(?P<lead>[?&;#])(?P<key>[^=&;#\s?'\"]+)=(?P<value>[^&;#\s'\"]*)")


def _secret_key(key: str) -> bool:
    lowered = key.lower()  # a substring test: 'X-Amz-Signature', 'auth_token' and 'apiKey' need no folding
    return any(word in lowered for word in SECRET_WORDS)


def redact(text: object) -> str:
    """`text` with every credential in a URL-like part replaced by ***; anything else unchanged."""
    text = str(text)
    if "@" in text:
        text = USERINFO.sub(lambda m: f"{m['scheme']}***@", text)
    if "=" in text:  # a query, or a fragment (OAuth's '#access_token=' comes without any '?')
        text = QUERY_PAIR.sub(lambda m: f"{m['lead']}{m['key']}=***" if _secret_key(m["key"]) and m["value"] else m[0], text)
    return text


class RedactingFilter(logging.Filter):
    """On a handler: every record's message is redacted before it is written (arguments included)."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        cleaned = redact(message)
        if cleaned != message:
            record.msg, record.args = cleaned, None
        if record.exc_info and not record.exc_text:  # --verbose tracebacks: their messages hold the same URLs
            record.exc_text = redact(logging.Formatter().formatException(record.exc_info))
        return True
