"""The SSRF guard of outbound webhooks: which URLs Herald may POST to, and where it connects.

A customer chooses the URL, so a careless check would let anyone make Herald call the
cloud metadata service, the database or anything else inside the VPC. Deployed, only
`https` on ports 443 and 8443 is allowed; the host is resolved when the request is made
(not only when the URL is saved), every address it resolves to must be public, and the
connection then goes to the address that was checked, so a DNS answer that changes between
the check and the connect (rebinding) cannot redirect it. The local runtime additionally
allows `http://127.0.0.1` (its webhook sink); nothing else relaxes the guard.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import urlsplit

Address = ipaddress.IPv4Address | ipaddress.IPv6Address
Resolver = Callable[[str, int], list[str]]
"""Resolves (host, port) to IP address strings."""

ALLOWED_PORTS = frozenset({443, 8443})
LOCAL_SINK_HOST = "127.0.0.1"

# Refused whatever `is_global` says: the ranges the issue names, spelled out so a reader
# can check them (most are also not global).
_REFUSED = tuple(
    ipaddress.ip_network(n)
    for n in (
        "0.0.0.0/8",  # unspecified, "this network"
        "10.0.0.0/8",  # private
        "100.64.0.0/10",  # carrier-grade NAT
        "127.0.0.0/8",  # loopback
        "169.254.0.0/16",  # link-local, EC2/ECS metadata (169.254.169.254, 169.254.170.2)
        "172.16.0.0/12",  # private
        "192.168.0.0/16",  # private
        "::/128",  # unspecified
        "::1/128",  # loopback
        "fc00::/7",  # unique-local, EC2 metadata over IPv6 (fd00:ec2::254)
        "fe80::/10",  # link-local
    )
)
# IPv6 forms that carry an IPv4 address inside: the IPv4 address is what gets reached.
_NAT64 = ipaddress.ip_network("64:ff9b::/96")


class UnsafeUrl(ValueError):
    """The URL may not be called: the message says why, fit for the API caller."""


@dataclass(frozen=True)
class UrlPolicy:
    # Only the local runtime sets this, for its webhook sink on loopback.
    allow_local_sink: bool = False


@dataclass(frozen=True)
class Target:
    """Where one request goes: the URL's parts and the checked address to connect to."""

    scheme: str
    host: str
    port: int
    path: str
    address: str


def system_resolver(host: str, port: int) -> list[str]:
    """Every address the system resolver gives for `host`."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


def refused_address(address: Address) -> bool:
    """True for addresses a webhook must never reach (see the module docstring)."""
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return refused_address(address.ipv4_mapped)
        if address.sixtofour is not None:
            return refused_address(address.sixtofour)
        if address.teredo is not None:
            return refused_address(address.teredo[1])
        if address in _NAT64:
            return refused_address(ipaddress.IPv4Address(int(address) & 0xFFFFFFFF))
    if any(address in network for network in _REFUSED if network.version == address.version):
        return True
    return address.is_multicast or not address.is_global


def check_url(url: str, policy: UrlPolicy) -> Target:
    """The static checks (scheme, port, host); `address` is left empty. UnsafeUrl if refused.

    A host given as an IP literal is checked here already, so such a URL is refused when
    it is saved.
    """
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise UnsafeUrl(f"not a valid URL: {exc}") from exc
    host = parts.hostname or ""
    if not host:
        raise UnsafeUrl("the URL needs a host")
    if parts.username is not None or parts.password is not None:
        raise UnsafeUrl("the URL must not carry credentials")
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    if policy.allow_local_sink and parts.scheme == "http" and host == LOCAL_SINK_HOST:
        return Target("http", host, port or 80, path, "")
    if parts.scheme != "https":
        raise UnsafeUrl("only https URLs are allowed")
    port = port or 443
    if port not in ALLOWED_PORTS:
        raise UnsafeUrl("only ports 443 and 8443 are allowed")
    literal = _ip_literal(host)
    if literal is not None and refused_address(literal):
        raise UnsafeUrl(f"{host} is not a public address")
    return Target("https", host, port, path, "")


def resolve_target(url: str, policy: UrlPolicy, resolver: Resolver = system_resolver) -> Target:
    """`check_url`, then the host resolved and every address checked; UnsafeUrl if refused.

    The returned target carries the first address, which the caller must connect to.
    """
    target = check_url(url, policy)
    if target.scheme == "http":  # the local sink, on loopback by construction
        return Target(target.scheme, target.host, target.port, target.path, LOCAL_SINK_HOST)
    try:
        resolved = resolver(target.host, target.port)
    except (OSError, UnicodeError) as exc:
        raise UnsafeUrl(f"{target.host} does not resolve") from exc
    if not resolved:
        raise UnsafeUrl(f"{target.host} does not resolve")
    addresses = [ipaddress.ip_address(a.split("%", 1)[0]) for a in resolved]
    refused = [str(a) for a in addresses if refused_address(a)]
    if refused:
        # One bad address refuses the host: otherwise a rebinding answer mixing public and
        # private addresses could get through on a later connect.
        raise UnsafeUrl(f"{target.host} resolves to a non-public address ({refused[0]})")
    return Target(target.scheme, target.host, target.port, target.path, str(addresses[0]))


def _ip_literal(host: str) -> Address | None:
    try:
        return ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return None
