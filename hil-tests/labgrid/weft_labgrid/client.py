"""A client of `weft serve`'s socket (hil-tests/serve/PROTOCOL.md): one JSON object a line
each way; replies carry their request's `id`, events (`{"event": "frame", ...}`) come to a
client that subscribed, between the replies."""

import itertools
import json
import queue
import socket
import threading


class ServeError(Exception):
    """An error reply: its `code` (JSON-RPC 2.0 codes, or weft's exit codes 1 refused,
    3 unavailable, 4 timeout) and `message`."""

    def __init__(self, method, code, message):
        super().__init__(f"{method}: {message} (code {code})")
        self.code = code
        self.message = message


class ServeClient:
    """One connection to a `weft serve --socket PATH`."""

    def __init__(self, path, connect_timeout=5.0):
        self._sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self._sock.settimeout(connect_timeout)
        try:
            self._sock.connect(path)
        except OSError:
            self._sock.close()
            raise
        self._sock.settimeout(None)
        self._ids = itertools.count(1)
        self._lock = threading.Lock()
        self._waiting = {}
        self._events = queue.Queue()
        self._closed = False
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self):
        with self._sock.makefile("r", encoding="utf-8") as lines:
            for line in lines:
                try:
                    msg = json.loads(line)
                except ValueError:
                    continue
                if "event" in msg:
                    self._events.put(msg)
                    continue
                with self._lock:
                    slot = self._waiting.pop(msg.get("id"), None)
                if slot is not None:
                    slot.put(msg)
        self._closed = True
        with self._lock:
            waiting, self._waiting = self._waiting, {}
        for slot in waiting.values():
            slot.put(None)

    def call(self, method, params=None, timeout=60.0):
        """Sends one request and returns its `result`; raises ServeError for an error reply,
        ConnectionError when the server goes away, TimeoutError after `timeout` seconds."""
        if self._closed:
            raise ConnectionError("weft serve closed the connection")
        rid = next(self._ids)
        slot = queue.Queue(maxsize=1)
        with self._lock:
            self._waiting[rid] = slot
        line = json.dumps({"id": rid, "method": method, "params": params or {}}) + "\n"
        self._sock.sendall(line.encode())
        try:
            reply = slot.get(timeout=timeout)
        except queue.Empty:
            with self._lock:
                self._waiting.pop(rid, None)
            raise TimeoutError(f"{method}: no reply in {timeout} s") from None
        if reply is None:
            raise ConnectionError(f"{method}: weft serve closed the connection")
        if "error" in reply:
            e = reply["error"]
            raise ServeError(method, e.get("code"), e.get("message"))
        return reply.get("result")

    def next_event(self, timeout=None):
        """The next event of a subscription (`call("subscribe")` first); None after
        `timeout` seconds without one."""
        try:
            return self._events.get(timeout=timeout)
        except queue.Empty:
            return None

    def close(self):
        try:
            self._sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self._sock.close()
