"""This machine's network interfaces, for the scheduler-interface choice."""

from __future__ import annotations

import socket

import psutil


def ipv4_interfaces() -> dict[str, str]:
    """Interface name -> IPv4 address, for interfaces that are up and have one."""
    stats = psutil.net_if_stats()
    found = {}
    for name, addresses in psutil.net_if_addrs().items():
        if name in stats and not stats[name].isup:
            continue
        for address in addresses:
            if address.family == socket.AF_INET:
                found[name] = address.address
                break
    return found


def default_interface(interfaces: dict[str, str]) -> str:
    """The first interface that is not loopback, else loopback."""
    for name, address in interfaces.items():
        if not address.startswith("127."):
            return name
    return next(iter(interfaces), "")
