"""Which network addresses we may send a customer's data to.

A flow's customer endpoint URL is typed by a dashboard user, and the hosted endpoint POSTs decrypted
user data to it from inside our network (server-side request forgery). The flow form refuses a URL
that names a private address when it is saved; exchange/relay.py checks each address again when it
connects, since a host name may resolve differently later.
"""

from __future__ import annotations

import ipaddress


def is_public_address(address: str) -> bool:
    """Whether an IP address (text, IPv6 zone id allowed) is on the public internet and unicast."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])  # drop an IPv6 zone id
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.is_global and not ip.is_multicast
