#!/usr/bin/env python3
"""weft's node as a router among OpenThread simulation nodes: Address Query both ways (not run
by CI: README, "weft's own Thread node").

    python3 hil-tests/openthread/otquery.py --ot path/to/ot-cli-ftd --weft target/debug/weft \
        [--nodes 2] [--port-offset 1617]

Forms a network on OpenThread node 1, joins nodes 2..N, starts `weft thread node --role router`;
once weft and nodes 2..N are routers (up to 240 s), each node pings weft's ML-EID and prints its
`eidcache` (state `cache`: learnt from weft's Address Notification), then `weft thread ping`s
each node's ML-EID twice (an Address Query, then the cache); weft's counters at the end.
"""
import argparse, subprocess, tempfile, threading, time, json, os
ap = argparse.ArgumentParser()
ap.add_argument("--ot", required=True)
ap.add_argument("--weft", required=True)
ap.add_argument("--nodes", type=int, default=2)
ap.add_argument("--port-offset", type=int, default=1617)
args = ap.parse_args()
OT, W, N, PORT_OFFSET = args.ot, args.weft, args.nodes, args.port_offset
KEY="00112233445566778899aabbccddeeff"
nodes, outs = [], {}
wd = tempfile.mkdtemp(prefix="addrq-")
env=dict(os.environ, PORT_OFFSET=str(PORT_OFFSET))
def reader(i,p):
    for l in p.stdout: outs[i].append(l.rstrip())
def cmd(i,c,wait=0.5):
    outs[i].clear(); nodes[i-1].stdin.write(c+"\n"); nodes[i-1].stdin.flush(); time.sleep(wait)
    return [l for l in outs[i] if l and not l.startswith(">") and l!=c]
def log(*a): print(*a, flush=True)
def wping(a):
    r=subprocess.run([W,"thread","ping",a,"--json","--timeout","6","--control",wd+"/w.sock"],capture_output=True,text=True)
    return (r.returncode,r.stdout.strip(),r.stderr.strip())
try:
    for i in range(1,N+1):
        p=subprocess.Popen([OT,str(i)],stdin=subprocess.PIPE,stdout=subprocess.PIPE,stderr=subprocess.STDOUT,text=True,cwd=wd,env=env)
        nodes.append(p); outs[i]=[]; threading.Thread(target=reader,args=(i,p),daemon=True).start()
    time.sleep(1)
    cmd(1,"dataset init new"); cmd(1,f"dataset networkkey {KEY}")
    for c in ["dataset channel 15","dataset panid 0xface","dataset commit active","ifconfig up","thread start"]: cmd(1,c)
    for _ in range(30):
        if "leader" in cmd(1,"state"): break
        time.sleep(1)
    ds=[l for l in cmd(1,"dataset active -x") if l!="Done"][0]
    for i in range(2,N+1):
        for c in [f"dataset set active {ds}","ifconfig up","thread start"]: cmd(i,c)
    wlog=open(wd+"/weft.out","w"); werr=open(wd+"/weft.err","w")
    w=subprocess.Popen([W,"-v","thread","node","--radio",f"otsim:20?port_offset={PORT_OFFSET}","--dataset",ds,"--role","router","--json","--control",wd+"/w.sock","--seconds","400"],stdout=wlog,stderr=werr)
    role=None
    for _ in range(240):
        time.sleep(1)
        ls=[json.loads(l) for l in open(wd+"/weft.out") if l.strip()]
        r=[l for l in ls if l.get("event")=="role"]
        st=[cmd(i,"state",0.2) for i in range(2,N+1)]
        if r and r[-1]["role"] in ("router","leader") and all("router" in s for s in st): role=r[-1]; break
    log("weft role", role, "ot states", [cmd(i,"state") for i in range(1,N+1)])
    log("weft err", open(wd+"/weft.err").read()[-2000:])
    if role:
        # OpenThread first (before weft's datagrams let it snoop weft's ML-EID): it asks.
        for i in range(1,N+1):
            log(f"ot{i} ping weft mleid", cmd(i,f"ping {role['ml_eid']}",4))
            log(f"ot{i} eidcache", cmd(i,"eidcache",1))
        for i in range(1,N+1):
            mleid=[l for l in cmd(i,"ipaddr mleid",1) if l.startswith("fd")][0]
            log(f"weft ping ot{i} mleid", mleid, wping(mleid))
            log(f"weft ping ot{i} mleid again", mleid, wping(mleid))
    w.terminate(); w.wait()
    log("weft out tail", open(wd+"/weft.out").read()[-3000:])
    log("weft counters", [l for l in open(wd+"/weft.err") if "counters" in l])
finally:
    for p in nodes: p.kill()
