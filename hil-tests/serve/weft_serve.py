"""A small client of `weft serve` (hil-tests/serve/PROTOCOL.md): connect, call, events.

    from weft_serve import Client
    with Client.connect("/run/user/1000/weft.sock") as c:
        c.call("provision", uuid="0102030405060708090a0b0c0d0e0f10")
        print(c.call("send", dst="0002", args=["onoff", "on"])["status"])
        c.call("subscribe")
        for event in c.events(timeout=5):
            print(event)

Only the standard library; Python 3.8 or later.
"""

import itertools
import json
import socket
import time
from collections import deque

__all__ = ["Client", "WeftError"]


class WeftError(Exception):
    """An error reply: `code` (JSON-RPC's -32700..-32600 for the protocol, weft's exit codes
    1 refused, 3 unavailable, 4 timeout for the network or radio) and `message`."""

    def __init__(self, code, message):
        super().__init__(f"{message} (code {code})")
        self.code = code
        self.message = message


class Client:
    """One connection to `weft serve`: requests with ids, replies matched to them, and the
    events of a subscription kept in order until read."""

    def __init__(self, sock):
        self._sock = sock
        self._file = sock.makefile("rwb")
        self._ids = itertools.count(1)
        self._events = deque()

    @classmethod
    def connect(cls, path, timeout=120.0):
        """Connects to `weft serve --socket PATH`; no read waits longer than `timeout` s."""
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(timeout)
        sock.connect(str(path))
        return cls(sock)

    def close(self):
        self._file.close()
        self._sock.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def send_line(self, text):
        """Writes one raw line (for tests of what the server does with bad input)."""
        self._file.write(text.encode() + b"\n")
        self._file.flush()

    def read(self):
        """The next line from the server, as JSON."""
        line = self._file.readline()
        if not line:
            raise ConnectionError("weft serve closed the connection")
        return json.loads(line)

    def call(self, method, **params):
        """Calls `method` with `params`: its result, or WeftError."""
        rid = next(self._ids)
        self.send_line(json.dumps({"id": rid, "method": method, "params": params}))
        while True:
            msg = self.read()
            if "event" in msg:
                self._events.append(msg)
                continue
            if msg.get("id") != rid:
                continue
            if "error" in msg:
                raise WeftError(msg["error"]["code"], msg["error"]["message"])
            return msg["result"]

    def events(self, timeout=None):
        """The events of the subscription (`call("subscribe")` first), as they come; ends
        after `timeout` s without one (None: never)."""
        while True:
            if self._events:
                yield self._events.popleft()
                continue
            old = self._sock.gettimeout()
            self._sock.settimeout(timeout)
            try:
                msg = self.read()
            except (socket.timeout, TimeoutError):
                return
            finally:
                self._sock.settimeout(old)
            if "event" in msg:
                yield msg

    def wait_for(self, want, timeout=30.0):
        """The first event for which `want(event)` is true (others read meanwhile stay
        queued for `events`); TimeoutError after `timeout` s."""
        for i, e in enumerate(self._events):
            if want(e):
                del self._events[i]
                return e
        end = time.monotonic() + timeout
        skipped = []
        try:
            while time.monotonic() < end:
                for e in self.events(timeout=max(0.01, end - time.monotonic())):
                    if want(e):
                        return e
                    skipped.append(e)
                    if time.monotonic() >= end:
                        break
                else:
                    break
        finally:
            self._events.extendleft(reversed(skipped))
        raise TimeoutError("no such event within %s s" % timeout)
