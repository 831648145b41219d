"""The labgrid resource for a weft radio."""

import attr
from labgrid.factory import target_factory
from labgrid.resource.common import NetworkResource


@target_factory.reg_resource
@attr.s(eq=False)
class WeftRadio(NetworkResource):
    """A radio weft reaches, on the host that has it.

    An exporter publishes it as it is written in the exporter's file (labgrid exports a class
    it does not know as a static entry with its parameters), so a place that matches it gives
    its client these two fields:

    Args:
        host (str): the host the radio is attached to (the exporter's `{{ hostname }}`); the
            drivers run weft there, through labgrid's SSH connection unless it is this host.
        uri (str): the radio as weft on that host names it (`--radio`): `hci:/dev/ttyACM0`,
            `hci-tcp:127.0.0.1:9001`, `bluez:hci0`, `spinel:/dev/ttyACM1`, ...
    """

    uri = attr.ib(validator=attr.validators.instance_of(str))
