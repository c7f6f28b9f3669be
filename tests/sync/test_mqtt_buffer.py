"""The buffered socket under paho: small reads come from memory, and paho is told bytes wait there."""

import socket

import pytest

from sync.mqtt import BufferedSocket


@pytest.fixture
def pair():
    ours, theirs = socket.socketpair()
    ours.setblocking(False)
    yield BufferedSocket(ours), theirs
    ours.close()
    theirs.close()


def test_one_socket_read_serves_many_small_reads(pair):
    sock, peer = pair
    peer.sendall(b"\x30\x05hello\x40\x02\x00\x01")
    assert sock.recv(1) == b"\x30"
    assert sock.pending() == 10  # everything else was read at once and waits in memory
    assert sock.recv(1) == b"\x05"
    assert sock.recv(5) == b"hello"
    assert sock.recv(4) == b"\x40\x02\x00\x01"
    assert sock.pending() == 0


def test_a_read_larger_than_what_is_buffered_returns_the_rest_only(pair):
    sock, peer = pair
    peer.sendall(b"abc")
    assert sock.recv(1) == b"a"
    assert sock.recv(100) == b"bc"
    with pytest.raises(BlockingIOError):
        sock.recv(1)  # nothing buffered, nothing on the socket: paho's "try again"


def test_end_of_stream_passes_through(pair):
    sock, peer = pair
    peer.sendall(b"x")
    peer.shutdown(socket.SHUT_WR)
    assert sock.recv(1) == b"x"
    assert sock.recv(1) == b""


def test_other_calls_reach_the_socket(pair):
    sock, peer = pair
    assert sock.send(b"ping") == 4
    assert peer.recv(4) == b"ping"
    assert sock.fileno() == sock._sock.fileno()
