//! Who hears whom: per-node neighbour lists, built once from positions (log-distance path loss
//! on a spatial grid) and the explicit link table, stored flat (CSR) so a transmission costs
//! O(neighbours) and a node costs a few words.

use std::collections::{BTreeMap, HashMap};

use super::{Link, SimConfig};

/// The neighbour entry is an explicit link (not the path-loss model).
pub(super) const EXPLICIT: u8 = 1;

/// One directed link `from -> node` as the medium uses it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Neighbour {
    /// The receiving node.
    pub node: u32,
    /// Loss probability in units of 2^-32; `u32::MAX` means the frame is always lost.
    pub loss: u32,
    /// RSSI at the receiver, dBm.
    pub rssi: i8,
    /// [`EXPLICIT`] or 0.
    pub flags: u8,
}

/// Loss probability (0.0..=1.0) to the fixed-point form in [`Neighbour::loss`].
pub(super) fn loss_to_fixed(loss: f64) -> u32 {
    if loss.is_nan() || loss <= 0.0 {
        0
    } else if loss >= 1.0 {
        u32::MAX
    } else {
        // 2^32 * loss < 2^32; the cast saturates at u32::MAX - 1 at most after the min.
        ((loss * 4_294_967_296.0).round() as u64).min(u32::MAX as u64 - 1) as u32
    }
}

/// The fixed-point loss back to a probability.
pub(super) fn loss_from_fixed(loss: u32) -> f64 {
    if loss == u32::MAX {
        1.0
    } else {
        loss as f64 / 4_294_967_296.0
    }
}

/// Received power in dBm at distance `d` metres under the log-distance model
/// PL(d) = PL(1 m) + 10·n·log10(d); distances under 1 m count as 1 m.
pub(super) fn model_rssi(cfg: &SimConfig, d: f64) -> f64 {
    let d = if d.is_nan() { 1.0 } else { d.max(1.0) };
    cfg.tx_power_dbm - cfg.path_loss_1m_db - 10.0 * cfg.path_loss_exponent * d.log10()
}

/// The distance (metres) up to which the model's RSSI stays at or above sensitivity.
pub(super) fn model_range(cfg: &SimConfig) -> f64 {
    let budget = cfg.tx_power_dbm - cfg.path_loss_1m_db - cfg.sensitivity_dbm;
    if budget.is_nan() || budget < 0.0 {
        return 0.0;
    }
    if cfg.path_loss_exponent <= 0.0 || cfg.path_loss_exponent.is_nan() {
        return f64::INFINITY;
    }
    10f64
        .powf(budget / (10.0 * cfg.path_loss_exponent))
        .max(1.0)
}

/// RSSI in dBm rounded to the `i8` a radio reports.
pub(super) fn to_dbm_i8(rssi: f64) -> i8 {
    if rssi.is_nan() {
        i8::MIN
    } else {
        rssi.round().clamp(i8::MIN as f64, i8::MAX as f64) as i8
    }
}

/// Neighbour lists of all nodes, sorted by receiving node within each list.
#[derive(Debug, Default)]
pub(super) struct Topology {
    offsets: Vec<u32>,
    entries: Vec<Neighbour>,
    /// Per node: some of its outgoing links are explicit.
    explicit_out: Vec<bool>,
    /// The path-loss model's range, metres.
    range: f64,
}

impl Topology {
    /// Builds the lists for `positions` (index = node id) and the explicit `links`.
    pub fn build(
        cfg: &SimConfig,
        positions: &[Option<(f64, f64)>],
        links: &BTreeMap<(u32, u32), Link>,
    ) -> Topology {
        let n = positions.len();
        let range = model_range(cfg);
        // Cells at least as wide as the range, so every pair in range sits in adjacent cells.
        let cell = if range.is_finite() {
            range.clamp(1.0, 1e9)
        } else {
            1e9
        };
        let key = |x: f64, y: f64| ((x / cell).floor() as i64, (y / cell).floor() as i64);
        let mut grid: HashMap<(i64, i64), Vec<u32>> = HashMap::new();
        if range > 0.0 {
            for (id, pos) in positions.iter().enumerate() {
                if let Some((x, y)) = *pos {
                    grid.entry(key(x, y)).or_default().push(id as u32);
                }
            }
        }
        let default_loss = loss_to_fixed(cfg.loss);
        let mut offsets = Vec::with_capacity(n + 1);
        let mut entries = Vec::new();
        let mut explicit_out = vec![false; n];
        offsets.push(0u32);
        for a in 0..n as u32 {
            let begin = entries.len();
            if let (true, Some((x, y))) = (range > 0.0, positions[a as usize]) {
                let (cx, cy) = key(x, y);
                for gx in cx - 1..=cx + 1 {
                    for gy in cy - 1..=cy + 1 {
                        let Some(cell) = grid.get(&(gx, gy)) else {
                            continue;
                        };
                        for &b in cell {
                            if b == a || links.contains_key(&(a, b)) {
                                continue;
                            }
                            let Some((bx, by)) = positions[b as usize] else {
                                continue;
                            };
                            let rssi =
                                model_rssi(cfg, ((bx - x).powi(2) + (by - y).powi(2)).sqrt());
                            if rssi >= cfg.sensitivity_dbm {
                                entries.push(Neighbour {
                                    node: b,
                                    loss: default_loss,
                                    rssi: to_dbm_i8(rssi),
                                    flags: 0,
                                });
                            }
                        }
                    }
                }
            }
            for (&(_, b), link) in links.range((a, 0)..=(a, u32::MAX)) {
                if b != a && (b as usize) < n {
                    explicit_out[a as usize] = true;
                    entries.push(Neighbour {
                        node: b,
                        loss: loss_to_fixed(link.loss),
                        rssi: link.rssi_dbm,
                        flags: EXPLICIT,
                    });
                }
            }
            entries[begin..].sort_unstable_by_key(|e| e.node);
            offsets.push(u32::try_from(entries.len()).expect("fewer than 2^32 links"));
        }
        entries.shrink_to_fit();
        Topology {
            offsets,
            entries,
            explicit_out,
            range,
        }
    }

    /// Whether two transmitters can have no receiver in common: both placed, farther apart
    /// than twice the model's range, and neither with explicit links.
    pub fn disjoint(&self, a: u32, pa: Option<(f64, f64)>, b: u32, pb: Option<(f64, f64)>) -> bool {
        let (Some((ax, ay)), Some((bx, by))) = (pa, pb) else {
            return false;
        };
        let explicit = |n: u32| self.explicit_out.get(n as usize).copied().unwrap_or(true);
        let reach = 2.0 * self.range;
        reach.is_finite()
            && !explicit(a)
            && !explicit(b)
            && (ax - bx).powi(2) + (ay - by).powi(2) > reach * reach
    }

    /// The neighbour list of `node` (empty for an unknown node).
    pub fn of(&self, node: u32) -> &[Neighbour] {
        &self.entries[self.span(node)]
    }

    /// Where the neighbour list of `node` sits in the flat entry table (empty when unknown).
    pub fn span(&self, node: u32) -> std::ops::Range<usize> {
        let i = node as usize;
        match (self.offsets.get(i), self.offsets.get(i + 1)) {
            (Some(&a), Some(&b)) => a as usize..b as usize,
            _ => 0..0,
        }
    }

    /// Entry `i` of the flat table (from a [`Topology::span`]).
    pub fn entry(&self, i: usize) -> Neighbour {
        self.entries[i]
    }

    /// The link `from -> to`, if `to` is a neighbour of `from`.
    pub fn find(&self, from: u32, to: u32) -> Option<Neighbour> {
        let list = self.of(from);
        list.binary_search_by_key(&to, |e| e.node)
            .ok()
            .map(|i| list[i])
    }

    /// Number of directed links.
    pub fn len(&self) -> usize {
        self.entries.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loss_fixed_point_round_trips_ends() {
        assert_eq!(loss_to_fixed(0.0), 0);
        assert_eq!(loss_to_fixed(-1.0), 0);
        assert_eq!(loss_to_fixed(f64::NAN), 0);
        assert_eq!(loss_to_fixed(1.0), u32::MAX);
        assert_eq!(loss_from_fixed(u32::MAX), 1.0);
        assert!((loss_from_fixed(loss_to_fixed(0.3)) - 0.3).abs() < 1e-9);
    }

    #[test]
    fn model_range_matches_rssi() {
        let cfg = SimConfig::default();
        let r = model_range(&cfg);
        assert!((model_rssi(&cfg, r) - cfg.sensitivity_dbm).abs() < 1e-9);
        assert!(model_rssi(&cfg, r * 1.01) < cfg.sensitivity_dbm);
        // Under 1 m the loss is PL(1 m).
        assert_eq!(
            model_rssi(&cfg, 0.0),
            cfg.tx_power_dbm - cfg.path_loss_1m_db
        );
        let deaf = SimConfig {
            sensitivity_dbm: 0.0,
            ..SimConfig::default()
        };
        assert_eq!(model_range(&deaf), 0.0);
    }

    #[test]
    fn grid_finds_the_same_pairs_as_brute_force() {
        let cfg = SimConfig::default();
        let mut positions = Vec::new();
        let mut s = 12345u64;
        for _ in 0..300 {
            s = s
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            let x = (s >> 33) as f64 / (1u64 << 31) as f64 * 400.0 - 200.0;
            s = s
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            let y = (s >> 33) as f64 / (1u64 << 31) as f64 * 400.0 - 200.0;
            positions.push(Some((x, y)));
        }
        positions.push(None);
        let topo = Topology::build(&cfg, &positions, &BTreeMap::new());
        let mut brute = 0;
        for (a, pa) in positions.iter().enumerate() {
            for (b, pb) in positions.iter().enumerate() {
                if let (Some((ax, ay)), Some((bx, by)), true) = (pa, pb, a != b) {
                    let d = ((ax - bx).powi(2) + (ay - by).powi(2)).sqrt();
                    let heard = model_rssi(&cfg, d) >= cfg.sensitivity_dbm;
                    assert_eq!(topo.find(a as u32, b as u32).is_some(), heard);
                    brute += heard as usize;
                }
            }
        }
        assert_eq!(topo.len(), brute);
        assert!(brute > 0);
        assert!(topo.of(300).is_empty());
        assert!(topo.of(1000).is_empty());
    }

    #[test]
    fn explicit_links_override_the_model() {
        let cfg = SimConfig::default();
        let positions = vec![Some((0.0, 0.0)), Some((1.0, 0.0)), None];
        let mut links = BTreeMap::new();
        links.insert(
            (0, 1),
            Link {
                rssi_dbm: -99,
                loss: 1.0,
            },
        );
        links.insert(
            (2, 0),
            Link {
                rssi_dbm: -60,
                loss: 0.0,
            },
        );
        let topo = Topology::build(&cfg, &positions, &links);
        let l01 = topo.find(0, 1).unwrap();
        assert_eq!((l01.rssi, l01.loss, l01.flags), (-99, u32::MAX, EXPLICIT));
        // The reverse direction stays on the model.
        let l10 = topo.find(1, 0).unwrap();
        assert_eq!((l10.rssi, l10.flags), (-40, 0));
        assert_eq!(topo.find(2, 0).unwrap().rssi, -60);
        assert!(topo.find(0, 2).is_none());
        // Node 0 has explicit links: never skipped.
        assert!(!topo.disjoint(0, Some((0.0, 0.0)), 1, Some((1e6, 0.0))));
    }

    #[test]
    fn disjoint_transmitters_share_no_receiver() {
        let cfg = SimConfig::default();
        let r = model_range(&cfg);
        let positions = vec![
            Some((0.0, 0.0)),
            Some((2.0 * r + 1.0, 0.0)),
            Some((2.0 * r - 1.0, 0.0)),
            None,
        ];
        let topo = Topology::build(&cfg, &positions, &BTreeMap::new());
        assert!(topo.disjoint(0, positions[0], 1, positions[1]));
        assert!(!topo.disjoint(0, positions[0], 2, positions[2]));
        assert!(!topo.disjoint(0, positions[0], 3, positions[3]));
    }
}
