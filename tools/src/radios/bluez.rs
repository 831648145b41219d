//! The adapters bluetoothd has, as `weft radios` lists them: asked over the system bus
//! (`weft_radio::bluez::adapters`), merged into the kernel's adapters read from sysfs (the same
//! `hciN` gets BlueZ's view and the `bluez:` URI), and listed on their own when sysfs does not
//! show them. No bus, or no `org.bluez` on it, lists nothing and is no failure.

use std::time::Duration;

use serde_json::{json, Value};
use weft_radio::bluez::AdapterInfo;

/// How long `weft radios` waits for BlueZ's answer.
const ASK_WITHIN: Duration = Duration::from_secs(3);

/// BlueZ's adapters, when a system bus with bluetoothd answers within [`ASK_WITHIN`].
pub fn query() -> Option<Vec<AdapterInfo>> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .ok()?;
    rt.block_on(async {
        tokio::time::timeout(ASK_WITHIN, weft_radio::bluez::adapters())
            .await
            .ok()
            .flatten()
    })
}

/// What to do with `a`, in a few words.
fn note(a: &AdapterInfo) -> &'static str {
    if !a.powered {
        "bluetoothd has it powered off: `bluetoothctl power on` first"
    } else if !a.le_advertising {
        "bluetoothd offers no LE advertising on it (BR/EDR only, or LE switched off)"
    } else {
        "bluetoothd runs and manages it: weft shares it through BlueZ"
    }
}

/// `entries` (what `weft radios --json` lists) with BlueZ's `adapters` merged in.
pub fn merge(entries: &mut Vec<Value>, adapters: &[AdapterInfo]) {
    for a in adapters {
        let view = json!({
            "address": a.address,
            "alias": a.alias,
            "powered": a.powered,
            "le_advertising": a.le_advertising,
        });
        let radio = format!("bluez:{}", a.name);
        let known = entries
            .iter_mut()
            .find(|e| e["kind"] == "hci" && e["name"] == a.name.as_str());
        match known {
            Some(e) => {
                e["bluez"] = view;
                e["radio"] = json!(radio);
                e["note"] = json!(note(a));
            }
            None => entries.push(json!({
                "kind": "bluez",
                "name": a.name,
                "bluez": view,
                "note": note(a),
                "radio": radio,
            })),
        }
    }
}

/// One line for a person, for an entry of kind "bluez".
pub fn line(v: &Value) -> String {
    let b = &v["bluez"];
    let power = if b["powered"] == true { "on" } else { "off" };
    format!(
        "{} (BlueZ, {}, powered {power}): {}",
        v["name"].as_str().unwrap_or_default(),
        b["address"].as_str().unwrap_or_default(),
        v["note"].as_str().unwrap_or_default()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn adapter(name: &str, powered: bool) -> AdapterInfo {
        AdapterInfo {
            name: name.into(),
            address: "00:01:02:03:04:05".into(),
            alias: "box".into(),
            powered,
            le_advertising: true,
            free_instances: Some(5),
            hardware_offload: true,
        }
    }

    #[test]
    fn bluez_adapters_join_the_kernel_ones_or_stand_alone() {
        let mut entries = vec![json!({
            "kind": "hci", "name": "hci0", "radio": "hci-user:hci0", "note": "x", "bus": "usb",
        })];
        merge(
            &mut entries,
            &[adapter("hci0", true), adapter("hci1", false)],
        );
        assert_eq!(entries.len(), 2);
        assert_eq!(entries[0]["radio"], "bluez:hci0");
        assert_eq!(entries[0]["bus"], "usb");
        assert_eq!(entries[0]["bluez"]["powered"], true);
        assert_eq!(entries[1]["kind"], "bluez");
        assert_eq!(entries[1]["radio"], "bluez:hci1");
        assert!(entries[1]["note"]
            .as_str()
            .unwrap()
            .contains("bluetoothctl power on"));
        let l = line(&entries[1]);
        assert!(
            l.starts_with("hci1 (BlueZ, 00:01:02:03:04:05, powered off)"),
            "{l}"
        );
    }
}
