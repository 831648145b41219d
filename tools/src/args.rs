//! Parsers for command-line values (keys, addresses, hex), each failing with one sentence that
//! names what is wrong and how to write it instead. clap turns these into exit code 2.

use weft_mesh::ble::Address;

/// Hex bytes: an even number of hex digits, optionally prefixed with `0x`; `:` `-` `_` and
/// spaces between bytes are ignored.
pub fn hex_bytes(s: &str) -> Result<Vec<u8>, String> {
    let t = s.trim();
    let t = t
        .strip_prefix("0x")
        .or_else(|| t.strip_prefix("0X"))
        .unwrap_or(t);
    let clean: String = t
        .chars()
        .filter(|c| !matches!(c, ':' | '-' | '_' | ' '))
        .collect();
    if clean.is_empty() {
        return Err("empty hex string".into());
    }
    if let Some(c) = clean.chars().find(|c| !c.is_ascii_hexdigit()) {
        return Err(format!("'{c}' is not a hex digit (expected 0-9, a-f)"));
    }
    if !clean.len().is_multiple_of(2) {
        return Err(format!(
            "odd number of hex digits ({}): each byte needs two digits",
            clean.len()
        ));
    }
    hex::decode(&clean).map_err(|e| e.to_string())
}

/// A radio (`--radio`): checked by the one parser of radio URIs (and the tool's `sim:SCENARIO`)
/// when the arguments are read, so a malformed one is a usage error before anything else runs.
pub fn radio(s: &str) -> Result<String, String> {
    crate::runtime::RadioArg::parse(s).map(|_| s.to_string())
}

/// A 128-bit key: exactly 32 hex digits.
pub fn key128(s: &str) -> Result<[u8; 16], String> {
    let b = hex_bytes(s)?;
    <[u8; 16]>::try_from(b.as_slice()).map_err(|_| {
        format!(
            "a key is 16 bytes (32 hex digits), this one has {} bytes",
            b.len()
        )
    })
}

/// A Label UUID: 32 hex digits, dashes allowed (`0073e7e4-d8b9-440f-af84-15df4c56c0e1`).
pub fn label_uuid(s: &str) -> Result<[u8; 16], String> {
    let b = hex_bytes(s)?;
    <[u8; 16]>::try_from(b.as_slice()).map_err(|_| {
        format!(
            "a Label UUID is 16 bytes (32 hex digits), this one has {} bytes",
            b.len()
        )
    })
}

/// A 32-bit IV Index in hex (1 to 8 digits, `0x` optional).
pub fn iv_index(s: &str) -> Result<u32, String> {
    let t = s.trim();
    let t = t
        .strip_prefix("0x")
        .or_else(|| t.strip_prefix("0X"))
        .unwrap_or(t);
    if t.is_empty() || t.len() > 8 {
        return Err("the IV index is 1 to 8 hex digits, e.g. 12345678".into());
    }
    u32::from_str_radix(t, 16).map_err(|_| format!("'{s}' is not a hex IV index, e.g. 12345678"))
}

/// A 16-bit address in hex (1 to 4 digits, `0x` optional).
pub fn address(s: &str) -> Result<Address, String> {
    let t = s.trim();
    let t = t
        .strip_prefix("0x")
        .or_else(|| t.strip_prefix("0X"))
        .unwrap_or(t);
    if t.is_empty() || t.len() > 4 {
        return Err(format!(
            "'{s}' is not an address: use 1 to 4 hex digits, e.g. 0003"
        ));
    }
    u16::from_str_radix(t, 16)
        .map(Address)
        .map_err(|_| format!("'{s}' is not an address: use 1 to 4 hex digits, e.g. 0003"))
}

/// A unicast address (0001..7fff): a node's element.
pub fn unicast(s: &str) -> Result<Address, String> {
    let a = address(s)?;
    if a.is_unicast() {
        Ok(a)
    } else {
        Err(format!("{a} is not a unicast address (0001-7fff)"))
    }
}

/// Where a message goes: a unicast address (0001-7fff) or a group (c000-ffff). The unassigned
/// address 0000 is never a destination (MshPRT §3.4.2.1), and a virtual address (8000-bfff)
/// needs its Label UUID, which these commands do not take.
pub fn destination(s: &str) -> Result<Address, String> {
    let a = address(s)?;
    if a.is_unicast() || a.is_group() {
        Ok(a)
    } else if a.is_unassigned() {
        Err("0000 is the unassigned address, never a destination: give a unicast address (0001-7fff) or a group (c000-ffff)".into())
    } else {
        Err(format!("{a} is a virtual address, which needs its Label UUID: give a unicast address (0001-7fff) or a group (c000-ffff)"))
    }
}

/// A publication's destination (Config Model Publication Set, Heartbeat Publication): 0000
/// (stop publishing), a unicast address (0001-7fff) or a group (c000-ffff); a virtual address
/// would need Config Model Publication Virtual Address Set (MshPRT §4.3.2.16, §4.2.17.1).
pub fn publication(s: &str) -> Result<Address, String> {
    let a = address(s)?;
    if a.is_virtual() {
        Err(format!("{a} is a virtual address: publish to 0000 (stop), a unicast address (0001-7fff) or a group (c000-ffff)"))
    } else {
        Ok(a)
    }
}

/// A group a model subscribes to: c000-fffe. Every node hears all-nodes (ffff) without
/// subscribing, and a subscription is never to it (MshPRT §4.3.2.19).
pub fn subscription(s: &str) -> Result<Address, String> {
    let a = address(s)?;
    if a.is_group() && a != Address::ALL_NODES {
        Ok(a)
    } else {
        Err(format!(
            "{a} is not a group to subscribe to: give a group address c000-fffe (ffff, all-nodes, needs no subscription)"
        ))
    }
}

/// A global key index: 0-4095 (12 bits, MshPRT §4.3.1.1).
pub fn key_index(s: &str) -> Result<u16, String> {
    match s.trim().parse::<u16>() {
        Ok(i) if i <= 0x0fff => Ok(i),
        _ => Err(format!(
            "'{s}' is not a key index: give 0 to 4095 (12 bits)"
        )),
    }
}

fn ttl(s: &str) -> Option<u8> {
    s.trim().parse::<u8>().ok()
}

/// A Default TTL: 0, or 2 to 127 (MshPRT §4.2.7: 1 and 128-255 are prohibited).
pub fn default_ttl(s: &str) -> Result<u8, String> {
    match ttl(s) {
        Some(t) if t == 0 || (2..=127).contains(&t) => Ok(t),
        _ => Err(format!(
            "'{s}' is not a Default TTL: give 0 or 2 to 127 (1 and 128-255 are prohibited, MshPRT §4.2.7)"
        )),
    }
}

/// A Publish TTL: 0 to 127, or 255 to use the node's Default TTL (MshPRT §4.2.3.5: 128-254
/// are prohibited).
pub fn publish_ttl(s: &str) -> Result<u8, String> {
    match ttl(s) {
        Some(t) if t <= 127 || t == 255 => Ok(t),
        _ => Err(format!(
            "'{s}' is not a Publish TTL: give 0 to 127, or 255 for the node's Default TTL (128-254 are prohibited, MshPRT §4.2.3.5)"
        )),
    }
}

/// The initial TTL of Heartbeat messages: 0 to 127 (MshPRT §4.2.17.4).
pub fn heartbeat_ttl(s: &str) -> Result<u8, String> {
    match ttl(s) {
        Some(t) if t <= 127 => Ok(t),
        _ => Err(format!(
            "'{s}' is not a Heartbeat TTL: give 0 to 127 (MshPRT §4.2.17.4)"
        )),
    }
}

/// The longest time any weft command waits or runs for, in seconds: 30 days. Beyond it a
/// duration is a mistake (milliseconds given as seconds), and its microseconds stay far from
/// overflowing a clock.
pub const MAX_SECONDS: f64 = 30.0 * 24.0 * 3600.0;

/// A duration in seconds: a finite number above 0, at most [`MAX_SECONDS`] (fractions allowed:
/// 0.5). NaN, infinities, 0 and negative numbers are refused: none is a time to wait.
pub fn seconds(s: &str) -> Result<f64, String> {
    match s.trim().parse::<f64>() {
        Ok(v) if v.is_finite() && v > 0.0 && v <= MAX_SECONDS => Ok(v),
        _ => Err(format!(
            "'{s}' is not a number of seconds: give a number above 0 and at most {MAX_SECONDS} (30 days), e.g. 5 or 0.5"
        )),
    }
}

/// A whole number from `min` to `max`; `what` names it in the message ("a node count").
pub fn count(s: &str, what: &str, min: usize, max: usize) -> Result<usize, String> {
    match s.trim().parse::<usize>() {
        Ok(n) if (min..=max).contains(&n) => Ok(n),
        _ => Err(format!("'{s}' is not {what}: give {min} to {max}")),
    }
}

/// The number of nodes of a generated grid: 1 to [`crate::scenario::MAX_GRID_NODES`].
pub fn grid_nodes(s: &str) -> Result<usize, String> {
    count(s, "a node count", 1, crate::scenario::MAX_GRID_NODES)
}

/// Provisioning links open at once: 1 to 64. One advertiser carries them all, so beyond a few
/// dozen more links only wait longer for the air.
pub fn links(s: &str) -> Result<usize, String> {
    count(s, "a number of links", 1, 64)
}

/// `ADDR=KEY`: a device key and the unicast address of its node.
pub fn dev_key(s: &str) -> Result<(Address, [u8; 16]), String> {
    let (a, k) = s.split_once('=').ok_or_else(|| {
        format!("'{s}' is not ADDR=KEY, e.g. 0003=9d6dd0e96eb25dc19a40ed9914f8f03f")
    })?;
    Ok((unicast(a)?, key128(k)?))
}

/// `LPN:FRIEND:LPN_COUNTER:FRIEND_COUNTER` (all hex): a friendship whose credentials to use.
pub fn friendship(s: &str) -> Result<(Address, Address, u16, u16), String> {
    let parts: Vec<&str> = s.split(':').collect();
    let [lpn, friend, lc, fc] = parts.as_slice() else {
        return Err(format!(
            "'{s}' is not LPN:FRIEND:LPN_COUNTER:FRIEND_COUNTER, e.g. 1201:2345:0000:072f"
        ));
    };
    let counter = |c: &str| {
        u16::from_str_radix(c, 16)
            .map_err(|_| format!("'{c}' is not a 16-bit hex counter, e.g. 072f"))
    };
    Ok((unicast(lpn)?, unicast(friend)?, counter(lc)?, counter(fc)?))
}

/// An IEEE 802.15.4 channel of the 2.4 GHz O-QPSK PHY, the ones Thread uses: 11 to 26
/// (IEEE 802.15.4-2015 §10.1.3.3).
pub fn channel154(s: &str) -> Result<u8, String> {
    match s.trim().parse::<u8>() {
        Ok(c) if (11..=26).contains(&c) => Ok(c),
        _ => Err(format!(
            "'{s}' is not an IEEE 802.15.4 channel of the 2.4 GHz band: give 11 to 26 (Thread's default is 15)"
        )),
    }
}

/// A PAN ID in hex (1 to 4 digits, `0x` optional), not the broadcast PAN 0xffff
/// (IEEE 802.15.4-2015 §7.2.1.6 reserves it for every PAN).
pub fn pan_id(s: &str) -> Result<u16, String> {
    let t = s.trim();
    let t = t
        .strip_prefix("0x")
        .or_else(|| t.strip_prefix("0X"))
        .unwrap_or(t);
    match u16::from_str_radix(t, 16) {
        Ok(0xffff) => Err("0xffff is the broadcast PAN ID, not a network's: give the network's PAN ID in hex, e.g. face (`ot-ctl panid` prints it)".into()),
        Ok(p) if !t.is_empty() && t.len() <= 4 => Ok(p),
        _ => Err(format!(
            "'{s}' is not a PAN ID: give 1 to 4 hex digits, e.g. face or 0x1234 (`ot-ctl panid` prints it)"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_name_the_problem() {
        assert!(hex_bytes("abc").unwrap_err().contains("odd number"));
        assert!(hex_bytes("zz").unwrap_err().contains("not a hex digit"));
        assert!(key128("0011").unwrap_err().contains("16 bytes"));
        assert_eq!(hex_bytes("0x00:11-22").unwrap(), vec![0, 0x11, 0x22]);
        assert_eq!(iv_index("12345678").unwrap(), 0x12345678);
        assert!(iv_index("123456789").is_err());
        assert_eq!(
            dev_key("0003=9d6dd0e96eb25dc19a40ed9914f8f03f").unwrap().0,
            Address(3)
        );
        assert!(dev_key("8003=9d6dd0e96eb25dc19a40ed9914f8f03f")
            .unwrap_err()
            .contains("unicast"));
        assert!(label_uuid("0073e7e4-d8b9-440f-af84-15df4c56c0e1").is_ok());
        assert!(friendship("1201:2345:0000:072f").is_ok());
    }

    #[test]
    fn values_the_node_would_refuse_are_refused_here() {
        // Default TTL: 0 or 2-127 (MshPRT §4.2.7).
        assert_eq!(default_ttl("0"), Ok(0));
        assert_eq!(default_ttl("2"), Ok(2));
        assert_eq!(default_ttl("127"), Ok(127));
        for bad in ["1", "128", "200", "255", "256", "-1", "x"] {
            assert!(
                default_ttl(bad).unwrap_err().contains("0 or 2 to 127"),
                "{bad}"
            );
        }
        // Publish TTL: 0-127 or 255 (MshPRT §4.2.3.5).
        assert_eq!(publish_ttl("127"), Ok(127));
        assert_eq!(publish_ttl("255"), Ok(255));
        for bad in ["128", "200", "254", "256"] {
            assert!(
                publish_ttl(bad).unwrap_err().contains("0 to 127, or 255"),
                "{bad}"
            );
        }
        assert_eq!(heartbeat_ttl("127"), Ok(127));
        assert!(heartbeat_ttl("128").is_err());
        // Key indexes: 12 bits.
        assert_eq!(key_index("4095"), Ok(4095));
        for bad in ["4096", "65535", "-1", "0x10"] {
            assert!(key_index(bad).unwrap_err().contains("0 to 4095"), "{bad}");
        }
        // Addresses by role.
        assert!(destination("0000").unwrap_err().contains("unassigned"));
        assert!(destination("8001").unwrap_err().contains("virtual"));
        assert_eq!(destination("0001"), Ok(Address(1)));
        assert_eq!(destination("ffff"), Ok(Address(0xffff)));
        assert_eq!(publication("0000"), Ok(Address(0)));
        assert!(publication("8001").is_err());
        assert_eq!(subscription("c000"), Ok(Address(0xc000)));
        for bad in ["0001", "8001", "ffff", "0000"] {
            assert!(
                subscription(bad).unwrap_err().contains("c000-fffe"),
                "{bad}"
            );
        }
        assert!(unicast("c000").unwrap_err().contains("0001-7fff"));
        // Seconds: finite, above 0, at most 30 days.
        assert_eq!(seconds("0.5"), Ok(0.5));
        assert_eq!(seconds("2592000"), Ok(MAX_SECONDS));
        for bad in [
            "NaN", "nan", "inf", "-inf", "infinity", "0", "-1", "2592001", "1e300", "",
        ] {
            assert!(seconds(bad).unwrap_err().contains("above 0"), "{bad}");
        }
        // Counts.
        assert_eq!(grid_nodes("1"), Ok(1));
        for bad in ["0", "30001", "4000000000", "-3"] {
            assert!(grid_nodes(bad).unwrap_err().contains("1 to 30000"), "{bad}");
        }
        assert!(links("0").is_err());
        assert_eq!(links("64"), Ok(64));
    }
}
