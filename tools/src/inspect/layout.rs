//! How the inspector draws a [`Topology`]: a force-directed layout on a plane, and the graph in
//! Graphviz DOT for `weft topology --format dot`.

use std::collections::{BTreeMap, HashMap};
use std::fmt::Write as _;

use weft_mesh::topology::{NodeKey, Topology};

/// The graph in Graphviz DOT: one node per node (labelled with name and address, shaped by
/// role), one edge per pair heard, labelled with the RSSI.
pub fn to_dot(topo: &Topology) -> String {
    let mut s = String::from("graph mesh {\n  node [shape=ellipse];\n");
    for n in topo.nodes() {
        let shape = if Some(n.key) == topo.host() {
            "doubleoctagon"
        } else if n.roles.relay {
            "box"
        } else if n.roles.low_power {
            "diamond"
        } else {
            "ellipse"
        };
        let _ = writeln!(
            s,
            "  \"{}\" [label=\"{}\\n{} {}\", shape={shape}];",
            n.address,
            escape_dot(n.label()),
            n.address,
            n.roles.letters()
        );
    }
    for (a, b, rssi, count) in topo.edges() {
        let (Some(a), Some(b)) = (topo.node(a), topo.node(b)) else {
            continue;
        };
        let label = rssi.map_or(String::new(), |r| format!("{r} dBm"));
        let _ = writeln!(
            s,
            "  \"{}\" -- \"{}\" [label=\"{label}\", weight={count}];",
            a.address, b.address
        );
    }
    s.push_str("}\n");
    s
}

fn escape_dot(s: &str) -> String {
    s.replace('\\', "\\\\").replace('"', "\\\"")
}

/// A force-directed layout (Fruchterman–Reingold with a cut-off, so a step costs about
/// O(nodes + links)), warm-started: nodes keep their places between steps, new nodes start at
/// their physical position (scaled) or beside their neighbours, and a change of the graph only
/// reheats it a little, so the picture does not jump.
#[derive(Debug, Clone, Default)]
pub struct Layout {
    pos: BTreeMap<NodeKey, (f64, f64)>,
    /// Scale from physical positions (metres) to layout units, fixed at the first hint seen.
    hint_scale: Option<f64>,
    temperature: f64,
    generation: Option<u64>,
    /// Steps taken.
    steps: u64,
}

/// Ideal edge length in layout units.
const K: f64 = 1.0;
/// Repulsion acts within this distance only.
const CUTOFF: f64 = 3.0 * K;
/// Temperature (largest move in one step) after a graph change, and its floor.
const REHEAT: f64 = 0.25;
const COOL: f64 = 0.9;
const FROZEN: f64 = 0.005;

impl Layout {
    /// An empty layout.
    pub fn new() -> Self {
        Self::default()
    }

    /// Steps taken so far.
    pub fn steps(&self) -> u64 {
        self.steps
    }

    /// Whether the layout has settled (further steps would move nothing noticeably) since the
    /// graph last changed.
    pub fn settled(&self, topo: &Topology) -> bool {
        self.generation == Some(topo.generation()) && self.temperature <= FROZEN
    }

    /// One step: places new nodes, forgets vanished ones, moves every node along the forces.
    /// Returns the largest move of the step, in layout units.
    pub fn step(&mut self, topo: &Topology) -> f64 {
        self.steps += 1;
        if self.generation != Some(topo.generation()) {
            self.generation = Some(topo.generation());
            self.place_new(topo);
            self.temperature = self.temperature.max(REHEAT);
        }
        if self.temperature <= FROZEN {
            return 0.0;
        }
        let keys: Vec<NodeKey> = self.pos.keys().copied().collect();
        let index: HashMap<NodeKey, usize> =
            keys.iter().enumerate().map(|(i, &k)| (k, i)).collect();
        let p: Vec<(f64, f64)> = self.pos.values().copied().collect();
        let mut d = vec![(0.0f64, 0.0f64); p.len()];
        // Repulsion between nodes closer than the cut-off, found through a grid of cells.
        let cell = |x: f64, y: f64| ((x / CUTOFF).floor() as i64, (y / CUTOFF).floor() as i64);
        let mut grid: HashMap<(i64, i64), Vec<usize>> = HashMap::new();
        for (i, &(x, y)) in p.iter().enumerate() {
            grid.entry(cell(x, y)).or_default().push(i);
        }
        for (i, &(x, y)) in p.iter().enumerate() {
            let (cx, cy) = cell(x, y);
            for gx in cx - 1..=cx + 1 {
                for gy in cy - 1..=cy + 1 {
                    for &j in grid.get(&(gx, gy)).map(Vec::as_slice).unwrap_or(&[]) {
                        if j == i {
                            continue;
                        }
                        let (dx, dy) = (x - p[j].0, y - p[j].1);
                        let dist2 = dx * dx + dy * dy;
                        if dist2 >= CUTOFF * CUTOFF {
                            continue;
                        }
                        let (dx, dy, dist) = if dist2 < 1e-9 {
                            // Coincident: push apart along a direction fixed by the pair.
                            let a = (i * 7 + j * 13) as f64;
                            (a.cos() * 1e-3, a.sin() * 1e-3, 1e-3)
                        } else {
                            (dx, dy, dist2.sqrt())
                        };
                        let f = K * K / dist;
                        d[i].0 += dx / dist * f;
                        d[i].1 += dy / dist * f;
                    }
                }
            }
        }
        // Attraction along edges heard.
        for (a, b, _, _) in topo.edges() {
            let (Some(&i), Some(&j)) = (index.get(&a), index.get(&b)) else {
                continue;
            };
            let (dx, dy) = (p[i].0 - p[j].0, p[i].1 - p[j].1);
            let dist = (dx * dx + dy * dy).sqrt().max(1e-6);
            let f = dist * dist / K;
            d[i].0 -= dx / dist * f;
            d[i].1 -= dy / dist * f;
            d[j].0 += dx / dist * f;
            d[j].1 += dy / dist * f;
        }
        // A weak pull to the centre keeps separate pieces in view.
        let n = p.len().max(1) as f64;
        let (mx, my) = p
            .iter()
            .fold((0.0, 0.0), |(sx, sy), &(x, y)| (sx + x / n, sy + y / n));
        let mut moved = 0.0f64;
        for (i, k) in keys.iter().enumerate() {
            let (mut fx, mut fy) = d[i];
            fx -= (p[i].0 - mx) * 0.02;
            fy -= (p[i].1 - my) * 0.02;
            let len = (fx * fx + fy * fy).sqrt();
            if len > 0.0 && len.is_finite() {
                let m = len.min(self.temperature);
                let np = (p[i].0 + fx / len * m, p[i].1 + fy / len * m);
                self.pos.insert(*k, np);
                moved = moved.max(m);
            }
        }
        self.temperature = (self.temperature * COOL).max(FROZEN * 0.5);
        moved
    }

    /// Runs steps until settled or `max_steps` are taken; returns the steps taken.
    pub fn settle(&mut self, topo: &Topology, max_steps: usize) -> usize {
        for i in 0..max_steps {
            if self.settled(topo) && i > 0 {
                return i;
            }
            self.step(topo);
        }
        max_steps
    }

    fn place_new(&mut self, topo: &Topology) {
        self.pos.retain(|k, _| topo.node(*k).is_some());
        if self.hint_scale.is_none() {
            self.hint_scale = hint_scale(topo);
        }
        let mut fresh: Vec<NodeKey> = topo
            .nodes()
            .map(|n| n.key)
            .filter(|k| !self.pos.contains_key(k))
            .collect();
        // Physical positions first, then neighbours of placed nodes, then the rest.
        fresh.retain(|&k| {
            let n = topo.node(k).expect("listed");
            match (n.position, self.hint_scale) {
                (Some((x, y)), Some(s)) => {
                    self.pos.insert(k, (x * s, y * s));
                    false
                }
                _ => true,
            }
        });
        let edges = topo.edges();
        for (i, k) in fresh.into_iter().enumerate() {
            let mut sum = (0.0, 0.0);
            let mut n = 0.0;
            for &(a, b, _, _) in &edges {
                let other = if a == k {
                    b
                } else if b == k {
                    a
                } else {
                    continue;
                };
                if let Some(&(x, y)) = self.pos.get(&other) {
                    sum.0 += x;
                    sum.1 += y;
                    n += 1.0;
                }
            }
            // A golden-angle spiral spreads nodes with no placed neighbour; a small offset by
            // key keeps new neighbours of one node apart.
            let a = (k as f64) * 2.399_963;
            let p = if n > 0.0 {
                (sum.0 / n + 0.5 * K * a.cos(), sum.1 / n + 0.5 * K * a.sin())
            } else {
                let r = K * (i as f64 + self.pos.len() as f64).sqrt();
                let a = (i + self.pos.len()) as f64 * 2.399_963;
                (r * a.cos(), r * a.sin())
            };
            self.pos.insert(k, p);
        }
    }

    /// A node's position in layout units.
    pub fn position(&self, key: NodeKey) -> Option<(f64, f64)> {
        self.pos.get(&key).copied()
    }

    /// Every position scaled into the unit square (0..=1 on both axes, aspect kept), in key
    /// order.
    pub fn normalized(&self) -> Vec<(NodeKey, f64, f64)> {
        let (mut x0, mut y0, mut x1, mut y1) = (f64::MAX, f64::MAX, f64::MIN, f64::MIN);
        for &(x, y) in self.pos.values() {
            x0 = x0.min(x);
            y0 = y0.min(y);
            x1 = x1.max(x);
            y1 = y1.max(y);
        }
        let span = (x1 - x0).max(y1 - y0).max(1e-9);
        let (ox, oy) = ((span - (x1 - x0)) / 2.0, (span - (y1 - y0)) / 2.0);
        self.pos
            .iter()
            .map(|(&k, &(x, y))| (k, (x - x0 + ox) / span, (y - y0 + oy) / span))
            .collect()
    }
}

/// Layout units per metre: one ideal edge per median nearest-neighbour distance of the nodes
/// with physical positions.
fn hint_scale(topo: &Topology) -> Option<f64> {
    let pts: Vec<(f64, f64)> = topo.nodes().filter_map(|n| n.position).collect();
    if pts.len() < 2 {
        return None;
    }
    // Nodes beyond a few hundred: a sample is enough.
    let sample = &pts[..pts.len().min(256)];
    let mut nn: Vec<f64> = sample
        .iter()
        .enumerate()
        .map(|(i, a)| {
            pts.iter()
                .enumerate()
                .filter(|&(j, _)| j != i)
                .map(|(_, b)| ((a.0 - b.0).powi(2) + (a.1 - b.1).powi(2)).sqrt())
                .fold(f64::MAX, f64::min)
        })
        .filter(|d| *d > 1e-9 && d.is_finite())
        .collect();
    if nn.is_empty() {
        return None;
    }
    nn.sort_by(|a, b| a.total_cmp(b));
    Some(K / nn[nn.len() / 2])
}

#[cfg(test)]
mod tests {
    use super::*;
    use weft_mesh::Instant;

    fn t(s: u64) -> Instant {
        Instant::from_micros(s * 1_000_000)
    }

    fn chain(n: u64) -> Topology {
        let mut g = Topology::new();
        g.set_host(Some(1));
        for i in 1..n {
            g.heard(i, i + 1, Some(-50 - i as i8), t(i));
            g.heard(i + 1, i, Some(-60), t(i));
        }
        g
    }

    #[test]
    fn dot_names_nodes_and_edges() {
        let mut g = chain(2);
        g.node_mut(1).name = Some("a \"b\"".into());
        let dot = to_dot(&g);
        assert!(dot.starts_with("graph mesh {"));
        assert!(dot.contains("a \\\"b\\\""), "{dot}");
        assert!(
            dot.contains("\"0001\" -- \"0002\" [label=\"-51 dBm\""),
            "{dot}"
        );
    }

    #[test]
    fn layout_settles_and_stays_put_when_a_node_joins() {
        let mut g = chain(6);
        let mut l = Layout::new();
        l.settle(&g, 500);
        assert!(l.settled(&g));
        let before: Vec<_> = (1..=6).map(|k| l.position(k).unwrap()).collect();
        // Neighbours end up about one edge apart.
        let d = |a: (f64, f64), b: (f64, f64)| ((a.0 - b.0).powi(2) + (a.1 - b.1).powi(2)).sqrt();
        for w in before.windows(2) {
            let e = d(w[0], w[1]);
            assert!(e > 0.3 && e < 2.5, "edge length {e}");
        }
        g.heard(6, 7, Some(-70), t(9));
        l.settle(&g, 500);
        let moved = (1..=6)
            .map(|k| d(l.position(k).unwrap(), before[k as usize - 1]))
            .fold(0.0, f64::max);
        assert!(moved < 2.0, "old nodes moved {moved}");
        assert!(l.position(7).is_some());
        for (_, x, y) in l.normalized() {
            assert!((0.0..=1.0).contains(&x) && (0.0..=1.0).contains(&y));
        }
    }

    #[test]
    fn layout_is_deterministic_and_uses_positions() {
        let mut g = chain(5);
        for k in 1..=5u64 {
            g.node_mut(k).position = Some((k as f64 * 30.0, 0.0));
        }
        let mut a = Layout::new();
        let mut b = Layout::new();
        for _ in 0..50 {
            a.step(&g);
            b.step(&g);
        }
        assert_eq!(a.normalized(), b.normalized());
        // A chain laid out along x stays ordered along x.
        let xs: Vec<f64> = (1..=5).map(|k| a.position(k).unwrap().0).collect();
        assert!(xs.windows(2).all(|w| w[0] < w[1]), "{xs:?}");
    }

    #[test]
    fn empty_and_single_node_layouts() {
        let mut l = Layout::new();
        let mut g = Topology::new();
        assert_eq!(l.step(&g), 0.0);
        assert!(l.normalized().is_empty());
        g.node_mut(5);
        l.settle(&g, 10);
        let n = l.normalized();
        assert_eq!(n.len(), 1);
        assert!(n[0].1.is_finite());
    }
}
