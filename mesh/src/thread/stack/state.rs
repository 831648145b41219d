//! What a Thread node must keep across a restart: its credentials (the Active Operational
//! Dataset, Thread 1.3 §8.10.1), its extended address and ML-EID, the key sequence, and the
//! MAC and MLE frame counters reserved ahead of use.
//!
//! Frame counters are never reused under one key (IEEE 802.15.4-2015 §9.2.2: the nonce is the
//! sender's extended address, frame counter and security level; a repeated counter under the
//! same key repeats a CCM* nonce). A node reserves them in blocks, as the Bluetooth Mesh node
//! reserves sequence numbers (`crate::ble::node`, `SEQ_BLOCK`): the reservation is raised and
//! persisted (an [`super::Event::PersistState`]) before any counter of the block is used, and a
//! restored node starts at the reservation. The runtime's loop drains `poll_event` (persisting
//! on `PersistState`) before `poll_transmit`, so no frame with a counter beyond the persisted
//! reservation reaches the air. OpenThread does the same with
//! `OPENTHREAD_CONFIG_STORE_FRAME_COUNTER_AHEAD` (1000, checked in its source).

use serde::{Deserialize, Serialize};

use crate::thread::dataset::{ActiveDataset, Channel, DatasetHexError};
use crate::thread::mac::ExtAddress;

/// Frame counters are reserved this many at a time (OpenThread's store-ahead, 1000).
pub const FRAME_COUNTER_BLOCK: u32 = 1000;

/// The network credentials a node needs to attach: the fields of an Active Operational Dataset
/// (Thread 1.3 §8.10.1) it uses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Credentials {
    pub network_key: [u8; 16],
    pub pan_id: u16,
    pub extended_pan_id: [u8; 8],
    /// 11..=26 (channel page 0).
    pub channel: u8,
    pub mesh_local_prefix: [u8; 8],
    pub network_name: String,
    pub pskc: Option<[u8; 16]>,
    /// The dataset as given, so that it is written back whole (with the TLVs this node does
    /// not use: Active Timestamp, Channel Mask, Security Policy, unknown ones).
    pub dataset: ActiveDataset,
}

/// Why a dataset cannot be used.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum CredentialsError {
    #[error("dataset hex: {0}")]
    Hex(#[from] DatasetHexError),
    #[error("the dataset lacks {0:?}")]
    Missing(Vec<&'static str>),
    #[error("channel {0} is not a channel of page 0 (11..=26)")]
    Channel(u16),
}

impl Credentials {
    /// The credentials of an Active Operational Dataset; every field a node needs to attach
    /// must be there ([`ActiveDataset::missing_for_attach`]).
    pub fn from_dataset(ds: &ActiveDataset) -> Result<Self, CredentialsError> {
        let missing = ds.missing_for_attach();
        let (
            Some(network_key),
            Some(pan_id),
            Some(Channel { page, number }),
            Some(extended_pan_id),
            Some(mesh_local_prefix),
            Some(network_name),
        ) = (
            ds.network_key,
            ds.pan_id,
            ds.channel,
            ds.extended_pan_id,
            ds.mesh_local_prefix,
            ds.network_name.clone(),
        )
        else {
            return Err(CredentialsError::Missing(missing));
        };
        if page != 0 || !(11..=26).contains(&number) {
            return Err(CredentialsError::Channel(number));
        }
        Ok(Credentials {
            network_key,
            pan_id,
            extended_pan_id,
            channel: number as u8,
            mesh_local_prefix,
            network_name,
            pskc: ds.pskc,
            dataset: ds.clone(),
        })
    }

    /// From the hex `ot-ctl dataset active -x` prints.
    pub fn from_hex(s: &str) -> Result<Self, CredentialsError> {
        Self::from_dataset(&ActiveDataset::from_hex(s)?)
    }

    /// The dataset back, as `ot-ctl dataset set active <hex>` takes it.
    pub fn to_hex(&self) -> String {
        self.dataset.to_hex()
    }
}

/// Everything a node must remember across a restart.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ThreadState {
    /// The Active Operational Dataset, as OpenThread's `dataset active -x` prints it.
    pub dataset_hex: String,
    /// The node's IEEE extended address (chosen at random when the dataset is first given:
    /// Thread 1.3 §8.4.1; kept so that neighbours' replay tables still know it).
    pub ext_address: [u8; 8],
    /// The interface identifier of the mesh-local EID (Thread 1.3 §5.2.1.1, random).
    pub ml_eid_iid: [u8; 8],
    /// The current key sequence (Thread 1.3 §7.1.2); the counters below belong to it.
    pub key_sequence: u32,
    /// Every MAC frame counter below this may have been used under `key_sequence`.
    pub mac_frame_counter_reserved: u32,
    /// Every MLE frame counter below this may have been used under `key_sequence`.
    pub mle_frame_counter_reserved: u32,
    /// The RLOC16 last held, offered again when re-attaching (Thread 1.3 §4.7.3, the Address
    /// Solicit's RLOC16 TLV); `None` before the first attach.
    pub last_rloc16: Option<u16>,
}

impl ThreadState {
    /// A fresh state for `creds`, with a random extended address and ML-EID.
    pub fn new(creds: &Credentials, rng: &mut impl rand_core::RngCore) -> Self {
        let mut ext = [0u8; 8];
        rng.fill_bytes(&mut ext);
        // A random extended address is locally administered (IEEE 802: U/L bit set) and
        // unicast.
        ext[0] = (ext[0] | 0x02) & !0x01;
        ThreadState {
            dataset_hex: creds.to_hex(),
            ext_address: ext,
            ml_eid_iid: crate::thread::ip::addr::random_iid(rng),
            key_sequence: 0,
            mac_frame_counter_reserved: 0,
            mle_frame_counter_reserved: 0,
            last_rloc16: None,
        }
    }

    pub fn ext(&self) -> ExtAddress {
        ExtAddress(self.ext_address)
    }
}

/// The MAC and MLE frame counters of a running node, reserved ahead in the persisted state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FrameCounters {
    pub next_mac: u32,
    pub next_mle: u32,
}

/// Which counter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CounterKind {
    Mac,
    Mle,
}

impl FrameCounters {
    /// A restored node resumes at the reservations.
    pub fn restore(state: &ThreadState) -> Self {
        FrameCounters {
            next_mac: state.mac_frame_counter_reserved,
            next_mle: state.mle_frame_counter_reserved,
        }
    }

    /// The next counter of `kind`, raising the reservation first when half of it is used
    /// (returns whether it was raised: the state must be persisted before the counter goes
    /// on the air). `None` when the counter space of this key sequence is spent (a node then
    /// waits for the next key sequence; Thread 1.3 §7.1.2).
    pub fn alloc(&mut self, kind: CounterKind, state: &mut ThreadState) -> Option<(u32, bool)> {
        let (next, reserved) = match kind {
            CounterKind::Mac => (&mut self.next_mac, &mut state.mac_frame_counter_reserved),
            CounterKind::Mle => (&mut self.next_mle, &mut state.mle_frame_counter_reserved),
        };
        if *next == u32::MAX {
            return None;
        }
        let mut raised = false;
        if next.saturating_add(FRAME_COUNTER_BLOCK / 2) >= *reserved {
            *reserved = next.saturating_add(FRAME_COUNTER_BLOCK);
            raised = true;
        }
        let c = *next;
        *next += 1;
        Some((c, raised))
    }

    /// A new key sequence starts both counters at 0 (OpenThread `KeyManager::SetCurrentKeySequence`;
    /// the nonce's key differs, so counters restart).
    pub fn key_sequence_changed(&mut self, state: &mut ThreadState, key_sequence: u32) {
        state.key_sequence = key_sequence;
        state.mac_frame_counter_reserved = FRAME_COUNTER_BLOCK;
        state.mle_frame_counter_reserved = FRAME_COUNTER_BLOCK;
        self.next_mac = 0;
        self.next_mle = 0;
    }

    /// Gives back what was reserved and not used (a clean stop): the next process resumes at
    /// the exact next counter.
    pub fn release(&self, state: &mut ThreadState) {
        state.mac_frame_counter_reserved = self.next_mac;
        state.mle_frame_counter_reserved = self.next_mle;
    }
}
