"""The web side of the throttles (whistle/core/throttle.py): what a client is counted by, and
a wait in words for the page that asks a person to wait (how long, in the reader's language)."""

from __future__ import annotations

import ipaddress

from flask import request

from whistle.core.dates import ShownWait


def wait_words(wait: int) -> ShownWait:
    """``wait`` seconds, in words (whistle/core/dates.py)."""
    return ShownWait(wait)


def client_key() -> str:
    """What identifies the client for counting: its address, an IPv6 address by its /64 (one
    host or household gets a whole /64, so counting single IPv6 addresses would count
    nothing). Only ever hashed (whistle/core/throttle.py), never stored or logged."""
    raw = request.remote_addr or "unknown"
    try:
        address = ipaddress.ip_address(raw)
    except ValueError:
        return raw
    if address.version == 6:
        return str(ipaddress.ip_network(f"{address}/64", strict=False))
    return str(address)
