"""Client IP resolution (contract §13.7): trust X-Forwarded-For only from TRUSTED_PROXIES."""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence

IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


def parse_ip(value: str | None) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    if not value:
        return None
    value = value.strip()
    if value.startswith("[") and "]" in value:  # [v6]:port
        value = value[1 : value.index("]")]
    elif value.count(":") == 1 and "." in value:  # v4:port
        value = value.split(":", 1)[0]
    try:
        ip = ipaddress.ip_address(value)
    except ValueError:
        return None
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped:
        return ip.ipv4_mapped
    return ip


def _trusted(
    ip: ipaddress.IPv4Address | ipaddress.IPv6Address, proxies: Sequence[IPNetwork]
) -> bool:
    return any(ip.version == net.version and ip in net for net in proxies)


def resolve_client_ip(
    peer: str | None, forwarded_for: str | None, proxies: Sequence[IPNetwork]
) -> str:
    """The peer address, unless the peer is a trusted proxy: then the right-most
    X-Forwarded-For address that is not itself a trusted proxy."""
    peer_ip = parse_ip(peer)
    if peer_ip is None:
        return peer or ""
    if not proxies or not forwarded_for or not _trusted(peer_ip, proxies):
        return str(peer_ip)
    candidate = peer_ip
    for hop in reversed([h for h in forwarded_for.split(",") if h.strip()]):
        hop_ip = parse_ip(hop)
        if hop_ip is None:
            break  # garbage in the chain: stop at the last address we could trust
        candidate = hop_ip
        if not _trusted(hop_ip, proxies):
            break
    return str(candidate)


def request_client_ip(request: object) -> str:
    """The client IP that ClientIPMiddleware resolved, else the peer address."""
    request = getattr(request, "_request", request)  # a DRF Request wraps the Django one
    meta = getattr(request, "META", {})
    return getattr(request, "client_ip", None) or meta.get("REMOTE_ADDR", "")
