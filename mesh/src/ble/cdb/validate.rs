//! Checking a document beyond what its types say: the values the CDB 1.0.1 schema constrains
//! and the references between keys, nodes and elements.

use super::convert::{feature_bit, period_log};
use super::{Cdb, CdbError, CdbNode, CdbPublish, CdbRange};
use crate::ble::address::UnicastAddress;
use crate::ble::models::KeyIndex;

impl Cdb {
    /// Checks every value the schema constrains beyond its type, and the references between
    /// keys, nodes and elements.
    pub fn validate(&self) -> Result<(), CdbError> {
        let mut seen = Vec::new();
        for (i, k) in self.net_keys.iter().enumerate() {
            let p = format!("netKeys[{i}]");
            check_index(&format!("{p}.index"), k.index)?;
            if seen.contains(&k.index) {
                return Err(CdbError::field(
                    format!("{p}.index"),
                    format!("NetKey Index {} appears twice", k.index),
                ));
            }
            seen.push(k.index);
            if k.phase > 2 {
                return Err(CdbError::field(
                    format!("{p}.phase"),
                    format!("{} is not a Key Refresh Phase (0, 1 or 2)", k.phase),
                ));
            }
            if k.phase != 0 && k.old_key.is_none() {
                return Err(CdbError::field(
                    format!("{p}.oldKey"),
                    "required during a key refresh (phase 1 or 2)",
                ));
            }
        }
        let mut seen_app = Vec::new();
        for (i, k) in self.app_keys.iter().enumerate() {
            let p = format!("appKeys[{i}]");
            check_index(&format!("{p}.index"), k.index)?;
            if seen_app.contains(&k.index) {
                return Err(CdbError::field(
                    format!("{p}.index"),
                    format!("AppKey Index {} appears twice", k.index),
                ));
            }
            seen_app.push(k.index);
            if !self.partial && !seen.contains(&k.bound_net_key) {
                return Err(CdbError::field(
                    format!("{p}.boundNetKey"),
                    format!("no network key has index {}", k.bound_net_key),
                ));
            }
        }
        for (i, pr) in self.provisioners.iter().enumerate() {
            let p = format!("provisioners[{i}]");
            for (j, r) in pr.allocated_unicast_range.iter().enumerate() {
                check_range(
                    &format!("{p}.allocatedUnicastRange[{j}]"),
                    *r,
                    0x0001,
                    0x7FFF,
                )?;
            }
            for (j, r) in pr.allocated_group_range.iter().enumerate() {
                check_range(&format!("{p}.allocatedGroupRange[{j}]"), *r, 0xC000, 0xFEFF)?;
            }
            for (j, r) in pr.allocated_scene_range.iter().enumerate() {
                if r.first_scene.0 == 0 || r.first_scene > r.last_scene {
                    return Err(CdbError::field(
                        format!("{p}.allocatedSceneRange[{j}]"),
                        "not a range of scene numbers (0001..FFFF, first <= last)",
                    ));
                }
            }
        }
        let mut used: Vec<(u16, u16, usize)> = Vec::new();
        for (i, n) in self.nodes.iter().enumerate() {
            self.validate_node(&format!("nodes[{i}]"), n, &seen)?;
            let lo = n.unicast_address.0;
            let hi = lo + (n.elements.len().max(1) as u16 - 1);
            if let Some((_, _, other)) = used.iter().find(|(a, b, _)| lo <= *b && *a <= hi) {
                return Err(CdbError::field(
                    format!("nodes[{i}].unicastAddress"),
                    format!("{lo:04X} overlaps the addresses of nodes[{other}]"),
                ));
            }
            used.push((lo, hi, i));
        }
        for (i, g) in self.groups.iter().enumerate() {
            let a = g.address.address();
            if !(a.is_group() || a.is_virtual()) || a.0 >= 0xFF00 {
                return Err(CdbError::field(
                    format!("groups[{i}].address"),
                    format!("{:04X} is not a group or virtual address", a.0),
                ));
            }
        }
        for (i, s) in self.scenes.iter().enumerate() {
            if s.number.0 == 0 {
                return Err(CdbError::field(
                    format!("scenes[{i}].number"),
                    "scene number 0000 is prohibited",
                ));
            }
        }
        Ok(())
    }

    fn validate_node(&self, p: &str, n: &CdbNode, net_indexes: &[u16]) -> Result<(), CdbError> {
        let a = n.unicast_address.0;
        if UnicastAddress::new(a).is_none() {
            return Err(CdbError::field(
                format!("{p}.unicastAddress"),
                format!("{a:04X} is not a unicast address (0001..7FFF)"),
            ));
        }
        if usize::from(a) + n.elements.len().max(1) - 1 > 0x7FFF {
            return Err(CdbError::field(
                format!("{p}.elements"),
                "the element addresses run past 7FFF",
            ));
        }
        for (j, k) in n.net_keys.iter().enumerate() {
            check_index(&format!("{p}.netKeys[{j}].index"), k.index)?;
            if !self.partial && !net_indexes.contains(&k.index) {
                return Err(CdbError::field(
                    format!("{p}.netKeys[{j}].index"),
                    format!("no network key has index {}", k.index),
                ));
            }
        }
        for (j, k) in n.app_keys.iter().enumerate() {
            check_index(&format!("{p}.appKeys[{j}].index"), k.index)?;
        }
        if let Some(ttl) = n.default_ttl {
            if ttl > 0x7F || ttl == 1 {
                return Err(CdbError::field(
                    format!("{p}.defaultTTL"),
                    format!("{ttl} is not a Default TTL (0, 2..127; MshPRT §4.2.7)"),
                ));
            }
        }
        if let Some(f) = &n.features {
            for (name, v) in [
                ("relay", f.relay),
                ("proxy", f.proxy),
                ("friend", f.friend),
                ("lowPower", f.low_power),
            ] {
                if v.is_some_and(|v| v > 2) {
                    return Err(CdbError::field(
                        format!("{p}.features.{name}"),
                        "must be 0 (disabled), 1 (enabled) or 2 (not supported)",
                    ));
                }
            }
        }
        for (name, t) in [
            ("networkTransmit", n.network_transmit),
            ("relayRetransmit", n.relay_retransmit),
        ] {
            if let Some(t) = t {
                if t.to_state().is_none() {
                    return Err(CdbError::field(format!("{p}.{name}"), format!("count {} / interval {} ms out of range (1..8 transmissions, 10..320 ms in 10 ms steps)", t.count, t.interval)));
                }
            }
        }
        for (j, e) in n.elements.iter().enumerate() {
            let pe = format!("{p}.elements[{j}]");
            if usize::from(e.index) != j {
                return Err(CdbError::field(
                    format!("{pe}.index"),
                    format!("{} where {j} was expected (elements in order)", e.index),
                ));
            }
            for (m, model) in e.models.iter().enumerate() {
                let pm = format!("{pe}.models[{m}]");
                for (b, idx) in model.bind.iter().enumerate() {
                    check_index(&format!("{pm}.bind[{b}]"), *idx)?;
                }
                if let Some(publ) = &model.publish {
                    check_publish(&format!("{pm}.publish"), publ)?;
                }
            }
        }
        if let Some(hb) = &n.heartbeat_pub {
            let ph = format!("{p}.heartbeatPub");
            if period_log(hb.period).is_none() {
                return Err(CdbError::field(
                    format!("{ph}.period"),
                    format!(
                        "{} s is neither 0, a power of 2 up to 32768, nor 65535",
                        hb.period
                    ),
                ));
            }
            if hb.ttl > 0x7F {
                return Err(CdbError::field(
                    format!("{ph}.ttl"),
                    format!("{} is above 127", hb.ttl),
                ));
            }
            check_index(&format!("{ph}.index"), hb.index)?;
            for (j, f) in hb.features.iter().enumerate() {
                if feature_bit(f).is_none() {
                    return Err(CdbError::field(
                        format!("{ph}.features[{j}]"),
                        format!("\"{f}\" is not relay, proxy, friend or lowPower"),
                    ));
                }
            }
        }
        Ok(())
    }
}

fn check_index(field: &str, v: u16) -> Result<(), CdbError> {
    // MshPRT §4.3.1.1: key indexes are 12 bits.
    if v > KeyIndex::MAX {
        return Err(CdbError::field(
            field,
            format!("{v} is not a key index (0..4095)"),
        ));
    }
    Ok(())
}

fn check_range(field: &str, r: CdbRange, lo: u16, hi: u16) -> Result<(), CdbError> {
    if r.low_address.0 < lo || r.high_address.0 > hi || r.low_address > r.high_address {
        return Err(CdbError::field(
            field,
            format!(
                "{:04X}..{:04X} is not a range within {lo:04X}..{hi:04X}",
                r.low_address.0, r.high_address.0
            ),
        ));
    }
    Ok(())
}

fn check_publish(p: &str, publ: &CdbPublish) -> Result<(), CdbError> {
    check_index(&format!("{p}.index"), publ.index)?;
    // MshPRT §4.2.3.4: Publish TTL 0x80..=0xFE is prohibited.
    if (0x80..=0xFE).contains(&publ.ttl) {
        return Err(CdbError::field(
            format!("{p}.ttl"),
            format!("{} is not a Publish TTL (0..127 or 255)", publ.ttl),
        ));
    }
    if publ.period.to_state().is_none() {
        return Err(CdbError::field(
            format!("{p}.period.numberOfSteps"),
            format!("{} is above 63", publ.period.number_of_steps),
        ));
    }
    let r = publ.retransmit;
    if r.count > 7 {
        return Err(CdbError::field(
            format!("{p}.retransmit.count"),
            format!("{} is above 7", r.count),
        ));
    }
    // MshPRT §4.2.3.8: (steps + 1) × 50 ms, steps 0..=31.
    if !(50..=1600).contains(&r.interval) || !r.interval.is_multiple_of(50) {
        return Err(CdbError::field(
            format!("{p}.retransmit.interval"),
            format!("{} ms is not 50..1600 in 50 ms steps", r.interval),
        ));
    }
    Ok(())
}
