#!/usr/bin/env python3
"""Camera test helpers: a raw-socket MJPEG viewer that parses parts as
they come, and a TurboJPEG decoder (tests/camtool decode) that also reads
the frame number the test pattern draws into each picture."""

import os
import socket
import subprocess
import time

from harness import scaled, client_tls, HOST

HERE = os.path.dirname(os.path.abspath(__file__))
CAMTOOL = os.environ.get("STOCKCAM_CAMTOOL") or os.path.normpath(
    os.path.join(HERE, "..", "camtool"))


def jpeg_size(data):
    """(width, height) from a baseline JPEG's SOF0, or None."""
    if not data.startswith(b"\xff\xd8") or not data.endswith(b"\xff\xd9"):
        return None
    i = 2
    while i + 9 < len(data):
        if data[i] != 0xFF:
            return None
        marker = data[i + 1]
        seglen = int.from_bytes(data[i + 2:i + 4], "big")
        if marker in (0xC0, 0xC1, 0xC2):
            h = int.from_bytes(data[i + 5:i + 7], "big")
            w = int.from_bytes(data[i + 7:i + 9], "big")
            return w, h
        i += 2 + seglen
    return None


class Stream:
    """A raw-socket MJPEG viewer that parses parts as they come."""

    def __init__(self, srv, rcvbuf=None):
        self.s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        if rcvbuf:    # before connecting, so the window stays small
            self.s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        self.s.settimeout(5)
        self.s.connect((HOST, srv.port))
        ctx = client_tls(srv)
        if ctx is not None:     # an HTTPS server: the same over TLS
            self.s = ctx.wrap_socket(self.s, server_hostname=HOST)
        self.s.sendall(b"GET /stream.mjpg HTTP/1.1\r\nHost: x\r\n\r\n")
        self.buf = b""
        self.head = None

    def _fill(self, deadline):
        self.s.settimeout(max(0.05, deadline - time.monotonic()))
        d = self.s.recv(1 << 16)
        if not d:
            raise EOFError("stream closed")
        self.buf += d

    def headers(self, timeout=3.0):
        deadline = time.monotonic() + scaled(timeout)
        while b"\r\n\r\n" not in self.buf:
            self._fill(deadline)
        head, self.buf = self.buf.split(b"\r\n\r\n", 1)
        self.head = head.decode("latin-1")
        return self.head

    def part(self, timeout=3.0):
        """(headers dict, jpeg bytes) of the next part."""
        deadline = time.monotonic() + scaled(timeout)
        while b"\r\n\r\n" not in self.buf:
            self._fill(deadline)
        head, rest = self.buf.split(b"\r\n\r\n", 1)
        lines = head.decode("latin-1").split("\r\n")
        hd = {}
        for ln in lines[1:]:
            k, _, v = ln.partition(":")
            hd[k.strip().lower()] = v.strip()
        n = int(hd["content-length"])
        while len(rest) < n + 2:
            self.buf = head + b"\r\n\r\n" + rest
            self._fill(deadline)
            head, rest = self.buf.split(b"\r\n\r\n", 1)
        self.buf = rest[n + 2:]
        return lines[0], hd, rest[:n]

    def close(self):
        self.s.close()


class Decoder:
    """tests/camtool decode: TurboJPEG decode + frame number per JPEG."""

    def __init__(self):
        self.p = subprocess.Popen([CAMTOOL, "decode"], stdin=subprocess.PIPE,
                                  stdout=subprocess.PIPE)

    def decode(self, jpg):
        """(width, height, subsamp, counter) or ('bad', reason)."""
        self.p.stdin.write(b"%d\n" % len(jpg) + jpg)
        self.p.stdin.flush()
        f = self.p.stdout.readline().decode().split()
        if not f or f[0] != "ok":
            return ("bad", " ".join(f[1:]))
        return int(f[1]), int(f[2]), f[3], int(f[4])

    def close(self):
        self.p.stdin.close()
        self.p.wait()
