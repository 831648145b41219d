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

/// A unicast address (0001..7fff).
pub fn unicast(s: &str) -> Result<Address, String> {
    let a = address(s)?;
    if a.is_unicast() {
        Ok(a)
    } else {
        Err(format!("{a} is not a unicast address (0001..7fff)"))
    }
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
}
