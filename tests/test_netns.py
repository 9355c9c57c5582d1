"""The namespace helper itself: creation, isolation, setns, cleanup of stale runs."""

from __future__ import annotations

import os
import socket
import subprocess

import pytest

from tidescan import netns


@pytest.mark.lab
def test_veth_pair_ping_and_cleanup(veth_pair: netns.VethPair) -> None:
    out = veth_pair.a.run(["ping", "-c", "1", "-W", "2", "10.199.0.2"], check=False)
    assert out.returncode == 0, out.stdout + out.stderr
    # No route out of either namespace: only the link's own /24.
    routes = veth_pair.a.run(["ip", "route"]).stdout
    assert "default" not in routes
    assert veth_pair.a.name.startswith(netns.unique_prefix())


@pytest.mark.lab
def test_entered_binds_socket_to_namespace(veth_pair: netns.VethPair) -> None:
    with netns.entered(veth_pair.a.name):
        names = os.listdir("/sys/class/net")  # sysfs is per-mount, so check via socket instead
        s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
    try:
        s.bind((veth_pair.a_if, 0))  # interface exists only inside namespace a
    finally:
        s.close()
    del names
    with pytest.raises(OSError):
        t = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
        try:
            t.bind((veth_pair.a_if, 0))
        finally:
            t.close()


@pytest.mark.lab
def test_cleanup_stale_removes_dead_pid_namespaces() -> None:
    dead = subprocess.Popen(["true"])
    dead.wait()
    name = f"{netns.unique_prefix(dead.pid)}stale"
    subprocess.run(["ip", "netns", "add", name], check=True)
    try:
        assert name in netns.cleanup_stale()
        assert name not in netns.list_namespaces()
    finally:
        subprocess.run(["ip", "netns", "del", name], capture_output=True)
