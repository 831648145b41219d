"""`weft serve` driven from Python as a rig's script would: a simulated air (`weft sim
serve`), one unprovisioned `weft node`, a network store, and `weft serve --socket` owning it;
the script provisions the node and switches it through the server while a second connection
watches the events. Run: WEFT=path/to/weft python -m pytest hil-tests/serve
(tools/tests/serve_py.rs does, in CI)."""

import json
import os
import subprocess
import threading
import time

import pytest

from weft_serve import Client, WeftError

WEFT = os.environ.get("WEFT", "weft")
UUID = "0102030405060708090a0b0c0d0e0f10"


def wait_for_path(path, limit=10.0):
    end = time.monotonic() + limit
    while not os.path.exists(path):
        assert time.monotonic() < end, f"{path} never appeared"
        time.sleep(0.02)


@pytest.fixture
def rig(tmp_path):
    procs = []

    def start(*args, **kw):
        p = subprocess.Popen([WEFT, *args], **kw)
        procs.append(p)
        return p

    try:
        air = tmp_path / "air.sock"
        start("sim", "serve", "--socket", str(air), stderr=subprocess.DEVNULL)
        wait_for_path(air)
        radio = f"sim:{air}"
        node = start("node", "--radio", radio, "--uuid", UUID, "--models", "onoff-server",
                     "--state", str(tmp_path / "node.weft"), stdout=subprocess.PIPE, text=True)
        # The node says it waits for a provisioner once its radio is open.
        assert "waiting for a provisioner" in node.stdout.readline()
        net = str(tmp_path / "net.weft")
        subprocess.run([WEFT, "net", "create", "--net", net], check=True,
                       stdout=subprocess.DEVNULL)
        ctl = tmp_path / "ctl.sock"
        server = start("serve", "--radio", radio, "--socket", str(ctl), "--net", net,
                       stderr=subprocess.DEVNULL)
        wait_for_path(ctl)
        yield {"ctl": ctl, "net": net, "server": server}
    finally:
        for p in reversed(procs):
            p.terminate()
            p.wait()


def test_provision_and_switch_a_light_while_another_client_watches(rig):
    with Client.connect(rig["ctl"]) as watcher, Client.connect(rig["ctl"]) as script:
        assert watcher.call("subscribe") == {"subscribed": True}
        status = script.call("status")
        assert status["clients"] == 2 and status["nodes"] == 1
        # The server's own node: weft's, the first address of a new network.
        assert status["node"] == "0001"

        done = script.call("provision", uuid=UUID, timeout=30)
        assert done["failed"] == []
        assert done["provisioned"][0]["address"] == "0002"
        assert done["provisioned"][0]["configured"] is True

        answer = script.call("send", dst="0002", args=["onoff", "on"])
        assert answer["status"] == "OnOff Status on" and answer["ok"] is True
        answer = script.call("config", dst="0002", args=["ttl"])
        assert answer["name"] == "Config Default TTL Status"

        e = watcher.wait_for(lambda e: e["event"] == "provision" and e["step"] == "provisioned")
        assert e["address"] == "0002"
        e = watcher.wait_for(lambda e: e["event"] == "access" and e["opcode"] == "8204")
        assert e["src"] == "0002"
        assert len(watcher.call("network")["nodes"]) == 2


def test_errors_are_replies_and_the_server_goes_on(rig):
    with Client.connect(rig["ctl"]) as c:
        c.send_line("{not json")
        assert c.read()["error"]["code"] == -32700
        with pytest.raises(WeftError) as e:
            c.call("reboot")
        assert e.value.code == -32601
        with pytest.raises(WeftError) as e:
            c.call("send", dst="0002", args=["onoff", "maybe"])
        assert e.value.code == -32602
        # Nothing answers at 0009: weft's exit code for a timeout.
        with pytest.raises(WeftError) as e:
            c.call("send", dst="0009", args=["onoff", "on"], timeout=1)
        assert e.value.code == 4
        assert c.call("status")["answered"] >= 1
        # Giving up on a reply (`wait`) leaves the connection usable: the late reply is
        # dropped, the next call gets its own.
        with pytest.raises(TimeoutError):
            c.call("send", {"dst": "0009", "args": ["onoff", "on"]}, timeout=1, wait=0.05)
        assert c.call("network", wait=5)["meshName"]


def test_threads_share_a_connection_and_a_server_that_goes_is_a_connection_error(rig):
    with Client.connect(rig["ctl"]) as c:
        c.call("subscribe")
        results = []

        def status():
            results.append(c.call("status")["clients"])

        threads = [threading.Thread(target=status) for _ in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert results == [1] * 8
        rig["server"].terminate()
        rig["server"].wait()
        # The events that came are read to the end, then the connection is closed.
        while c.next_event(timeout=5) is not None:
            pass
        assert c.closed
        with pytest.raises(ConnectionError):
            c.call("status")


def test_the_operator_commands_share_the_server(rig):
    ctl = str(rig["ctl"])
    with Client.connect(ctl) as c:
        c.call("provision", uuid=UUID)
    out = subprocess.run([WEFT, "send", "--serve", ctl, "--dst", "0002", "--json", "onoff", "off"],
                         capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)["status"] == "OnOff Status off"
