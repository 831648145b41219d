//! `weft net`: create, show, export and import the network (the Mesh Configuration Database
//! and weft's own state, kept sealed in the local store; see [`crate::store`]).

use std::io::Write;
use std::path::PathBuf;

use rand_core::{OsRng, RngCore};
use weft_mesh::ble::address::{IvIndex, UnicastAddress};
use weft_mesh::ble::cdb::{
    Cdb, CdbAppKey, CdbNetKey, CdbNode, CdbProvisioner, CdbRange, CdbSceneRange, Hex16, HexKey,
    Security, Uuid,
};
use weft_mesh::ble::node::state::{AppKeyState, KeyRefreshPhase, NetKeyState};
use weft_mesh::ble::node::{ElementState, ModelId, ModelState, NodeState};

use crate::error::{Failure, Result};
use crate::store::{write_atomic, NetState, Secret, Store, StoreOpts};
use crate::Exit;

/// Name of the provisioner (and its node) that weft adds to a network for itself.
pub const LOCAL_PROVISIONER_NAME: &str = "weft";
/// Size of the unicast range weft allocates to its provisioner (MshPRT §3.4.2.2 addresses).
pub const UNICAST_BLOCK: u16 = 0x2000;
/// Size of the group range weft allocates to its provisioner (§3.4.2.4).
pub const GROUP_BLOCK: u16 = 0x1000;
/// Size of the scene number range weft allocates to its provisioner (MshMDL §5.1.3.1).
pub const SCENE_BLOCK: u16 = 0x1000;

/// Arguments of `weft net`.
#[derive(Debug, Clone, clap::Args)]
#[command(
    after_help = "Examples:\n  weft net create --name Home\n  weft net show\n  weft net export --cdb home.json      (nRF Mesh and BlueZ mesh-cfgclient read it)\n  weft net import --cdb nrf-export.json --net /tmp/lab.weft --passphrase-env WEFT_PASS"
)]
pub struct NetArgs {
    #[command(flatten)]
    pub store: StoreOpts,
    #[command(subcommand)]
    pub cmd: NetCmd,
}

/// The `weft net` subcommands.
#[derive(Debug, Clone, clap::Subcommand)]
pub enum NetCmd {
    /// Create a fresh network: random network and application keys (index 0), IV index 0, and
    /// weft as its provisioner.
    Create {
        /// The network's name.
        #[arg(long, default_value = "weft network")]
        name: String,
        /// Replace an existing store (only one that opens with the given secret).
        #[arg(long)]
        force: bool,
    },
    /// Summarise the network; --json prints the Mesh Configuration Database.
    Show {
        /// Print the CDB JSON instead of a summary.
        #[arg(long)]
        json: bool,
    },
    /// Write the network as a Mesh Configuration Database (CDB 1.0.1) JSON file (mode 0600:
    /// it holds the keys). `-` writes to standard output.
    Export {
        /// The file to write.
        #[arg(long, value_name = "FILE")]
        cdb: PathBuf,
    },
    /// Read a Mesh Configuration Database JSON file (nRF Mesh, BlueZ mesh-cfgclient or weft
    /// export) into a new store.
    Import {
        /// The file to read.
        #[arg(long, value_name = "FILE")]
        cdb: PathBuf,
        /// Replace an existing store (only one that opens with the given secret).
        #[arg(long)]
        force: bool,
    },
}

/// Runs `weft net`, writing its output to `out`.
pub fn run(a: &NetArgs, out: &mut impl Write) -> Result<Exit> {
    let store = Store::from_opts(&a.store)?;
    // Creating or importing replaces the store: not while another process holds it.
    let _lock = match &a.cmd {
        NetCmd::Create { .. } | NetCmd::Import { .. } => Some(store.lock()?),
        _ => None,
    };
    match &a.cmd {
        NetCmd::Create { name, force } => {
            let state = new_network(name, &mut OsRng, &now_rfc3339());
            store.create(&state, *force)?;
            let _ = writeln!(
                out,
                "created network \"{name}\" ({}) in {}, sealed with {}",
                state.cdb.mesh_uuid,
                store.path.display(),
                describe_secret(&store.secret)
            );
            Ok(Exit::Ok)
        }
        NetCmd::Show { json } => {
            let state = store.load()?;
            if let Err(e) = state.cdb.validate() {
                eprintln!(
                    "weft net: warning: the network database is inconsistent ({e}); weft will not save it as it is: export it (weft net export --cdb FILE), mend the file and import it (weft net import --cdb FILE --force)"
                );
            }
            if *json {
                let _ = writeln!(out, "{}", export_cdb(&state).to_json());
            } else {
                let _ = write!(out, "{}", summary(&state, &store));
            }
            Ok(Exit::Ok)
        }
        NetCmd::Export { cdb } => {
            let state = store.load()?;
            let mut text = export_cdb(&state).to_json();
            text.push('\n');
            if cdb.as_os_str() == "-" {
                let _ = out.write_all(text.as_bytes());
            } else {
                write_atomic(cdb, text.as_bytes())?;
            }
            Ok(Exit::Ok)
        }
        NetCmd::Import { cdb, force } => {
            let text = crate::files::read_to_string(cdb, crate::files::CDB)?;
            let (state, notes) = import_cdb(&text, &mut OsRng, &now_rfc3339())
                .map_err(|e| Failure::new(Exit::Usage, format!("{}: {e}", cdb.display())))?;
            store.create(&state, *force)?;
            for n in notes {
                eprintln!("weft net import: {n}");
            }
            let _ = writeln!(
                out,
                "imported network \"{}\" ({} nodes) into {}, sealed with {}",
                state.cdb.mesh_name,
                state.cdb.nodes.len(),
                store.path.display(),
                describe_secret(&store.secret)
            );
            Ok(Exit::Ok)
        }
    }
}

fn describe_secret(s: &Secret) -> String {
    match s {
        Secret::Passphrase(_) => "a passphrase".into(),
        Secret::KeyFile(p) => format!("the key file {}", p.display()),
    }
}

/// A fresh network: random mesh UUID, network key (index 0) and application key (index 0,
/// bound to it), IV index 0, and weft's provisioner with its node.
pub fn new_network(name: &str, rng: &mut impl RngCore, timestamp: &str) -> NetState {
    let mut cdb = Cdb::new(random_uuid(rng), name, timestamp);
    cdb.net_keys.push(CdbNetKey {
        name: "Network Key 0".into(),
        index: 0,
        key: HexKey(random16(rng)),
        old_key: None,
        phase: 0,
        min_security: Security::Secure,
        timestamp: timestamp.into(),
    });
    cdb.app_keys.push(CdbAppKey {
        name: "Application Key 0".into(),
        index: 0,
        bound_net_key: 0,
        key: HexKey(random16(rng)),
        old_key: None,
    });
    let mut state = NetState {
        cdb,
        iv_index: 0,
        iv_update: false,
        local: None,
        rpl: None,
        iv_state_since: None,
    };
    // A network with a network key always has room for weft's provisioner.
    let _ = ensure_local_provisioner(&mut state, rng, timestamp);
    state
}

/// Reads a CDB document into a network state: the IV index from BlueZ's `ivIndex` extension
/// (0 if absent), and weft's provisioner, added if the document has none (a provisioner
/// named [`LOCAL_PROVISIONER_NAME`] with a node of the same UUID).
pub fn import_cdb(
    text: &str,
    rng: &mut impl RngCore,
    timestamp: &str,
) -> Result<(NetState, Vec<String>), String> {
    let mut cdb = Cdb::from_json(text).map_err(|e| e.to_string())?;
    // weft keeps (and writes) the database in the 1.0.1 form whatever version it was read in.
    let fresh = Cdb::new([0; 16], "", "");
    (cdb.schema, cdb.id, cdb.version) = (fresh.schema, fresh.id, fresh.version);
    let iv_index = cdb.iv_index.take().unwrap_or(0);
    let iv_update = cdb.iv_update.take().unwrap_or(false);
    let mut state = NetState {
        cdb,
        iv_index,
        iv_update,
        local: None,
        rpl: None,
        iv_state_since: None,
    };
    let notes = ensure_local_provisioner(&mut state, rng, timestamp)?;
    Ok((state, notes))
}

/// The CDB to export: the database with the IV index written as BlueZ's extension.
pub fn export_cdb(state: &NetState) -> Cdb {
    let mut cdb = state.cdb.clone();
    cdb.iv_index = Some(state.iv_index);
    cdb.iv_update = Some(state.iv_update);
    // weft's own node carries its sequence number reservation, so that importing this file
    // again goes on from there instead of reusing sequence numbers (MshPRT §3.4.6.4).
    if let Some(local) = &state.local {
        if let Some(n) = cdb.node_mut(local.primary.get()) {
            n.sequence_number = Some(local.seq_reserved);
        }
    }
    cdb
}

/// Makes sure weft has a provisioner and a node in the network: finds it (a provisioner named
/// [`LOCAL_PROVISIONER_NAME`] whose UUID is a node's with a device key) or adds one, with
/// unicast, group and scene ranges no other provisioner holds, and its node at the first
/// address of its unicast range. Sets `state.local` to the node's state.
pub fn ensure_local_provisioner(
    state: &mut NetState,
    rng: &mut impl RngCore,
    timestamp: &str,
) -> Result<Vec<String>, String> {
    let iv = IvIndex(state.iv_index);
    let cdb = &mut state.cdb;
    let mut notes = Vec::new();
    if let Some(p) = cdb
        .provisioners
        .iter()
        .filter(|p| p.provisioner_name == LOCAL_PROVISIONER_NAME)
        .find(|p| {
            cdb.node_by_uuid(&p.uuid.0)
                .is_some_and(|n| n.device_key.is_some())
        })
        .cloned()
    {
        let Some(i) = cdb.nodes.iter().position(|n| n.uuid == p.uuid) else {
            return Err("weft's node vanished from the database".into());
        };
        if cdb.nodes[i].sequence_number.is_none() {
            // Which sequence numbers the node used at this address is unknown (the file was
            // not written by weft, or went through a tool that drops the extension): it moves
            // to a fresh address of its range, where every sequence number is new to the
            // other nodes' replay protection (MshPRT §3.9.8), and the old one is excluded.
            let old = cdb.nodes[i].unicast_address.0;
            let free = cdb
                .free_unicast_in(&p.allocated_unicast_range, old, state.iv_index)
                .ok_or("weft's node has no sequence number in the file and its address range has no free address to move it to")?;
            let node = &mut cdb.nodes[i];
            node.unicast_address = Hex16(free);
            node.elements.truncate(1);
            cdb.exclude([old], state.iv_index);
            notes.push(format!(
                "weft's node moved from {old:04x} to {free:04x}: the file does not say which sequence numbers it used at {old:04x}"
            ));
        }
        let node = &cdb.nodes[i];
        let mut s = cdb.node_state(node, iv).map_err(|e| e.to_string())?;
        s.iv_update = state.iv_update;
        // The store keeps the reservation in the node state, not in the database.
        cdb.nodes[i].sequence_number = None;
        state.local = Some(s);
        return Ok(notes);
    }
    if cdb.net_keys.is_empty() {
        return Err("the network has no network key: weft cannot join it".into());
    }
    let unicast = match cdb.free_unicast_block(UNICAST_BLOCK) {
        Some(b) => b,
        None => cdb
            .shrink_for_block(UNICAST_BLOCK)
            .ok_or("no unicast addresses are left for weft's provisioner")?,
    };
    let groups = cdb.free_group_block(GROUP_BLOCK);
    let scenes = cdb.free_scene_block(SCENE_BLOCK);
    let uuid = random_uuid(rng);
    cdb.provisioners.push(CdbProvisioner {
        provisioner_name: LOCAL_PROVISIONER_NAME.into(),
        uuid: Uuid(uuid),
        allocated_unicast_range: vec![CdbRange {
            low_address: Hex16(unicast.0),
            high_address: Hex16(unicast.1),
        }],
        allocated_group_range: groups
            .map(|(lo, hi)| CdbRange {
                low_address: Hex16(lo),
                high_address: Hex16(hi),
            })
            .into_iter()
            .collect(),
        allocated_scene_range: scenes
            .map(|(lo, hi)| CdbSceneRange {
                first_scene: Hex16(lo),
                last_scene: Hex16(hi),
            })
            .into_iter()
            .collect(),
    });
    let primary = UnicastAddress::new(unicast.0).ok_or("no unicast address for weft's node")?;
    let mut s = NodeState::new(
        uuid,
        primary,
        random16(rng),
        [0; 16],
        iv,
        vec![local_element(cdb)],
    );
    s.iv_update = state.iv_update;
    s.net_keys = cdb
        .net_keys
        .iter()
        .map(|k| {
            let phase = match k.phase {
                1 => KeyRefreshPhase::First,
                2 => KeyRefreshPhase::Second,
                _ => KeyRefreshPhase::Normal,
            };
            let (key, new_key) = match (phase, k.old_key) {
                (KeyRefreshPhase::Normal, _) | (_, None) => (k.key.0, None),
                (_, Some(old)) => (old.0, Some(k.key.0)),
            };
            NetKeyState {
                index: k.index,
                key,
                new_key,
                phase,
            }
        })
        .collect();
    s.app_keys = cdb
        .app_keys
        .iter()
        .map(|k| AppKeyState {
            index: k.index,
            net_index: k.bound_net_key,
            key: k.old_key.unwrap_or(k.key).0,
            new_key: k.old_key.map(|_| k.key.0),
        })
        .collect();
    cdb.nodes.push(CdbNode::from_node_state(
        &s,
        Some(LOCAL_PROVISIONER_NAME.into()),
    ));
    cdb.timestamp = timestamp.into();
    state.local = Some(s);
    Ok(notes)
}

/// weft's own element: Configuration Server and the clients it drives, the clients bound to
/// every application key.
fn local_element(cdb: &Cdb) -> ElementState {
    let apps: Vec<u16> = cdb.app_keys.iter().map(|k| k.index).collect();
    let model = |id: ModelId, bound: bool| {
        let mut m = ModelState::new(id);
        if bound {
            m.app_keys = apps.clone();
        }
        m
    };
    ElementState {
        location: 0x0000,
        models: vec![
            model(ModelId::CONFIG_SERVER, false),
            model(ModelId::CONFIG_CLIENT, false),
            model(ModelId::HEALTH_CLIENT, true),
            model(ModelId::GENERIC_ONOFF_CLIENT, true),
            model(ModelId::GENERIC_LEVEL_CLIENT, true),
            model(ModelId::SENSOR_CLIENT, true),
        ],
    }
}

fn random16(rng: &mut impl RngCore) -> [u8; 16] {
    let mut b = [0u8; 16];
    rng.fill_bytes(&mut b);
    b
}

/// A random (version 4) UUID.
fn random_uuid(rng: &mut impl RngCore) -> [u8; 16] {
    let mut u = random16(rng);
    u[6] = (u[6] & 0x0F) | 0x40;
    u[8] = (u[8] & 0x3F) | 0x80;
    u
}

/// The current UTC time in RFC 3339 (`2024-05-06T07:08:09Z`).
pub fn now_rfc3339() -> String {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    rfc3339(secs)
}

fn rfc3339(secs: u64) -> String {
    let days = (secs / 86_400) as i64;
    let rem = secs % 86_400;
    // Civil date from days since 1970-01-01 (H. Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// The human summary of `weft net show`.
pub fn summary(state: &NetState, store: &Store) -> String {
    use std::fmt::Write as _;
    let c = &state.cdb;
    let mut s = String::new();
    let _ = writeln!(s, "Network     {} ({})", c.mesh_name, c.mesh_uuid);
    let _ = writeln!(
        s,
        "IV index    {}{}",
        state.iv_index,
        if state.iv_update {
            " (update in progress)"
        } else {
            ""
        }
    );
    let _ = writeln!(
        s,
        "Store       {} (sealed with {})",
        store.path.display(),
        describe_secret(&store.secret)
    );
    let _ = writeln!(s, "Net keys    {}", c.net_keys.len());
    for k in &c.net_keys {
        let _ = writeln!(
            s,
            "  {:>4}  {}  phase {}  {}",
            k.index,
            hex::encode_upper(k.key.0),
            k.phase,
            k.name
        );
    }
    let _ = writeln!(s, "App keys    {}", c.app_keys.len());
    for k in &c.app_keys {
        let _ = writeln!(
            s,
            "  {:>4}  {}  net key {}  {}",
            k.index,
            hex::encode_upper(k.key.0),
            k.bound_net_key,
            k.name
        );
    }
    let _ = writeln!(s, "Provisioners {}", c.provisioners.len());
    for p in &c.provisioners {
        let ranges = |r: &[CdbRange]| {
            r.iter()
                .map(|r| format!("{:04X}-{:04X}", r.low_address.0, r.high_address.0))
                .collect::<Vec<_>>()
                .join(",")
        };
        let _ = writeln!(
            s,
            "  {}  unicast {}  groups {}",
            p.provisioner_name,
            ranges(&p.allocated_unicast_range),
            ranges(&p.allocated_group_range)
        );
    }
    let _ = writeln!(s, "Nodes       {}", c.nodes.len());
    for n in &c.nodes {
        let local = state.local.as_ref().is_some_and(|l| l.uuid == n.uuid.0);
        let _ = writeln!(
            s,
            "  {:04X}  {:<16} {} element(s)  {}{}",
            n.unicast_address.0,
            n.name.as_deref().unwrap_or("-"),
            n.elements.len(),
            n.uuid,
            if local { "  (this host)" } else { "" }
        );
    }
    let _ = writeln!(s, "Groups      {}", c.groups.len());
    for g in &c.groups {
        let _ = writeln!(s, "  {:04X}  {}", g.address.address().0, g.name);
    }
    if let Some(l) = &state.local {
        let _ = writeln!(s, "Sequence    reserved up to {:06X}", l.seq_reserved);
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand_chacha::rand_core::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    #[test]
    fn rfc3339_known_dates() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(951_782_400), "2000-02-29T00:00:00Z");
        assert_eq!(rfc3339(1_715_000_000), "2024-05-06T12:53:20Z");
    }

    #[test]
    fn new_network_is_valid_and_has_weft_provisioner() {
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        let s = new_network("Home", &mut rng, "2024-01-01T00:00:00Z");
        s.cdb.validate().unwrap();
        let local = s.local.as_ref().unwrap();
        assert_eq!(local.primary.get(), 0x0001);
        assert_eq!(
            s.cdb.provisioners[0].allocated_unicast_range[0].high_address,
            Hex16(0x2000)
        );
        assert_eq!(local.net_keys[0].key, s.cdb.net_keys[0].key.0);
        assert_eq!(local.app_keys[0].key, s.cdb.app_keys[0].key.0);
        // The node in the CDB reads back to the same state.
        assert_eq!(
            &s.cdb.node_state(&s.cdb.nodes[0], IvIndex(0)).unwrap(),
            local
        );
        // Importing its export finds the provisioner again instead of adding one.
        let (again, notes) = import_cdb(&export_cdb(&s).to_json(), &mut rng, "later").unwrap();
        assert!(notes.is_empty(), "{notes:?}");
        assert_eq!(again, s);
    }
}
