"""The client's address behind reverse proxies (``FERRY_TRUSTED_PROXIES``).

A proxy appends the address a connection came from to ``X-Forwarded-For`` (or a ``for=``
element to ``Forwarded``, RFC 7239) and passes the request on. Whatever stands left of
what our own proxies appended was written by someone else and proves nothing, so the
chain is walked from the right, starting with the socket peer, skipping trusted proxies;
the first address that is not one is the client (the rightmost-untrusted rule)::

    client 198.51.100.7 ─▶ proxy 10.0.0.2 ─▶ proxy 10.0.0.1 ─▶ Ferry
    X-Forwarded-For: 6.6.6.6 (forged), 198.51.100.7, 10.0.0.2     peer: 10.0.0.1
                                        ▲ client: first untrusted from the right

A peer that is not a trusted proxy is the client, whatever its headers say. A hop that is
not an address (``unknown``, an obfuscated name, garbage) ends the walk at the last
trusted address: what stands left of it cannot be checked.

Only one of the two headers is read (``FERRY_FORWARDED_HEADER``): a proxy passes the one
it does not manage on unchanged, so reading both would let the client pick.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Protocol

Address = ipaddress.IPv4Address | ipaddress.IPv6Address
Network = ipaddress.IPv4Network | ipaddress.IPv6Network

#: The headers a proxy may report the client in (``FERRY_FORWARDED_HEADER``).
HEADERS = ("x-forwarded-for", "forwarded")
#: Hops read from the right at most; a longer chain ends at the last one read.
MAX_HOPS = 32

# Elements and pairs: runs of anything but the separator, where a quoted string may hold
# it. An unterminated quote runs to the end (never retried: linear time).
_QUOTED = r'"(?:[^"\\]|\\.)*"?'
_ELEMENT = re.compile(rf'(?:{_QUOTED}|[^",])+')
_PAIR = re.compile(rf'(?:{_QUOTED}|[^";])+')
_ESCAPE = re.compile(r"\\(.)")


class Headers(Protocol):
    def getall(self, key: str, default: list[str]) -> list[str]: ...


@dataclass(frozen=True)
class TrustedProxies:
    """The proxies whose forwarding headers are believed, and which header they set."""

    networks: tuple[Network, ...] = ()
    header: str = "x-forwarded-for"

    @classmethod
    def parse(cls, text: str, header: str = "x-forwarded-for") -> TrustedProxies:
        """From a comma-separated list of addresses and CIDR networks.

        Raises:
            ValueError: an entry is neither, or ``header`` is not one of :data:`HEADERS`.
        """
        if header.lower() not in HEADERS:
            raise ValueError(f"the forwarded header must be one of {', '.join(HEADERS)}")
        networks = []
        for item in (part.strip() for part in text.split(",")):
            if item:
                try:
                    networks.append(ipaddress.ip_network(item, strict=False))
                except ValueError:
                    raise ValueError(f"{item!r} is not an address or network") from None
        return cls(tuple(networks), header.lower())

    def __bool__(self) -> bool:
        return bool(self.networks)

    def trusts(self, address: Address) -> bool:
        return any(address in net for net in self.networks)


def client_address(peer: str | None, headers: Headers, trusted: TrustedProxies) -> str:
    """The client's address (see the module docstring); ``peer`` is the socket's."""
    client = parse_node(peer or "")
    if client is None:
        return peer or "?"  # not an IP socket: nothing to walk
    if not trusted or not trusted.trusts(client):
        return str(client)
    for hop in _hops_from_right(headers, trusted.header):
        if hop is None:
            break
        client = hop
        if not trusted.trusts(hop):
            break
    return str(client)


def parse_node(text: str) -> Address | None:
    """An address as proxies write it (``203.0.113.9``, ``203.0.113.9:443``, ``2001:db8::1``,
    ``[2001:db8::1]:443``); IPv4-mapped IPv6 as IPv4. ``None`` for anything else."""
    text = text.strip()
    if text.startswith("["):
        text = text[1:].partition("]")[0]
    elif text.count(":") == 1:
        text = text.partition(":")[0]
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def _hops_from_right(headers: Headers, header: str) -> Iterable[Address | None]:
    if header == "forwarded":
        nodes = [
            _for_param(e) for v in headers.getall("Forwarded", []) for e in _ELEMENT.findall(v)
        ]
    else:
        nodes = [n for v in headers.getall("X-Forwarded-For", []) for n in v.split(",")]
    return [parse_node(node) if node is not None else None for node in nodes[::-1][:MAX_HOPS]]


def _for_param(element: str) -> str | None:
    """The ``for=`` value of one ``Forwarded`` element (RFC 7239 section 4), unquoted."""
    for pair in _PAIR.findall(element):
        name, sep, value = pair.partition("=")
        if sep and name.strip().lower() == "for":
            value = value.strip()
            if len(value) >= 2 and value[0] == value[-1] == '"':
                value = _ESCAPE.sub(r"\1", value[1:-1])
            return value
    return None
