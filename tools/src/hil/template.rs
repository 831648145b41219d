//! `weft radios --rig-template`: a rig file (see `rig.rs`) from the radios `weft radios`
//! finds, each with the URI to use and what finds it again after a replug.

use serde_json::Value;

use super::rig::RadioKind;

/// The rig file's text for `radios` (the objects of `weft radios --json`): those with a URI
/// to use, ids `r1`, `r2`, ... in that order.
pub fn rig_template(name: &str, radios: &[Value]) -> String {
    let q = |s: &str| toml::Value::String(s.to_string()).to_string();
    let mut t = format!(
        "# A weft rig (issue 16): the radios of this host. Check `weft hil list --rig FILE`.\nname = {}\n",
        q(name)
    );
    let mut n = 0;
    for v in radios {
        let Some(uri) = v["radio"].as_str() else {
            continue;
        };
        n += 1;
        t += &format!("\n[[radio]]\nid = \"r{n}\"\nuri = {}\n", q(uri));
        if let Ok(u) = weft_radio::RadioUri::parse(uri) {
            let k = RadioKind::of(&u);
            t += &format!("# {} radio: serves {} roles\n", k.as_str(), k.roles());
        }
        if let Some(s) = v["serial"].as_str() {
            t += &format!("usb_serial = {}\n", q(s));
        }
        if let Some(s) = v["by_id"].as_str() {
            t += &format!("by_id = {}\n", q(s));
        }
        let what: Vec<&str> = ["looks_like", "product", "name", "note"]
            .iter()
            .filter_map(|k| v[*k].as_str())
            .collect();
        if !what.is_empty() {
            t += &format!("# {}\n", what.join(", ").replace('\n', " "));
        }
    }
    if n == 0 {
        t += "\n# No radio found: add one [[radio]] per radio, with its id and uri.\n";
    }
    t
}

#[cfg(test)]
mod tests {
    use super::super::rig::Rig;
    use super::*;
    use serde_json::json;

    #[test]
    fn the_template_is_a_rig_file() {
        let radios = vec![
            json!({"kind": "serial", "radio": "hci:/dev/serial/by-id/usb-ZEPHYR_0123-if00", "serial": "0123", "by_id": "/dev/serial/by-id/usb-ZEPHYR_0123-if00", "looks_like": "hci", "product": "Zephyr \"HCI\""}),
            json!({"kind": "serial", "radio": null, "device": "/dev/ttyUSB0"}),
            json!({"kind": "serial", "radio": "spinel:/dev/ttyACM1", "looks_like": "spinel"}),
        ];
        let text = rig_template("host-1", &radios);
        let rig = Rig::parse("t.toml", &text).unwrap_or_else(|e| panic!("{e}\n{text}"));
        assert_eq!(rig.name, "host-1");
        assert_eq!(rig.radios.len(), 2);
        assert_eq!(rig.radios[0].usb_serial.as_deref(), Some("0123"));
        assert_eq!(rig.radios[1].kind, RadioKind::Ieee802154);
        assert!(
            text.contains("# 802.15.4 radio: serves thread-router, thread-child roles"),
            "{text}"
        );
        let empty = rig_template("h", &[]);
        assert!(
            Rig::parse("t.toml", &empty).is_err(),
            "no radio: not a rig until one is added"
        );
    }
}
