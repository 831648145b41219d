#!/usr/bin/env python3
"""Emulated Bluetooth LE controllers for weft's tests, built on Bumble 0.0.236.

    python hil-tests/bumble/controllers.py \
        --transport tcp-server:127.0.0.1:9001 --transport pty:/tmp/weft-hci-1 \
        [--stock-quirks | --quirk NAME ...] [--unknown-as-status] \
        [--rssi DBM] [--rssi I-J=DBM ...] [--loss I-J=P ...] [--seed N] [--control-fifo PATH]

Each --transport gets one controller; all of them share one air (a LocalLink), so each hears
what the others advertise at once. Once a transport is open the script prints
`ready SPEC` on standard output (a tcp-server port 0 is printed as the port it got); it exits
cleanly on SIGTERM or SIGINT (and, with --exit-on-stdin-eof, when its standard input closes),
removing the pty symlinks and unix sockets it made. With --exit-on-stdin-eof, standard input
also changes links while it runs: a line `loss I-J=P` or `rssi I-J=DBM` is answered `ok LINE`
(or `error LINE: why`) on standard output. --control-fifo PATH makes a FIFO that takes the
same lines from anyone (`echo loss 0-1=1 > PATH`, what a rig file's `link` fixture runs; the
answers go to standard error); it is removed at exit. A stale pty symlink or unix socket left by
a killed run is replaced at start.

Stock Bumble's controller differs from a real one in ways that matter for Bluetooth Mesh. This
fixture fixes them; each fix can be turned back into the stock behaviour with --quirk NAME, and
--stock-quirks turns them all back (so weft can be tested against both):

  adv-ind-only         legacy advertising transmits ADV_IND only: ADV_NONCONN_IND and
                       ADV_SCAN_IND never reach the air
  interval-ms          the legacy advertising interval is read as ms, not 0.625 ms units
  extended-reports     every report is an LE Extended Advertising Report typed
                       "connectable", even after legacy scan commands
  scan-rsp-copy        every report is followed by a copy of it labelled SCAN_RSP
  no-duplicate-filter  Filter_Duplicates is ignored
  reset-keeps-radio    HCI_Reset leaves advertising and scanning running
  silent-unknown       a command without a handler (LE Encrypt, vendor 0xFCxx) gets no event

Not modelled (as in stock Bumble): channels, airtime, collisions, event masks, ADV_DIRECT_IND,
scan responses to extended advertising. Set BUMBLE_LOGLEVEL=DEBUG to trace every packet.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import os
import random
import signal
import socket
import stat
import sys

import bumble.logging
from bumble import hci, ll
from bumble.controller import AdvertisingSet, Controller, LegacyAdvertiser
from bumble.link import LocalLink
from bumble.transport import open_transport

QUIRKS = (
    "adv-ind-only",
    "interval-ms",
    "extended-reports",
    "scan-rsp-copy",
    "no-duplicate-filter",
    "reset-keeps-radio",
    "silent-unknown",
)

# Legacy advertising PDU types as the LE Advertising Report names them (Core Vol 4 Part E
# 7.7.65.2), and the same PDUs in an LE Extended Advertising Report (7.7.65.13: bit 0
# connectable, 1 scannable, 3 scan response, 4 legacy).
ADV_IND, ADV_SCAN_IND, ADV_NONCONN_IND, SCAN_RSP = 0x00, 0x02, 0x03, 0x04
EXT_LEGACY = {ADV_IND: 0x13, ADV_SCAN_IND: 0x12, ADV_NONCONN_IND: 0x10}
EXT_SCAN_RSP = 0x08
# Advertising_Event_Properties of an extended advertising set (7.8.53) -> legacy PDU type.
PROPS_LEGACY = {0x13: ADV_IND, 0x12: ADV_SCAN_IND, 0x10: ADV_NONCONN_IND}
ACTIVE = 0x01


@dataclasses.dataclass
class LegacyPdu(ll.AdvertisingPdu):
    """A legacy advertising PDU of any type (ll.py only knows ADV_IND on the air)."""

    kind: int  # ADV_IND, ADV_SCAN_IND or ADV_NONCONN_IND
    advertiser_address: hci.Address
    data: bytes
    scan_response_data: bytes  # what an active scanner's SCAN_REQ would get back


@dataclasses.dataclass
class ExtPdu(ll.AdvExtInd):
    """ADV_EXT_IND that also says whether it is connectable, scannable, directed."""

    properties: int = 0


class Advertiser(LegacyAdvertiser):
    """Legacy advertising: every PDU type, interval in 0.625 ms units plus advDelay."""

    def _on_timer_fired(self) -> None:
        self.send_advertising_data()
        # 0x0800 (1.28 s) is the spec's default; stock Bumble spins on 0 when never set.
        interval = self.advertising_interval_min or 0x0800
        if "interval-ms" in self.controller.quirks:
            delay = interval / 1000
        else:  # Core Vol 6 Part B 4.4.2.2.1: advInterval + advDelay (0-10 ms)
            delay = interval * 0.000625 + random.uniform(0, 0.010)
        self.timer_handle = asyncio.get_running_loop().call_later(delay, self._on_timer_fired)

    def send_advertising_data(self) -> None:
        kind = self.advertising_type
        if not self.enabled or kind not in EXT_LEGACY:
            return  # ADV_DIRECT_IND is not modelled
        if kind != ADV_IND and "adv-ind-only" in self.controller.quirks:
            return
        self.controller.send_advertising_pdu(
            LegacyPdu(kind, self.address, self.advertising_data, self.scan_response_data)
        )


class ExtAdvertiser(AdvertisingSet):
    """An extended advertising set; with legacy properties it sends legacy PDUs."""

    def send_extended_advertising_data(self) -> None:
        props = int(self.parameters.advertising_event_properties) if self.parameters else 0
        if props in PROPS_LEGACY and "adv-ind-only" not in self.controller.quirks:
            pdu = LegacyPdu(
                PROPS_LEGACY[props],
                self.address,
                bytes(self.data),
                bytes(self.scan_response_data),
            )
        else:
            pdu = ExtPdu(
                self.address,
                bytes(self.data),
                sid=self.parameters.advertising_sid if self.parameters else 0,
                properties=props & 0x07,
            )
        self.controller.send_advertising_pdu(pdu)


class Air(LocalLink):
    """The shared air: an RSSI per link, and a loss probability per link."""

    def __init__(self, rssi: int, links: dict, loss: dict, seed: int | None):
        super().__init__()
        self.rssi, self.links, self.loss = rssi, links, loss
        self.random = random.Random(seed)

    def send_advertising_pdu(self, sender, packet) -> None:
        loop = asyncio.get_running_loop()
        for receiver in self.controllers:
            if receiver is sender:
                continue
            if isinstance(packet, ll.ConnectInd):  # connection set-up is never lost
                loop.call_soon(receiver.on_ll_advertising_pdu, packet)
                continue
            link = frozenset((sender.index, receiver.index))
            if self.random.random() < self.loss.get(link, 0.0):
                continue
            loop.call_soon(receiver.hear, packet, self.links.get(link, self.rssi))


class EmulatedController(Controller):
    # This controller does not implement LE Encrypt, so it does not claim it either.
    supported_commands = Controller.supported_commands - {hci.HCI_LE_ENCRYPT_COMMAND}

    def __init__(self, index: int, transport, air: Air, quirks: set, unknown_as_status: bool):
        self.index, self.quirks, self.unknown_as_status = index, quirks, unknown_as_status
        self.scan_extended = False  # which scan commands enabled scanning
        self.heard: set = set()  # the duplicate filter's memory
        super().__init__(
            f"C{index}",
            host_source=transport.source,
            host_sink=transport.sink,
            link=air,
            public_address=hci.Address(
                f"F0:00:00:00:00:{index + 1:02X}", hci.Address.PUBLIC_DEVICE_ADDRESS
            ),
        )
        self.le_legacy_advertiser = Advertiser(self)

    # --- commands ----------------------------------------------------------------------
    def on_hci_command_packet(self, command: hci.HCI_Command) -> None:
        unhandled = not hasattr(self, f"on_{command.name.lower()}")
        # Stock Bumble answers an unhandled command only when its class is a known
        # HCI_SyncCommand; anything else (LE Encrypt, vendor commands) got no event at all.
        if unhandled and not isinstance(command, hci.HCI_SyncCommand):
            if "silent-unknown" in self.quirks:
                return
            status = hci.HCI_ErrorCode.UNKNOWN_HCI_COMMAND_ERROR
            if self.unknown_as_status:  # as Zephyr's controller answers
                self._send_hci_command_status(status, command.op_code)
            else:
                self.send_hci_packet(
                    hci.HCI_Command_Complete_Event(
                        num_hci_command_packets=1,
                        command_opcode=command.op_code,
                        return_parameters=hci.HCI_StatusReturnParameters(status),
                    )
                )
            return
        super().on_hci_command_packet(command)

    def on_hci_reset_command(self, command):
        if "reset-keeps-radio" not in self.quirks:
            self.le_legacy_advertiser.stop()
            self.le_legacy_advertiser = Advertiser(self)  # parameters back to defaults
            for adv_set in self.advertising_sets.values():
                adv_set.stop()
            self.advertising_sets.clear()
            self.le_scan_enable = self.scan_extended = self.filter_duplicates = False
            self.le_scan_type = 0
        return super().on_hci_reset_command(command)

    def on_hci_le_set_scan_enable_command(self, command):
        return self._scan_enable(command, command.le_scan_enable, extended=False)

    def on_hci_le_set_extended_scan_enable_command(self, command):
        return self._scan_enable(command, command.enable, extended=True)

    def _scan_enable(self, command, enable, extended: bool):
        if enable and not self.le_scan_enable:
            self.heard.clear()  # a new scan starts a new duplicate filter
        self.scan_extended = extended
        if extended:
            return super().on_hci_le_set_extended_scan_enable_command(command)
        return super().on_hci_le_set_scan_enable_command(command)

    def on_hci_le_set_extended_scan_parameters_command(self, command):
        self.le_scan_type = command.scan_types[0] if command.scan_types else 0
        return super().on_hci_le_set_extended_scan_parameters_command(command)

    # Extended advertising sets are ours, so that legacy properties send legacy PDUs.
    def _adv_set(self, handle: int) -> None:
        self.advertising_sets.setdefault(handle, ExtAdvertiser(controller=self, handle=handle))

    def on_hci_le_set_advertising_set_random_address_command(self, command):
        self._adv_set(command.advertising_handle)
        return super().on_hci_le_set_advertising_set_random_address_command(command)

    def on_hci_le_set_extended_advertising_parameters_command(self, command):
        self._adv_set(command.advertising_handle)
        return super().on_hci_le_set_extended_advertising_parameters_command(command)

    # --- the air -----------------------------------------------------------------------
    def hear(self, pdu, rssi: int) -> None:
        if isinstance(pdu, ll.ConnectInd):
            return self.on_le_connect_ind(pdu)
        if self.le_scan_enable:
            self.report(pdu, rssi)
        if isinstance(pdu, ll.AdvExtInd) or pdu.kind == ADV_IND:
            # Stock code for periodic sync and a pending LE Create Connection; its reports
            # are replaced by ours, so it runs with scanning masked.
            scanning, self.le_scan_enable = self.le_scan_enable, False
            self.on_advertising_pdu(pdu)
            self.le_scan_enable = scanning

    def report(self, pdu, rssi: int) -> None:
        legacy = isinstance(pdu, LegacyPdu)
        extended = self.scan_extended or "extended-reports" in self.quirks
        reports = []  # (event type, data)
        if "extended-reports" in self.quirks:
            reports.append((0x01, pdu.data))  # stock: all "connectable", never legacy
        elif legacy:
            reports.append((EXT_LEGACY[pdu.kind] if extended else pdu.kind, pdu.data))
            if self.le_scan_type == ACTIVE and pdu.kind in (ADV_IND, ADV_SCAN_IND):
                scan_rsp = EXT_LEGACY[pdu.kind] | EXT_SCAN_RSP if extended else SCAN_RSP
                reports.append((scan_rsp, pdu.scan_response_data))
        elif extended:
            reports.append((getattr(pdu, "properties", 0), pdu.data))
        else:
            return  # a legacy scanner does not hear extended advertising
        if "scan-rsp-copy" in self.quirks:
            reports.append((EXT_SCAN_RSP if extended else SCAN_RSP, pdu.data))

        for event_type, data in reports:
            if self.filter_duplicates and "no-duplicate-filter" not in self.quirks:
                # Duplicates are the same advertiser and PDU type, as Zephyr's controller
                # has it: a Bluetooth Mesh scanner must turn this filter off.
                address = pdu.advertiser_address
                key = (bytes(address), address.address_type, event_type)
                if key in self.heard:
                    continue
                self.heard.add(key)
            address = pdu.advertiser_address
            if not extended:
                report = hci.HCI_LE_Advertising_Report_Event.Report(
                    event_type=event_type,
                    address_type=address.address_type,
                    address=address,
                    data=data,
                    rssi=rssi,
                )
                self.send_hci_packet(hci.HCI_LE_Advertising_Report_Event([report]))
                continue
            direct = getattr(pdu, "target_address", None)
            legacy_pdu = bool(event_type & 0x10)
            report = hci.HCI_LE_Extended_Advertising_Report_Event.Report(
                event_type=event_type,
                address_type=address.address_type,
                address=address,
                primary_phy=hci.Phy.LE_1M,
                secondary_phy=0 if legacy_pdu else hci.Phy.LE_1M,
                advertising_sid=0xFF if legacy_pdu else getattr(pdu, "sid", 0),
                tx_power=0x7F,  # not available
                rssi=rssi,
                periodic_advertising_interval=0,
                direct_address_type=direct.address_type if direct else 0,
                direct_address=direct or hci.Address.ANY,
                data=data,
            )
            self.send_hci_packet(hci.HCI_LE_Extended_Advertising_Report_Event([report]))


# --- transports and the command line ---------------------------------------------------
def clear_stale(name: str) -> None:
    """Removes what a killed run left at a pty or unix-server path; refuses anything else."""
    scheme, _, path = name.partition(":")
    if scheme not in ("pty", "unix-server") or not path or path.startswith("@"):
        return
    if not os.path.lexists(path):
        return
    if scheme == "pty" and os.path.islink(path) and os.readlink(path).startswith("/dev/pts/"):
        print(f"replacing the stale pty link {path}", file=sys.stderr)
        os.unlink(path)
        return
    if scheme == "unix-server" and stat.S_ISSOCK(os.lstat(path).st_mode):
        with socket.socket(socket.AF_UNIX) as probe:
            if probe.connect_ex(path) != 0:  # nobody listens: stale
                print(f"replacing the stale socket {path}", file=sys.stderr)
                os.unlink(path)
                return
        sys.exit(f"controllers.py: {path} is in use by another process")
    sys.exit(f"controllers.py: {path} exists and is not a stale pty link or socket")


def ready_name(name: str, transport) -> str:
    """The transport's name with the port a tcp-server:HOST:0 was given."""
    scheme, _, spec = name.partition(":")
    if scheme == "tcp-server":
        host = spec.rsplit(":", 1)[0]
        return f"tcp-server:{host}:{transport.server.sockets[0].getsockname()[1]}"
    return name


def parse_links(values: list, convert) -> tuple:
    """`V` sets the default, `I-J=V` one link (both ways); returns (default, {link: value})."""
    default, links = None, {}
    for value in values:
        if "=" in value:
            pair, v = value.split("=", 1)
            i, j = (int(x) for x in pair.split("-"))
            links[frozenset((i, j))] = convert(v)
        else:
            default = convert(value)
    return default, links


def control(air: Air, line: str) -> str:
    """One line of standard input: `loss I-J=P` or `rssi I-J=DBM` changes a link from now on.
    Answers `ok LINE`, or `error LINE: why`."""
    try:
        what, value = line.split(None, 1)
        if what == "loss":
            _, links = parse_links([value], float)
            air.loss.update(links)
        elif what == "rssi":
            _, links = parse_links([value], int)
            air.links.update(links)
        else:
            raise ValueError("not loss or rssi")
        if not links:
            raise ValueError("not I-J=VALUE")
    except ValueError as e:
        return f"error {line}: {e}"
    return f"ok {line}"


async def run(args) -> None:
    quirks = set(QUIRKS) if args.stock_quirks else set(args.quirk)
    rssi, rssi_links = parse_links(args.rssi, int)
    _, loss_links = parse_links(args.loss, float)
    air = Air(-50 if rssi is None else rssi, rssi_links, loss_links, args.seed)
    loop = asyncio.get_running_loop()
    stop = loop.create_future()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, lambda: stop.done() or stop.set_result(None))
    if args.exit_on_stdin_eof:
        pending = bytearray()

        def on_stdin() -> None:
            data = os.read(0, 4096)
            if not data:  # end of file: whoever started us is gone
                loop.remove_reader(0)
                stop.done() or stop.set_result(None)
                return
            pending.extend(data)
            while b"\n" in pending:
                line, _, rest = bytes(pending).partition(b"\n")
                pending[:] = rest
                print(control(air, line.decode(errors="replace").strip()), flush=True)

        loop.add_reader(0, on_stdin)

    transports, made = [], []
    if args.control_fifo:
        path = args.control_fifo
        if os.path.lexists(path):
            os.unlink(path)
        os.mkfifo(path, 0o600)
        made.append(path)
        # Read and write (Linux): the FIFO never reads as ended between two writers, and a
        # writer's open never blocks while we run.
        fifo = os.open(path, os.O_RDWR | os.O_NONBLOCK)
        fifo_pending = bytearray()

        def on_fifo() -> None:
            fifo_pending.extend(os.read(fifo, 4096))
            while b"\n" in fifo_pending:
                line, _, rest = bytes(fifo_pending).partition(b"\n")
                fifo_pending[:] = rest
                answer = control(air, line.decode(errors="replace").strip())
                print(answer, file=sys.stderr, flush=True)

        loop.add_reader(fifo, on_fifo)
    try:
        for index, name in enumerate(args.transport):
            clear_stale(name)
            transport = await open_transport(name)
            transports.append(transport)
            if name.startswith("unix-server:") and not name[12:].startswith("@"):
                made.append(name[12:])
            EmulatedController(index, transport, air, quirks, args.unknown_as_status)
            print("ready", ready_name(name, transport), flush=True)
        await stop
    finally:
        for transport in transports:
            if server := getattr(transport, "server", None):
                server.close()
            await transport.close()  # a pty transport removes its symlink here
        for path in made:
            if os.path.exists(path):
                os.unlink(path)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--transport", action="append", required=True,
                        help="a Bumble transport: tcp-server:HOST:PORT, pty:PATH, unix-server:PATH")
    parser.add_argument("--quirk", action="append", default=[], choices=QUIRKS,
                        help="keep one stock Bumble behaviour (see above)")
    parser.add_argument("--stock-quirks", action="store_true", help="keep them all")
    parser.add_argument("--unknown-as-status", action="store_true",
                        help="answer unknown commands with Command Status, not Command Complete")
    parser.add_argument("--rssi", action="append", default=[],
                        help="DBM for every link (default -50), or I-J=DBM for one")
    parser.add_argument("--loss", action="append", default=[],
                        help="I-J=P: the link between I and J loses a PDU with probability P")
    parser.add_argument("--seed", type=int, help="seed of the loss draws")
    parser.add_argument("--control-fifo", metavar="PATH",
                        help="make a FIFO here that takes `loss I-J=P` and `rssi I-J=DBM` lines")
    parser.add_argument("--exit-on-stdin-eof", action="store_true",
                        help="also stop when standard input closes, and take `loss I-J=P` and "
                             "`rssi I-J=DBM` lines from it (for test harnesses)")
    args = parser.parse_args()
    bumble.logging.setup_basic_logging()
    asyncio.run(run(args))


if __name__ == "__main__":
    main()
