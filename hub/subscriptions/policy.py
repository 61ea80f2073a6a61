"""Which webhook endpoints the hub may call, so it cannot be turned against internal addresses.

An endpoint must be ``https`` (``http`` only when ``WEBHOOK_ALLOW_HTTP``), carry no credentials
in its URL, and resolve only to globally routable addresses, unless an address falls in one of
``WEBHOOK_ALLOWED_NETWORKS`` (an operator's explicit exception, such as a loopback receiver in
tests). The check runs when a subscription is created and again before every delivery, since
a name can be pointed at a new address after it was accepted; a delivery then connects to the
very address that was checked (:class:`Target`), so a name cannot answer one address to the
check and another to the connection.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from hub.core.config import IPNetwork, parse_networks

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
# IPv6 ranges that carry an IPv4 address (NAT64, 6to4, IPv4-compatible): Python counts some as
# global, yet they can lead to any IPv4 address, private ones included.
EMBEDDING_IPV4 = tuple(
    ipaddress.ip_network(network)
    for network in ("64:ff9b::/96", "64:ff9b:1::/48", "2002::/16", "::/96")
)


@dataclass(frozen=True)
class Target:
    """A checked endpoint: where to connect, and the name to present there."""

    scheme: str
    host: str
    port: int
    address: IPAddress
    path: str

    @property
    def host_header(self) -> str:
        """The ``Host`` header: the name, with the port unless it is the scheme's default."""
        default = 443 if self.scheme == "https" else 80
        name = f"[{self.host}]" if ":" in self.host else self.host
        return name if self.port == default else f"{name}:{self.port}"


class UnsafeEndpoint(ValueError):
    """The endpoint may not be called; the message says why."""


@dataclass(frozen=True)
class EndpointPolicy:
    """The rules an endpoint URL must follow."""

    allow_http: bool
    allowed_networks: tuple[IPNetwork, ...]

    @classmethod
    def from_settings(cls, settings: Mapping[str, Any]) -> EndpointPolicy:
        """The policy the app's settings describe."""
        return cls(
            allow_http=settings["WEBHOOK_ALLOW_HTTP"],
            allowed_networks=parse_networks(settings["WEBHOOK_ALLOWED_NETWORKS"]),
        )

    def check(self, url: str) -> Target:
        """The address to deliver ``url`` to; :class:`UnsafeEndpoint` unless the hub may call
        every address the name resolves to."""
        try:
            parts = urlsplit(url)
            port = parts.port
        except ValueError as exc:
            raise UnsafeEndpoint(f"Not a valid URL: {exc}.") from exc
        schemes = ("https", "http") if self.allow_http else ("https",)
        if parts.scheme not in schemes:
            raise UnsafeEndpoint(f"The URL must use {' or '.join(schemes)}.")
        if not parts.hostname:
            raise UnsafeEndpoint("The URL has no host.")
        if parts.username is not None or parts.password is not None:
            raise UnsafeEndpoint("The URL must not carry credentials.")
        port = port or (443 if parts.scheme == "https" else 80)
        addresses = _resolve(parts.hostname, port)
        for address in addresses:
            if not self._allowed(address):
                raise UnsafeEndpoint(
                    f"{parts.hostname} resolves to {address}, which is not a public address."
                )
        path = parts.path or "/"
        if parts.query:
            path = f"{path}?{parts.query}"
        return Target(parts.scheme, parts.hostname, port, addresses[0], path)

    def _allowed(self, address: IPAddress) -> bool:
        if any(address in network for network in self.allowed_networks):
            return True
        if any(address in network for network in EMBEDDING_IPV4):
            return False
        return address.is_global and not address.is_multicast


def _resolve(host: str, port: int) -> list[IPAddress]:
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        raise UnsafeEndpoint(f"{host} does not resolve.") from exc
    addresses: list[IPAddress] = []
    for info in infos:
        # IPv6 addresses may carry a zone (fe80::1%eth0), which ip_address refuses.
        text = str(info[4][0]).split("%", 1)[0]
        address = ipaddress.ip_address(text)
        if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
            address = address.ipv4_mapped
        addresses.append(address)
    if not addresses:
        raise UnsafeEndpoint(f"{host} does not resolve.")
    return addresses
