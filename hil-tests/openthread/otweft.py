#!/usr/bin/env python3
"""weft's own Thread node among OpenThread simulation nodes (not run by CI: README, "weft's own
Thread node").

    python3 hil-tests/openthread/otweft.py --ot path/to/ot-cli-ftd --weft target/debug/weft \
        [--nodes 3] [--later 130]

Forms a network on OpenThread node 1 (channel 15, PAN 0xface), joins nodes 2..N with its
dataset, starts `weft thread node --radio otsim:20 --dataset HEX --role child`, then prints: the
leader's child table, the leader pinging weft's RLOC and ML-EID, `weft thread ping` to the
leader's RLOC and ML-EID, nodes 2..N pinging weft; after --later seconds (routers take ~120 s)
the same between weft and every node's RLOC.
"""
import argparse, subprocess, tempfile, threading, time, sys, json, os
ap = argparse.ArgumentParser()
ap.add_argument("--ot", required=True)
ap.add_argument("--weft", required=True)
ap.add_argument("--nodes", type=int, default=3)
ap.add_argument("--later", type=float, default=0)
args = ap.parse_args()
OT, W, N = args.ot, args.weft, args.nodes
KEY="00112233445566778899aabbccddeeff"
nodes, outs = [], {}
wd = tempfile.mkdtemp(prefix="otpeer-")
def reader(i,p):
    for l in p.stdout: outs[i].append(l.rstrip())
def cmd(i,c,wait=0.5):
    outs[i].clear(); nodes[i-1].stdin.write(c+"\n"); nodes[i-1].stdin.flush(); time.sleep(wait)
    return [l for l in outs[i] if l and not l.startswith(">") and l!=c]
def log(*a): print(*a, flush=True)
try:
    for i in range(1,N+1):
        p=subprocess.Popen([OT,str(i)],stdin=subprocess.PIPE,stdout=subprocess.PIPE,stderr=subprocess.STDOUT,text=True,cwd=wd)
        nodes.append(p); outs[i]=[]; threading.Thread(target=reader,args=(i,p),daemon=True).start()
    time.sleep(1)
    cmd(1,"dataset init new"); cmd(1,f"dataset networkkey {KEY}")
    for c in ["dataset channel 15","dataset panid 0xface","dataset commit active","ifconfig up","thread start"]: cmd(1,c)
    for _ in range(30):
        if "leader" in cmd(1,"state"): break
        time.sleep(1)
    ds=[l for l in cmd(1,"dataset active -x") if l!="Done"][0]
    log("dataset", ds)
    for i in range(2,N+1):
        for c in [f"dataset set active {ds}","ifconfig up","thread start"]: cmd(i,c)
    wlog=open(wd+"/weft.out","w"); werr=open(wd+"/weft.err","w")
    w=subprocess.Popen([W,"-v","thread","node","--radio","otsim:20","--dataset",ds,"--role","child","--json","--control",wd+"/w.sock","--seconds",str(int(args.later)+60)],stdout=wlog,stderr=werr)
    role=None
    for _ in range(40):
        time.sleep(1)
        ls=[json.loads(l) for l in open(wd+"/weft.out") if l.strip()]
        r=[l for l in ls if l.get("event")=="role"]
        if r and r[-1]["role"]=="child": role=r[-1]; break
    log("weft lines:", open(wd+"/weft.out").read())
    log("ot1 state", cmd(1,"state"), "rloc16", cmd(1,"rloc16"), "mleid", cmd(1,"ipaddr mleid"), "rloc", cmd(1,"ipaddr rloc"))
    log("ot1 child table", cmd(1,"child table",1))
    if role:
        for a in [role["rloc"], role["ml_eid"]]:
            log("ot1 ping", a, cmd(1,f"ping {a}",4))
        time.sleep(2)
        ot_rloc=[l for l in cmd(1,"ipaddr rloc",1) if l.startswith("fd")][0]
        ot_mleid=[l for l in cmd(1,"ipaddr mleid",1) if l.startswith("fd")][0]
        for a in [ot_rloc, ot_mleid]:
            r=subprocess.run([W,"thread","ping",a,"--json","--control",wd+"/w.sock"],capture_output=True,text=True)
            log("weft ping",a,"rc",r.returncode,r.stdout.strip(),r.stderr.strip())
        for i in range(2,N+1):
            log(f"ot{i} state", cmd(i,"state"), cmd(i,"ipaddr rloc"))
            a=role["rloc"]; log(f"ot{i} ping weft", cmd(i,f"ping {a}",3))
    if args.later > 0:
        time.sleep(args.later)
        for i in range(1,N+1): log(f"ot{i} state", cmd(i,"state"), cmd(i,"ipaddr rloc"))
        r=subprocess.run([W,"thread","ping",ot_rloc,"--json","--control",wd+"/w.sock"],capture_output=True,text=True)
        log("weft ping later",ot_rloc,"rc",r.returncode,r.stdout.strip(),r.stderr.strip())
        for i in range(2,N+1):
            log(f"ot{i} ping weft later", cmd(i,f"ping {role['rloc']}",3))
            rl=[l for l in cmd(i,"ipaddr rloc",1) if l.startswith("fd")]
            if rl:
                r=subprocess.run([W,"thread","ping",rl[0],"--json","--control",wd+"/w.sock"],capture_output=True,text=True)
                log(f"weft ping ot{i}",rl[0],"rc",r.returncode,r.stdout.strip(),r.stderr.strip())
    w.terminate(); w.wait()
    log("weft out", open(wd+"/weft.out").read())
    log("weft err tail", open(wd+"/weft.err").read()[-1500:])
finally:
    for p in nodes: p.kill()
