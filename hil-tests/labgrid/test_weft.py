"""The example in labgrid's style: the place `main` (LG_PLACE) is served by `weft serve` on
its host, the place `device` (LG_DEVICE_PLACE) runs a `weft node` as the device under test;
the test provisions the device through the served radio and switches it.

    pytest --lg-env env.yaml --lg-coordinator HOST:PORT
"""

import pytest

from weft_serve import WeftError

LAMP = "0102030405060708090a0b0c0d0e0f10"


@pytest.fixture(scope="module")
def served(target, strategy):
    """`weft serve` on the place's radio, answering."""
    strategy.transition("serving")
    serve = target.get_driver("WeftServeDriver")
    yield serve
    print("weft serve:", serve.log(), sep="\n")
    strategy.transition("off")


@pytest.fixture(scope="module")
def lamp(env):
    """A `weft node` beaconing as an unprovisioned device on the device place's radio."""
    device = env.get_target("device")
    node = device.get_driver("WeftNodeDriver")
    yield node
    print("weft node:", node.log(), sep="\n")
    device.deactivate(node)


def test_serve_answers_for_the_places_radio(served, target):
    radio = target.get_resource("WeftRadio")
    status = served.call("status")
    assert status["radio"] == radio.uri


def test_a_request_the_server_refuses_is_an_error_with_its_code(served):
    with pytest.raises(WeftError) as refused:
        served.call("no-such-method")
    assert refused.value.code == -32601  # JSON-RPC 2.0 "Method not found"
    with pytest.raises(WeftError) as refused:
        served.call("send", {"dst": "0002"})
    assert refused.value.code == -32602  # invalid params: no "args" nor "message"


def test_the_device_is_provisioned_and_switched_through_the_served_radio(served, lamp):
    served.subscribe()
    done = served.call("provision", {"uuid": LAMP}, timeout=120)
    assert not done["failed"], done
    [node] = done["provisioned"]
    address = node["address"]
    answer = served.call("send", {"dst": address, "args": ["onoff", "on"]})
    assert answer["status"] == "OnOff Status on", answer
    assert answer["src"] == address
    # What the served radio heard came to the subscriber too.
    event = served.next_event(timeout=10)
    assert event is not None and event["event"] in ("frame", "network", "lagged"), event
