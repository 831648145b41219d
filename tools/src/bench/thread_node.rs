//! `weft bench thread-node`: the Thread node (`weft_mesh::thread::stack`) on the simulated
//! 802.15.4 air, in virtual time: a child's attach time to a lone leader (median over SEEDS
//! seeds), the formation of a ROUTERS-router, NODES-node partition (virtual seconds, and the
//! wall seconds it took on one core), and UDP echo round trips at 1, 3 and 5 hops along a
//! line of routers (medians over SEEDS seeds).

use serde_json::{json, Value};

use crate::sim::thread::bench::{attach_ms, line, median, run, udp_rtt_ms};

/// The figures, as one JSON object.
pub fn figures(seeds: usize, first_seed: u64, routers: usize, nodes: usize, seconds: f64) -> Value {
    let seeds: Vec<u64> = (first_seed..first_seed + seeds as u64).collect();
    let attach: Vec<u64> = seeds.iter().filter_map(|s| attach_ms(*s)).collect();
    let mut rtt: [Vec<u64>; 3] = Default::default();
    let mut lines_formed = 0;
    for &s in &seeds {
        let Some(mut m) = line(s) else { continue };
        lines_formed += 1;
        for (k, hops) in [1usize, 3, 5].into_iter().enumerate() {
            // A datagram of 16 octets (one frame at every hop).
            if let Some(t) = udp_rtt_ms(&mut m, hops, b"weft bench 16 o.") {
                rtt[k].push(t);
            }
        }
    }
    let f = run(routers, nodes, seconds, first_seed);
    let round = |x: f64| (x * 1000.0).round() / 1000.0;
    json!({
        "seeds": seeds.len(),
        "attach_ms": {"median": median(attach.clone()), "min": attach.iter().min(), "max": attach.iter().max(), "attached": attach.len()},
        "udp_rtt_ms": {
            "lines_formed": lines_formed,
            "hops_1": median(rtt[0].clone()), "hops_3": median(rtt[1].clone()), "hops_5": median(rtt[2].clone()),
            "replies": [rtt[0].len(), rtt[1].len(), rtt[2].len()],
        },
        "formation": {
            "routers": routers, "nodes": nodes, "seed": first_seed, "virtual_s_limit": seconds,
            "formed_virtual_s": f.formed_s, "formed_wall_s": f.formed_wall_s.map(round),
            "routers_when_formed": f.routers_when_formed, "all_routers_virtual_s": f.all_routers_s,
            "routers_settled_virtual_s": f.routers_settled_s,
            "virtual_per_wall": f.formed_s.zip(f.formed_wall_s).map(|(v, w)| (v / w * 10.0).round() / 10.0),
            "wall_s": round(f.wall_s), "routers_at_end": f.routers_at_end, "partitions_at_end": f.partitions_at_end,
            "detached_at_end": {"router_eligible": f.detached_at_end.0, "end_devices": f.detached_at_end.1},
            "children_attached": f.attached, "frames": f.frames, "acks": f.acks, "collisions": f.collisions,
        },
    })
}

/// The one-line summary of [`figures`].
pub fn text(v: &Value) -> String {
    let f = &v["formation"];
    format!(
        "child attach: median {} ms over {} seeds (min {}, max {}); UDP echo round trip: 1 hop {} ms, 3 hops {} ms, 5 hops {} ms (medians); {} router-eligible / {} nodes formed one partition, none detached, in {} virtual s ({} wall s, {}x), {} routers then; routers settled at {} virtual s (all {} routers: {}); at the end {} routers in {} partition(s), {} router-eligible and {} end devices detached, {} children attached",
        v["attach_ms"]["median"],
        v["attach_ms"]["attached"],
        v["attach_ms"]["min"],
        v["attach_ms"]["max"],
        v["udp_rtt_ms"]["hops_1"],
        v["udp_rtt_ms"]["hops_3"],
        v["udp_rtt_ms"]["hops_5"],
        f["routers"],
        f["nodes"],
        f["formed_virtual_s"],
        f["formed_wall_s"],
        f["virtual_per_wall"],
        f["routers_when_formed"],
        f["routers_settled_virtual_s"],
        f["routers"],
        f["all_routers_virtual_s"],
        f["routers_at_end"],
        f["partitions_at_end"],
        f["detached_at_end"]["router_eligible"],
        f["detached_at_end"]["end_devices"],
        f["children_attached"],
    )
}
