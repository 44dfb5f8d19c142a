"""Credentials carried inside a URL (userinfo, password-like query parameters), described without values."""

from __future__ import annotations

import re
from urllib.parse import unquote

# Query parameters that carry a secret in the URLs we are handed: libpq (password, sslpassword),
# SQLAlchemy dialects, proxies and HTTP APIs (token, key, signature).
_SECRET_WORDS = ("password", "passwd", "passphrase", "secret", "token", "credential", "apikey", "signature")
_SECRET_NAMES = frozenset({"pass", "pwd", "key", "auth", "sig", "api_key", "access_key"})
_QUERY_SEPARATORS = re.compile(r"[&;]")


def _secret_parameter(name: str) -> bool:
    norm = unquote(name).strip().lower().replace("-", "_")
    return norm in _SECRET_NAMES or any(word in norm.replace("_", "") for word in _SECRET_WORDS)


def credentials_in(url: str, *, user_is_secret: bool) -> list[str]:
    """What in ``url`` holds credentials, e.g. ["a password in the userinfo", "query parameter
    'password'"]; empty when nothing does. ``user_is_secret``: a user name alone counts too (proxies:
    the user name is often a token), else only a password does (databases: the role name is not).

    Percent-encoding is decoded first, and a value without a scheme (``user:pass@proxy:3128``, which
    proxy clients accept) is read as an authority.
    """
    rest = url.strip()
    rest = rest.split("#", 1)[0]
    scheme_end = rest.find("://")
    rest = rest[scheme_end + 3 :] if scheme_end >= 0 else rest
    head, _, query = rest.partition("?")
    authority = re.split(r"[/\\]", head, maxsplit=1)[0]
    found: list[str] = []
    if "@" in authority:
        userinfo = authority.rpartition("@")[0]
        user, colon, password = userinfo.partition(":")
        if colon and unquote(password):
            found.append("a password in the userinfo (user:password@)")
        elif user_is_secret and unquote(user):
            found.append("a user name in the userinfo (user@)")
    for pair in _QUERY_SEPARATORS.split(query):
        name, equals, value = pair.partition("=")
        if equals and unquote(value) and _secret_parameter(name):
            found.append(f"query parameter '{unquote(name).strip()}'")
    return found
