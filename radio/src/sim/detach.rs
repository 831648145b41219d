//! Taking a node off the air, so that a long-running medium (the live hub, where processes come
//! and go) can reuse its slot instead of growing.

use super::{NodeId, Simulator};
use weft_mesh::{Instant, Station};

impl<S: Station> Simulator<S> {
    /// Takes `id` off the air: its explicit links in both directions and its placement go (so
    /// it hears nobody and nobody hears it), its queued advertising data is dropped, and the
    /// rest of an advertising event it has in flight reaches nobody. Its timer is forgotten.
    ///
    /// Node ids are indices, so the node itself stays: the slot can be given a new station
    /// with [`Simulator::node_mut`] and new links with [`Simulator::set_link`] (its next
    /// advertising event waits for the end of one still in flight). Until then the old station
    /// is only called again through `node_mut` or a [`Simulator::schedule`]d command.
    /// Costs O(explicit links) and draws nothing from the medium's generator. Panics if `id` is
    /// not a node of this simulator.
    pub fn detach_node(&mut self, id: NodeId) {
        let n = id.0;
        let st = &mut self.states[id.index()];
        st.pos = None;
        st.wake = None;
        st.tx_queue.clear();
        st.tx_from = Instant::ZERO;
        st.tx_until = Instant::ZERO;
        for slot in self.txs.iter_mut().flatten() {
            if slot.node == n {
                slot.silent = true;
            }
        }
        self.links.retain(|&(from, to), _| from != n && to != n);
        self.topology_dirty = true;
        self.gatt_detach(n);
    }

    /// How many advertising data `id` has queued for the radio and not yet started sending
    /// (the event in flight, if any, not counted). Panics if `id` is not a node.
    pub fn tx_backlog(&self, id: NodeId) -> usize {
        self.states[id.index()].tx_queue.len()
    }

    /// Whether `id` has nothing to send: no advertising data queued and no advertising event
    /// in flight or about to start. Panics if `id` is not a node.
    pub fn tx_idle(&self, id: NodeId) -> bool {
        let st = &self.states[id.index()];
        !st.tx_busy && st.tx_queue.is_empty()
    }
}
