"""The Python client of `weft serve` (hil-tests/serve/PROTOCOL.md): connect, call, events.
Scripts use it as it is; labgrid's `WeftServeDriver` (hil-tests/labgrid) through it.

    from weft_serve import Client
    with Client.connect("/run/user/1000/weft.sock") as c:
        c.call("provision", uuid="0102030405060708090a0b0c0d0e0f10")
        print(c.call("send", dst="0002", args=["onoff", "on"])["status"])
        c.call("subscribe")
        for event in c.events(timeout=5):
            print(event)

One JSON object a line each way. A thread reads the connection: replies go to the call that
waits for them (matched by `id`, so several threads may call at once), events (lines with
`event` and no `id`) are kept in order until read. Only the standard library; Python 3.8 or
later.
"""

import itertools
import json
import socket
import threading
import time
from collections import deque

__all__ = ["Client", "WeftError"]


class WeftError(Exception):
    """An error reply: `code` (JSON-RPC's -32700..-32600 for the protocol, weft's exit codes
    1 refused, 3 unavailable, 4 timeout for the network or radio), `message`, and the
    `method` called (None for a raw line)."""

    def __init__(self, code, message, method=None):
        super().__init__(f"{method + ': ' if method else ''}{message} (code {code})")
        self.code = code
        self.message = message
        self.method = method


class Client:
    """One connection to `weft serve`."""

    def __init__(self, sock, timeout=120.0):
        """Takes a connected socket; a call waits `timeout` s for its reply unless told."""
        sock.settimeout(None)
        self._sock = sock
        self.timeout = timeout
        self._ids = itertools.count(1)
        self._last_id = 0
        self._write = threading.Lock()
        self._cond = threading.Condition()
        self._waiting = set()
        self._replies = {}
        self._events = deque()
        self._stray = deque()
        self._closed = False
        self._reader = threading.Thread(target=self._read, name="weft-serve", daemon=True)
        self._reader.start()

    @classmethod
    def connect(cls, path, timeout=120.0, connect_timeout=5.0):
        """Connects to `weft serve --socket PATH` (OSError if nothing listens there)."""
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(connect_timeout)
        try:
            sock.connect(str(path))
        except OSError:
            sock.close()
            raise
        return cls(sock, timeout)

    def close(self):
        try:
            self._sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self._sock.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    @property
    def closed(self):
        """Whether the server closed the connection."""
        return self._closed

    def _read(self):
        try:
            with self._sock.makefile("r", encoding="utf-8") as lines:
                for line in lines:
                    try:
                        msg = json.loads(line)
                    except ValueError:
                        continue
                    if not isinstance(msg, dict):
                        continue
                    with self._cond:
                        rid = msg.get("id")
                        if "event" in msg and "id" not in msg:
                            self._events.append(msg)
                        elif rid in self._waiting:
                            self._replies[rid] = msg
                        elif not (isinstance(rid, int) and 0 < rid <= self._last_id):
                            # Not a call's (a call that gave up drops its late reply).
                            self._stray.append(msg)
                        self._cond.notify_all()
        except (OSError, ValueError):
            pass
        finally:
            with self._cond:
                self._closed = True
                self._cond.notify_all()

    def send_line(self, text):
        """Writes one raw line (for tests of what the server does with bad input; its
        reply comes from `read`)."""
        with self._write:
            self._sock.sendall(text.encode() + b"\n")

    def read(self, timeout=None):
        """The next line that is neither an event nor a call's reply (the reply to a raw
        line), as JSON; TimeoutError after `timeout` s (default: the client's)."""
        with self._cond:
            self._wait(lambda: self._stray, timeout, "a reply")
            return self._stray.popleft()

    def _wait(self, ready, timeout, what):
        """Waits (holding the condition) until `ready()`; ConnectionError once the server
        has gone and nothing is ready, TimeoutError after `timeout` s."""
        timeout = self.timeout if timeout is None else timeout
        if not self._cond.wait_for(lambda: ready() or self._closed, timeout):
            raise TimeoutError(f"no {what} from weft serve in {timeout} s")
        if not ready():
            raise ConnectionError("weft serve closed the connection")

    def call(self, method, params=None, /, *, wait=None, **kw):
        """Calls `method` with `params` (a dict, and/or keywords): its `result`. Raises
        WeftError for an error reply, ConnectionError when the server goes away,
        TimeoutError after `wait` s (default: the client's timeout) without the reply."""
        rid = next(self._ids)
        with self._cond:
            self._last_id = max(self._last_id, rid)
            self._waiting.add(rid)
        try:
            line = {"id": rid, "method": method, "params": {**(params or {}), **kw}}
            self.send_line(json.dumps(line))
            with self._cond:
                try:
                    self._wait(lambda: rid in self._replies, wait, f"reply to {method}")
                except (TimeoutError, ConnectionError) as e:
                    raise type(e)(f"{method}: {e}") from None
                reply = self._replies.pop(rid)
        finally:
            with self._cond:
                self._waiting.discard(rid)
        if "error" in reply:
            e = reply["error"]
            raise WeftError(e.get("code"), e.get("message"), method)
        return reply.get("result")

    def events(self, timeout=None):
        """The events of the subscription (`call("subscribe")` first), in order, as they
        come; ends after `timeout` s without one (None: never) or when the server goes."""
        while True:
            with self._cond:
                self._cond.wait_for(lambda: self._events or self._closed, timeout)
                if not self._events:
                    return
                e = self._events.popleft()
            yield e

    def next_event(self, timeout=None):
        """The next event, or None after `timeout` s without one."""
        return next(self.events(timeout), None)

    def wait_for(self, want, timeout=30.0):
        """The first event for which `want(event)` is true, taken out of the queue (the
        others stay, in order, for `events`); TimeoutError after `timeout` s."""
        end = time.monotonic() + timeout
        seen = 0
        with self._cond:
            while True:
                for i in range(seen, len(self._events)):
                    if want(self._events[i]):
                        e = self._events[i]
                        del self._events[i]
                        return e
                seen = len(self._events)
                left = end - time.monotonic()
                if left <= 0 or self._closed:
                    raise TimeoutError("no such event within %s s" % timeout)
                self._cond.wait(left)
