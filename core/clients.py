"""Who a "client" is on a shared server: one person (or one network), across all their tabs and
workspaces, for per-client budgets and the teacher-key rate limit.

A workspace is not a person: anyone can make as many as they like by opening fresh tabs, so
per-workspace limits alone multiply. The network address the server sees is the best identity a
link-only app has: the connection's address, or — only when the server is told it runs behind a
reverse proxy (CNN_LAB_BEHIND_PROXY) — the first X-Forwarded-For hop, which that proxy set.
Without a proxy the header is the visitor's own text, so it is ignored: trusting it would let
anyone be a new client per request.

IPv6 visitors are grouped by their /64 network: one device rotates through addresses inside it.
A school behind one NAT is one client; budgets are settings and the teacher can raise them for the
lesson (core.budgets).

The id is a keyed hash: it is stored in the checkpoint folder's ledger and logged, never shown,
and does not give the address back without the server's key.
"""
from __future__ import annotations

import hashlib
import hmac
import ipaddress

from core import settings

LOCAL = "local"   # the address Streamlit reports as None: a browser on the server's own machine


def client_address(address: str | None, forwarded_for: str | None, behind_proxy: bool) -> str:
    """The address that names the client: see the module docstring. Unparseable -> as given."""
    chosen = address if isinstance(address, str) else None
    if behind_proxy and isinstance(forwarded_for, str):
        first = forwarded_for.split(",")[0].strip()
        if first:
            chosen = first
    if not chosen:
        return LOCAL
    text = chosen.strip().strip("[]")
    try:
        ip = ipaddress.ip_address(text.split("%")[0])
    except ValueError:
        return text[:64]
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return str(ip.ipv4_mapped)
        if ip.is_loopback:
            return LOCAL
        return str(ipaddress.IPv6Network((ip, 64), strict=False))
    return LOCAL if ip.is_loopback else str(ip)


def client_id(address: str | None, forwarded_for: str | None = None, behind_proxy: bool = False,
              key: bytes = b"") -> str:
    """A short opaque id of the client (hashed with `key`, the server's key, when given)."""
    name = client_address(address, forwarded_for, behind_proxy)
    mac = hmac.new(key or b"cnn-lab", b"cnn-lab-client\0" + name.encode("utf-8", "replace"), hashlib.sha256)
    return mac.hexdigest()[:24]




BEHIND_PROXY_ENV = settings.BEHIND_PROXY
behind_proxy = settings.behind_proxy   # $CNN_LAB_BEHIND_PROXY, read by core.settings


__all__ = ["client_id", "client_address", "behind_proxy", "LOCAL", "BEHIND_PROXY_ENV"]
