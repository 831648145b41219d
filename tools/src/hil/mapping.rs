//! Casting a scenario's roles onto a rig's radios (issue 16, item 3): each role takes the
//! next free radio of the kind it needs, in the rig's order, radios hinted for the role's kind
//! first; a scenario that needs more radios of a kind than the rig has is skipped with the
//! reason. Independent of how the roles then run (the simulator or weft processes).

use super::rig::{RadioKind, Rig};
use super::scenario::HilScenario;

/// The radio (an index into the rig's radios) of each role, in role order; or why the rig
/// cannot run the scenario.
pub fn map(scenario: &HilScenario, rig: &Rig) -> Result<Vec<usize>, String> {
    let mut taken = vec![false; rig.radios.len()];
    let mut out = Vec::with_capacity(scenario.roles.len());
    for role in &scenario.roles {
        let kind = role.kind.radio();
        let hinted = rig
            .radios
            .iter()
            .enumerate()
            .position(|(i, r)| !taken[i] && r.kind == kind && r.roles.contains(&role.kind));
        let any = || {
            rig.radios
                .iter()
                .enumerate()
                .position(|(i, r)| !taken[i] && r.kind == kind)
        };
        match hinted.or_else(any) {
            Some(i) => {
                taken[i] = true;
                out.push(i);
            }
            None => return Err(shortfall(scenario, rig)),
        }
    }
    Ok(out)
}

/// "needs 3 ble radios, the rig 'bench-1' has 2".
fn shortfall(scenario: &HilScenario, rig: &Rig) -> String {
    let parts: Vec<String> = scenario
        .needs()
        .into_iter()
        .filter_map(|(kind, n)| {
            let have = count(rig, kind);
            (have < n).then(|| {
                format!(
                    "{n} {} radios, the rig '{}' has {have}",
                    kind.as_str(),
                    rig.name
                )
            })
        })
        .collect();
    format!("needs {}", parts.join("; "))
}

fn count(rig: &Rig, kind: RadioKind) -> usize {
    rig.radios.iter().filter(|r| r.kind == kind).count()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scenario(kinds: &[&str]) -> HilScenario {
        let mut t = String::from("name = \"t\"\n");
        for (i, k) in kinds.iter().enumerate() {
            t += &format!("[[role]]\nname = \"r{i}\"\nkind = \"{k}\"\n");
        }
        HilScenario::parse("t.toml", &t).unwrap()
    }

    #[test]
    fn in_order_hints_first_and_skips_with_the_reason() {
        let rig = Rig::parse(
            "r.toml",
            "name = \"bench\"\n[[radio]]\nid = \"a\"\nuri = \"hci-user:hci0\"\n[[radio]]\nid = \"b\"\nuri = \"hci-user:hci1\"\nroles = [\"provisioner\"]\n[[radio]]\nid = \"c\"\nuri = \"spinel:/dev/ttyACM0\"\n",
        )
        .unwrap();
        assert_eq!(
            map(&scenario(&["node", "provisioner"]), &rig),
            Ok(vec![0, 1])
        );
        assert_eq!(
            map(&scenario(&["provisioner", "node"]), &rig),
            Ok(vec![1, 0])
        );
        assert_eq!(
            map(&scenario(&["thread-router", "node"]), &rig),
            Ok(vec![2, 0])
        );
        assert_eq!(
            map(&scenario(&["node", "node", "node"]), &rig),
            Err("needs 3 ble radios, the rig 'bench' has 2".into())
        );
        for s in HilScenario::builtin() {
            assert!(
                map(&s, &Rig::sim()).is_ok(),
                "{} fits the built-in rig",
                s.name
            );
        }
    }
}
