"""Monitors may only reach the public internet.

A monitor URL is chosen by whoever runs ``/monitor add`` or ``/monitor test``, so without a guard the
bot becomes a window into its own network (cloud metadata at 169.254.169.254, the database on
loopback, services on private ranges). The check runs where the address is actually dialled: the
``GuardedResolver`` filters what a name resolves to on every connection (a name that re-resolves to a
private address later, DNS rebinding, is caught there too), and ``check_host`` refuses IP literals,
which aiohttp dials without asking the resolver. Loopback and private addresses are allowed only by
``[monitors] allow_private_addresses`` (the local demo and the tests).
"""

from __future__ import annotations

import ipaddress
import re
import socket
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from aiohttp.abc import AbstractResolver, ResolveResult
from aiohttp.resolver import DefaultResolver
from yarl import URL

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

#: NAT64 prefixes embed an IPv4 address in their low 32 bits
_NAT64 = (ipaddress.IPv6Network("64:ff9b::/96"), ipaddress.IPv6Network("64:ff9b:1::/48"))
#: IPv4-compatible addresses (``::a.b.c.d``), deprecated and never a real public host
_IPV4_COMPATIBLE = ipaddress.IPv6Network("::/96")
_NUMERIC_LABEL = re.compile(r"^(?:0x[0-9a-f]*|[0-9]+)$", re.IGNORECASE)

REFUSED = "not a public internet address"


class BlockedAddress(OSError):
    """The host is, or resolves only to, an address monitors may not reach."""

    def __init__(self, host: str) -> None:
        super().__init__(f"{host}: {REFUSED}")
        self.host = host


def is_public(address: IPAddress) -> bool:
    """Globally routable unicast, looking through IPv4-mapped, 6to4, NAT64 and IPv4-compatible forms."""
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return is_public(address.ipv4_mapped)
        if address.sixtofour is not None:
            return is_public(address.sixtofour)
        if address.teredo is not None:
            return False
        if any(address in network for network in _NAT64) or address in _IPV4_COMPATIBLE:
            return is_public(ipaddress.IPv4Address(int(address) & 0xFFFFFFFF))
    return bool(
        address.is_global
        and not address.is_multicast
        and not address.is_reserved
        and not address.is_unspecified
        and not address.is_loopback
        and not address.is_link_local
    )


def ip_literal(host: str) -> IPAddress | None:
    """The address a host names directly, or ``None`` for a DNS name. Legacy IPv4 spellings that the C
    resolver would quietly accept (``0x7f.1``, ``2130706433``, ``0177.0.0.1``, ``127.1``) raise
    ``BlockedAddress``: no store is written that way, and each label could hide a private address."""
    bare = host.strip("[]").split("%", 1)[0].rstrip(".")
    try:
        return ipaddress.ip_address(bare)
    except ValueError:
        pass
    labels = bare.split(".")
    if labels and _NUMERIC_LABEL.match(labels[-1]):
        raise BlockedAddress(host)
    return None


@dataclass(frozen=True)
class AddressPolicy:
    """Which addresses a monitor may dial: public ones, everything with ``allow_private`` (the demo
    and tests), or public ones plus the networks in ``also_allow``."""

    allow_private: bool = False
    also_allow: tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...] = ()

    @classmethod
    def build(cls, allow_private: bool = False, also_allow: Iterable[str] = ()) -> AddressPolicy:
        return cls(allow_private, tuple(ipaddress.ip_network(net) for net in also_allow))

    def permits(self, address: str | IPAddress) -> bool:
        if self.allow_private:
            return True
        try:
            ip = address if not isinstance(address, str) else ipaddress.ip_address(address.split("%", 1)[0])
        except ValueError:
            return False
        return is_public(ip) or any(ip in network for network in self.also_allow)

    def check_host(self, host: str) -> None:
        """Refuse an IP-literal host it does not permit; DNS names are checked by ``GuardedResolver``."""
        if self.allow_private:
            return
        address = ip_literal(host)
        if address is not None and not self.permits(address):
            raise BlockedAddress(host)

    def check_url(self, url: str | URL) -> URL:
        """An ``http(s)`` URL whose host passes ``check_host``; raises ``BlockedAddress`` otherwise."""
        parsed = url if isinstance(url, URL) else URL(url)
        if parsed.scheme not in ("http", "https") or not parsed.host:
            raise BlockedAddress(str(parsed.host or url))
        self.check_host(parsed.host)
        return parsed


class GuardedResolver(AbstractResolver):
    """A resolver with every answer the policy refuses dropped; nothing left means refused. aiohttp
    asks it on each new connection, so the address checked is the address dialled."""

    def __init__(self, policy: AddressPolicy, inner: AbstractResolver | None = None) -> None:
        self.policy = policy
        self._inner = inner or DefaultResolver()

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        self.policy.check_host(host)
        answers = await self._inner.resolve(host, port, family)
        kept = [answer for answer in answers if self.policy.permits(answer["host"])]
        if not kept:
            raise BlockedAddress(host)
        return kept

    async def close(self) -> None:
        await self._inner.close()


def blocked_cause(exc: BaseException) -> BlockedAddress | None:
    """The ``BlockedAddress`` behind an aiohttp connection error, if that is what it was."""
    seen: Any = exc
    for _ in range(4):
        if isinstance(seen, BlockedAddress):
            return seen
        seen = getattr(seen, "os_error", None) or seen.__cause__
        if seen is None:
            return None
    return None
