"""URLs we are handed: credentials inside them (described without values) and the webhook SSRF guard."""

from __future__ import annotations

import ipaddress
import re
import socket
from urllib.parse import unquote, urlsplit

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

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


# -- webhook destinations: the SSRF guard ---------------------------------------------------------

# Cloud metadata services by address (AWS IMDS over IPv4 and IPv6, Alibaba Cloud, Oracle Cloud's
# alias) and by name (GCP; "metadata" is what GCE's resolver answers too). Link-local covers
# 169.254.169.254 and fd00:ec2::254 is a ULA, but they are named so the refusal says "metadata".
METADATA_ADDRESSES = frozenset(
    ipaddress.ip_address(a) for a in ("169.254.169.254", "fd00:ec2::254", "100.100.100.200", "192.0.0.192")
)
METADATA_HOSTS = frozenset({"metadata.google.internal", "metadata.goog", "metadata", "instance-data"})
# Carrier-grade NAT (RFC 6598) is not "private" to ipaddress, but is internal to every provider.
_SHARED = ipaddress.ip_network("100.64.0.0/10")


def address_problem(address: str | IPAddress, *, allow_private: bool) -> str | None:
    """Why a webhook may not connect to ``address``, or None. Loopback, link-local, metadata,
    unspecified, multicast and reserved addresses are always refused; private ranges (RFC 1918,
    unique-local, CGNAT, documentation) unless ``allow_private``. IPv4-mapped IPv6 is judged as
    the IPv4 address it carries."""
    ip = ipaddress.ip_address(address) if isinstance(address, str) else address
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    if ip in METADATA_ADDRESSES:
        return f"{ip} is a cloud metadata service address"
    for test, what in (
        (ip.is_loopback, "a loopback address"),
        (ip.is_link_local, "a link-local address"),
        (ip.is_unspecified, "the unspecified address"),
        (ip.is_multicast, "a multicast address"),
        (ip.is_reserved, "a reserved address"),
    ):
        if test:
            return f"{ip} is {what}"
    internal = ip.is_private or (isinstance(ip, ipaddress.IPv4Address) and ip in _SHARED)
    if internal and not allow_private:
        return (
            f"{ip} is a private address; the operator's CLOUDIOS_NOTIFY_ALLOW_PRIVATE_NAMESPACES "
            "setting may allow private ranges for this namespace"
        )
    if not ip.is_global and not internal:
        return f"{ip} is not a globally routable address"
    return None


def webhook_url_problem(url: str, *, allow_private: bool) -> str | None:  # noqa: PLR0911 - one refusal per rule
    """Why ``url`` may not receive webhooks, judged without DNS (admission, spec checks), or None:
    HTTPS only, a host, no credentials, no metadata host name, and an IP literal must pass
    ``address_problem``. A host name is checked again after resolution, at every delivery."""
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError as exc:
        return f"'{url}' is not a valid URL ({exc})"
    if parts.scheme.lower() != "https":
        return "only https:// URLs receive webhooks"
    host = (parts.hostname or "").rstrip(".").lower()
    if not host:
        return "the URL has no host"
    if port == 0:
        return "port 0 cannot be connected to"
    found = credentials_in(url, user_is_secret=True)
    if found:
        return f"the URL carries credentials ({' and '.join(found)}); put the secret in secretRef instead"
    if host in METADATA_HOSTS:
        return f"{host} is a cloud metadata service"
    literal = ip_literal(host)
    if literal is not None:
        return address_problem(literal, allow_private=allow_private)
    if host == "localhost" or host.endswith(".localhost"):
        return f"{host} is a loopback name"
    return None


def ip_literal(host: str) -> IPAddress | None:
    """The address a host is written as (also the legacy forms 2130706433 and 0x7f.1), else None."""
    try:
        return ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        pass
    try:  # inet_aton accepts decimal, octal and hex parts: what many resolvers and libcs accept too
        return ipaddress.IPv4Address(socket.inet_aton(host))
    except OSError:
        return None
