#!/usr/bin/env python3
"""A small Thread network of OpenThread simulation nodes, for trying weft's `otsim:` radio.

Not run by CI: no registry ships OpenThread's simulation build (README, "Thread radios").

    python3 hil-tests/openthread/otnet.py --ot path/to/ot-cli-ftd [--nodes 5] [--seconds 150]

Starts node ids 1..N (stdin/stdout pipes), forms a network on node 1 (channel 15, PAN 0xface,
the network key below), joins the others with node 1's active dataset (the last one as a child
when N >= 4: router-eligible off), waits, then prints what OpenThread believes (state, RLOC16,
extended address of each node, node 1's router table, every child table, the leader data) to
compare with `weft topology --radio otsim:20 --thread-key KEY --format json`, run meanwhile.
"""
import argparse
import subprocess
import tempfile
import threading
import time

KEY = "00112233445566778899aabbccddeeff"

ap = argparse.ArgumentParser()
ap.add_argument("--ot", required=True, help="the ot-cli-ftd of a simulation build")
ap.add_argument("--nodes", type=int, default=5)
ap.add_argument("--seconds", type=float, default=150, help="after forming (routers take ~120 s)")
args = ap.parse_args()

nodes, outs = [], {}
workdir = tempfile.mkdtemp(prefix="otnet-")


def reader(i, p):
    for line in p.stdout:
        outs[i].append(line.rstrip())


def cmd(i, c, wait=0.5):
    outs[i].clear()
    nodes[i - 1].stdin.write(c + "\n")
    nodes[i - 1].stdin.flush()
    time.sleep(wait)
    return [l for l in outs[i] if l and not l.startswith(">") and l != c]


try:
    for i in range(1, args.nodes + 1):
        # The nodes keep their settings in ./tmp/*.flash: a fresh directory, a fresh network.
        p = subprocess.Popen([args.ot, str(i)], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                             stderr=subprocess.STDOUT, text=True, cwd=workdir)
        nodes.append(p)
        outs[i] = []
        threading.Thread(target=reader, args=(i, p), daemon=True).start()
    time.sleep(1)
    cmd(1, "dataset init new")
    # OpenThread renamed the master key to the network key in 2021; older builds know only the first.
    if "Done" not in cmd(1, f"dataset networkkey {KEY}"):
        cmd(1, f"dataset masterkey {KEY}")
    for c in ["dataset channel 15", "dataset panid 0xface", "dataset commit active",
              "ifconfig up", "thread start"]:
        cmd(1, c)
    time.sleep(8)
    dataset = next(l for l in cmd(1, "dataset active -x") if len(l) > 20)
    print("active dataset", dataset, flush=True)
    for i in range(2, args.nodes + 1):
        if i == args.nodes and args.nodes >= 4:
            cmd(i, "routereligible disable", 0.3)
        for c in [f"dataset set active {dataset}", "ifconfig up", "thread start"]:
            cmd(i, c, 0.3)
    time.sleep(args.seconds)
    for i in range(1, args.nodes + 1):
        print(f"node {i}: {cmd(i, 'state')[0]} rloc16 {cmd(i, 'rloc16')[0]}"
              f" extaddr {cmd(i, 'extaddr')[0]}")
    print("\n".join(cmd(1, "router table", 1)))
    for i in range(1, args.nodes + 1):
        table = cmd(i, "child table", 1)
        if len(table) > 3:
            print(f"child table of node {i}:\n" + "\n".join(table))
    print("\n".join(cmd(1, "leaderdata")))
finally:
    for p in nodes:
        p.kill()
