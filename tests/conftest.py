"""Test-wide settings: no progress bars, a non-interactive plot backend, no network.

Tests must pass on a machine without internet access, so any attempt to open a
connection to a non-loopback address fails loudly here instead of hanging.
"""

import ipaddress
import os
import socket

import pytest

os.environ.setdefault("TQDM_DISABLE", "1")
os.environ.setdefault("MPLBACKEND", "Agg")

_real_connect = socket.socket.connect


def _is_loopback(address) -> bool:
    if not isinstance(address, tuple):  # AF_UNIX paths
        return True
    host = address[0]
    if host in ("localhost", ""):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:  # a host name: resolving it would already need the network
        return False


def _guarded_connect(self, address):
    if not _is_loopback(address):
        raise OSError(f"network access is disabled in tests (tried to connect to {address})")
    return _real_connect(self, address)


@pytest.fixture(autouse=True)
def _no_network(monkeypatch):
    monkeypatch.setattr(socket.socket, "connect", _guarded_connect)
    yield

