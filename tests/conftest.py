"""Test-wide settings: no progress bars, a non-interactive plot backend, no network.

Tests must pass on a machine without internet access, so any attempt to open a
connection to a non-loopback address fails loudly here instead of hanging.
"""

import contextlib
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


@pytest.fixture
def interrupt_on_call(monkeypatch):
    """A run killed mid-training: ``with interrupt_on_call(module, "name", n): fit(...)``
    replaces ``module.name`` by a wrapper whose ``n``-th call raises KeyboardInterrupt,
    requires the body to be interrupted, and puts the original back on exit."""

    @contextlib.contextmanager
    def patch(module, name: str, n: int):
        real = getattr(module, name)
        calls = {"n": 0}

        def dies(*args, **kwargs):
            calls["n"] += 1
            if calls["n"] == n:
                raise KeyboardInterrupt
            return real(*args, **kwargs)

        monkeypatch.setattr(module, name, dies)
        try:
            with pytest.raises(KeyboardInterrupt):
                yield
        finally:
            monkeypatch.setattr(module, name, real)

    return patch
