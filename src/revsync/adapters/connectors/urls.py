"""Connector URLs: well-formed, without credentials, and never pointing into private networks
unless the operator allowed the host (a guard against server-side request forgery).

The syntax is checked when the configuration is read; the addresses a host resolves to are
checked before each connection, so a name that later resolves elsewhere is caught too.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Collection
from urllib.parse import urlsplit


class UnsafeUrl(ValueError):
    """A URL revsync will not connect to; the message says why."""


def check_url_syntax(url: str) -> None:
    """Refuse a URL that is not plain ``http(s)://host[:port]/path`` (no user or password:
    secrets come from the environment, never from a URL that may be logged)."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https"):
        raise UnsafeUrl(f"{url!r}: the scheme must be https (or http)")
    if not parts.hostname:
        raise UnsafeUrl(f"{url!r}: a host is required")
    if parts.username is not None or parts.password is not None:
        raise UnsafeUrl("a URL must not carry a user name or password (use secret_env)")
    if parts.fragment:
        raise UnsafeUrl(f"{url!r}: a fragment (#…) is not allowed")
    try:
        parts.port  # noqa: B018 - raises on a bad port
    except ValueError:
        raise UnsafeUrl(f"{url!r}: the port is not a number from 0 to 65535") from None


def check_destination(url: str, allow_private: Collection[str]) -> None:
    """Refuse a URL whose host resolves to a loopback, private, link-local, multicast or
    reserved address (cloud metadata endpoints among them), or that uses plain http, unless
    its host is in ``allow_private``."""
    check_url_syntax(url)
    parts = urlsplit(url)
    host = parts.hostname or ""
    if host in allow_private:
        return
    if parts.scheme != "https":
        raise UnsafeUrl(f"{host}: plain http is only allowed for hosts in allow_private_hosts")
    for address in _addresses(host, parts.port or 443):
        if _private(address):
            raise UnsafeUrl(
                f"{host} resolves to {address}, a non-public address; add the host to "
                "outbox.allow_private_hosts if this is intended"
            )


def _addresses(host: str, port: int) -> set[str]:
    try:
        infos = socket.getaddrinfo(host, port, proto=socket.IPPROTO_TCP)
    except OSError as error:
        raise UnsafeUrl(f"{host}: cannot be resolved ({error.strerror or error})") from None
    return {str(info[4][0]) for info in infos}


def _private(address: str) -> bool:
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return not ip.is_global or ip.is_multicast
