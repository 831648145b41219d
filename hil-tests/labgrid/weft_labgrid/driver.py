"""labgrid drivers that run weft on a WeftRadio's host: `weft serve` (a control socket for
the place's radio, called through `call`) and `weft node` (a device on the place's radio)."""

import os
import shutil
import subprocess
import time

import attr
from labgrid.driver.common import Driver
from labgrid.driver.exception import ExecutionError
from labgrid.factory import target_factory
from labgrid.step import step

from weft_serve import Client

from .host import Host, quote, scratch_dir

_str = attr.validators.instance_of(str)
_opt_str = attr.validators.optional(_str)


class _Process:
    """One weft process on the radio's host, its output logged in a scratch directory here."""

    def __init__(self, driver, argv):
        self.host = Host(driver.radio)
        self.scratch = scratch_dir()
        self.log_path = os.path.join(self.scratch, "weft.log")
        self.argv = argv
        driver.logger.info("on %s: %s", driver.radio.host, quote(argv))
        try:
            with open(self.log_path, "wb") as log:
                self.proc = self.host.spawn(argv, log)
        except OSError as e:
            shutil.rmtree(self.scratch, ignore_errors=True)
            raise ExecutionError(f"cannot run {quote(argv)}: {e}") from e

    def log(self):
        try:
            with open(self.log_path, encoding="utf-8", errors="replace") as f:
                return f.read()
        except OSError:
            return ""

    def check_running(self):
        if self.proc.poll() is not None:
            raise ExecutionError(
                f"{quote(self.argv)} exited with {self.proc.returncode}:\n{self.log()}")

    def stop(self):
        self.host.close()
        code = Host.stop(self.proc)
        shutil.rmtree(self.scratch, ignore_errors=True)
        return code


@target_factory.reg_driver
@attr.s(eq=False)
class WeftServeDriver(Driver):
    """Runs `weft serve --radio URI --socket PATH` on the radio's host while active, and
    talks to it (`call`, `subscribe`, `next_event`).

    Args:
        weft (str): the weft binary on that host (default: `weft` on its PATH)
        net (str): the network store on that host (default: weft's own default)
        create_net (bool): run `weft net create` first when `net` does not exist
        socket (str): the socket path on that host (default: a fresh one under /tmp)
        ready_timeout (float): seconds `weft serve` may take to answer `status`
    """

    bindings = {"radio": "WeftRadio"}

    weft = attr.ib(default="weft", validator=_str)
    net = attr.ib(default=None, validator=_opt_str)
    create_net = attr.ib(default=False, validator=attr.validators.instance_of(bool))
    socket = attr.ib(default=None, validator=_opt_str)
    ready_timeout = attr.ib(default=30.0, converter=float)

    def __attrs_post_init__(self):
        super().__attrs_post_init__()
        self._process = None
        self._client = None
        self._socket = None

    def on_activate(self):
        host = Host(self.radio)
        store = ["--net", self.net] if self.net else []
        if self.net and self.create_net:
            make = 'test -e "$1" || exec "$2" net create --net "$1"'
            try:
                host.run(["sh", "-c", make, "sh", self.net, self.weft])
            except subprocess.CalledProcessError as e:
                raise ExecutionError(f"weft net create --net {self.net}: {e.stdout}{e.stderr}")
        self._socket = self.socket or host.socket_path("serve")
        argv = [self.weft, "serve", "--radio", self.radio.uri, "--socket", self._socket, *store]
        self._process = _Process(self, argv)
        try:
            self._client = self._connect()
        except Exception:
            self._process.stop()
            self._process = None
            raise

    def _connect(self):
        deadline = time.monotonic() + self.ready_timeout
        path = None
        while True:
            self._process.check_running()
            try:
                if path is None:
                    path = self._process.host.reach(self._socket, self._process.scratch)
                client = Client.connect(path)
            except (OSError, subprocess.CalledProcessError) as e:
                if time.monotonic() > deadline:
                    raise ExecutionError(
                        f"weft serve did not open {self._socket} in {self.ready_timeout} s "
                        f"({e}):\n{self._process.log()}")
                time.sleep(0.05)
                continue
            try:
                client.call("status", wait=max(deadline - time.monotonic(), 1.0))
                return client
            except (ConnectionError, OSError):
                # A forwarded socket accepts before the far end is listening.
                client.close()
                time.sleep(0.05)

    def on_deactivate(self):
        if self._client is not None:
            self._client.close()
            self._client = None
        if self._process is not None:
            code = self._process.stop()
            self._process = None
            if code not in (0, None):
                self.logger.warning("weft serve exited with %s", code)

    @Driver.check_active
    @step(args=["method", "params"], result=True)
    def call(self, method, params=None, timeout=60.0):
        """One request of weft serve's protocol; returns its `result` (raises
        weft_serve.WeftError for an error reply, TimeoutError after `timeout` s)."""
        return self._client.call(method, params, wait=timeout)

    @Driver.check_active
    def subscribe(self):
        """From now on, frames and network changes come as events (`next_event`)."""
        return self._client.call("subscribe")

    @Driver.check_active
    def next_event(self, timeout=None):
        """The next event after `subscribe` (`{"event": "frame", ...}`), None after
        `timeout` seconds without one."""
        return self._client.next_event(timeout)

    @Driver.check_active
    def log(self):
        """What weft serve wrote so far."""
        return self._process.log()

    @property
    def socket_path(self):
        """The socket on the radio's host, for other weft commands there
        (`weft send --serve PATH`)."""
        return self._socket

    def get_export_vars(self):
        return {"socket": self._socket or "", "uri": self.radio.uri}


@target_factory.reg_driver
@attr.s(eq=False)
class WeftNodeDriver(Driver):
    """Runs `weft node --radio URI --uuid UUID` on the radio's host while active: an
    unprovisioned device there, which serves its models once provisioned.

    Args:
        uuid (str): the device UUID (32 hex digits)
        models (str): `--models`, comma separated (default: onoff-server,level-server)
        state_file (str): `--state` on that host (`state` is labgrid's binding state);
            default: a fresh file, removed when the driver is deactivated, so the device
            starts unprovisioned each time
        weft (str): the weft binary on that host
        ready_timeout (float): seconds `weft node` may take to open its radio
    """

    bindings = {"radio": "WeftRadio"}

    uuid = attr.ib(validator=_str)
    models = attr.ib(default="onoff-server,level-server", validator=_str)
    state_file = attr.ib(default=None, validator=_opt_str)
    weft = attr.ib(default="weft", validator=_str)
    ready_timeout = attr.ib(default=30.0, converter=float)

    def __attrs_post_init__(self):
        super().__attrs_post_init__()
        self._process = None
        self._fresh = None

    def on_activate(self):
        state = self.state_file
        if state is None:
            state = self._fresh = Host.fresh_path("node") + ".weft"
        argv = [self.weft, "node", "--radio", self.radio.uri, "--uuid", self.uuid,
                "--models", self.models, "--state", state]
        self._process = _Process(self, argv)
        # It says so once its radio is open: "unprovisioned UUID: waiting for a provisioner"
        # (or "node ADDRESS on the air" from a state that is provisioned already).
        deadline = time.monotonic() + self.ready_timeout
        try:
            while not any(w in self._process.log() for w in ("unprovisioned ", " on the air")):
                self._process.check_running()
                if time.monotonic() > deadline:
                    raise ExecutionError(f"weft node did not open its radio in "
                                         f"{self.ready_timeout} s:\n{self._process.log()}")
                time.sleep(0.05)
        except ExecutionError:
            self._process.stop()
            self._process = None
            raise

    def on_deactivate(self):
        if self._process is not None:
            self._process.stop()
            self._process = None
        if self._fresh is not None:
            fresh, self._fresh = self._fresh, None
            # The state file, its key file and its lock.
            Host(self.radio).run(["rm", "-f", fresh, fresh + ".key", fresh + ".lock"])

    @Driver.check_active
    def log(self):
        """What the node wrote so far."""
        return self._process.log()
