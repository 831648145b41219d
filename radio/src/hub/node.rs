//! The hub's simulator nodes: a scenario's own stations and the connected processes
//! ([`RemoteNode`]), side by side as one station type.

use std::collections::VecDeque;

use crate::{Bearer, Connectable, Instant, LinkEvent, LinkRequest, RxFrame, Station, TxFrame};

/// A node of the hub's simulator: a local station (a scenario's node) or a connected process.
#[derive(Debug)]
pub enum HubNode<S> {
    Local(S),
    Remote(RemoteNode),
}

/// Frames a [`RemoteNode`] holds for the simulator at most; the hub keeps the rest of what a
/// process asks to send in a queue of its own and feeds the simulator as the air takes them.
pub const REMOTE_OUTBOX: usize = 4;

/// Frames heard for a process that a [`RemoteNode`] holds at most until the hub forwards them;
/// past that the oldest is dropped (and counted), as a radio whose host stops reading would.
pub const REMOTE_INBOX: usize = 1024;

/// What a process is to be told, in the order it happened.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Heard {
    /// Advertising data heard: channel, RSSI, time, the transmitter's advertiser address
    /// (least significant octet first) and the data.
    Adv(u8, i8, Instant, [u8; 6], Vec<u8>),
    /// An ATT value on one of its GATT connections.
    Gatt {
        conn: u16,
        at: Instant,
        bytes: Vec<u8>,
    },
    /// What happened to one of its GATT connections.
    Link(LinkEvent),
}

/// A connected process as a station: what it sends goes on the air, what the air delivers to it
/// waits in a bounded inbox for the hub to forward.
#[derive(Debug, Default)]
pub struct RemoteNode {
    /// Frames the process asked to send, at most [`REMOTE_OUTBOX`].
    outbox: VecDeque<TxFrame>,
    /// Connections it asked to open or close (bounded by the hub's queue of its messages).
    requests: VecDeque<LinkRequest>,
    /// The service it accepts connections for, and its advertising data.
    connectable: Option<Connectable>,
    /// Frames heard, for the process, at most [`REMOTE_INBOX`].
    inbox: VecDeque<Heard>,
    /// Frames heard that the inbox had no room for.
    dropped_heard: u64,
}

impl RemoteNode {
    /// A node with nothing to send and nothing heard.
    pub fn new() -> Self {
        RemoteNode::default()
    }

    /// Queues advertising data for the air; false (and nothing queued) when
    /// [`REMOTE_OUTBOX`] frames already wait.
    pub fn push_tx(&mut self, bytes: Vec<u8>) -> bool {
        self.push_frame(TxFrame {
            bearer: Bearer::Advertising,
            bytes,
        })
    }

    /// Queues a frame (advertising data, or a value on a GATT connection); false (and nothing
    /// queued) when [`REMOTE_OUTBOX`] frames already wait.
    pub fn push_frame(&mut self, frame: TxFrame) -> bool {
        if self.outbox.len() >= REMOTE_OUTBOX {
            return false;
        }
        self.outbox.push_back(frame);
        true
    }

    /// A connection to open or close, for the simulator.
    pub fn push_request(&mut self, request: LinkRequest) {
        self.requests.push_back(request);
    }

    /// The service the process accepts connections for, and the advertising data it
    /// advertises it with (empty: the hub connects to it but puts nothing on the air).
    pub fn set_connectable(&mut self, connectable: Option<Connectable>) {
        self.connectable = connectable;
    }

    fn hear(&mut self, h: Heard) {
        if self.inbox.len() >= REMOTE_INBOX {
            self.inbox.pop_front();
            self.dropped_heard += 1;
        }
        self.inbox.push_back(h);
    }

    /// Frames waiting to be handed to the simulator.
    pub fn outbox_len(&self) -> usize {
        self.outbox.len()
    }

    /// The oldest frame heard and not yet forwarded.
    pub fn pop_heard(&mut self) -> Option<Heard> {
        self.inbox.pop_front()
    }

    /// Frames heard that were dropped because the inbox was full.
    pub fn dropped_heard(&self) -> u64 {
        self.dropped_heard
    }
}

impl<S: Station> Station for HubNode<S> {
    type Event = S::Event;

    fn handle_frame(&mut self, now: Instant, frame: &RxFrame) {
        match self {
            HubNode::Local(s) => s.handle_frame(now, frame),
            HubNode::Remote(r) => {
                let h = match frame.bearer {
                    Bearer::Gatt(conn) => Heard::Gatt {
                        conn: conn.0,
                        at: now,
                        bytes: frame.bytes.clone(),
                    },
                    _ => Heard::Adv(
                        frame.channel,
                        frame.rssi.unwrap_or(-60),
                        now,
                        frame.adv_address.unwrap_or_default(),
                        frame.bytes.clone(),
                    ),
                };
                r.hear(h);
            }
        }
    }

    fn poll_transmit(&mut self, now: Instant) -> Option<TxFrame> {
        match self {
            HubNode::Local(s) => s.poll_transmit(now),
            HubNode::Remote(r) => r.outbox.pop_front(),
        }
    }

    fn poll_event(&mut self) -> Option<S::Event> {
        match self {
            HubNode::Local(s) => s.poll_event(),
            HubNode::Remote(_) => None,
        }
    }

    fn poll_timeout(&self) -> Option<Instant> {
        match self {
            HubNode::Local(s) => s.poll_timeout(),
            HubNode::Remote(_) => None,
        }
    }

    fn handle_timeout(&mut self, now: Instant) {
        if let HubNode::Local(s) = self {
            s.handle_timeout(now)
        }
    }

    /// GATT connections: a scenario's stations and the processes connect to each other; what
    /// happens to a process's connections waits in its inbox in order with its frames.
    fn handle_link(&mut self, now: Instant, event: &LinkEvent) {
        match self {
            HubNode::Local(s) => s.handle_link(now, event),
            HubNode::Remote(r) => r.hear(Heard::Link(event.clone())),
        }
    }

    fn poll_link(&mut self) -> Option<LinkRequest> {
        match self {
            HubNode::Local(s) => s.poll_link(),
            HubNode::Remote(r) => r.requests.pop_front(),
        }
    }

    fn connectable(&mut self, now: Instant) -> Option<Connectable> {
        match self {
            HubNode::Local(s) => s.connectable(now),
            HubNode::Remote(r) => r.connectable.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    // A local station that does nothing: the tests only use remote nodes.
    use crate::sim::tests::Stuck;

    #[test]
    fn a_remote_node_holds_a_bounded_number_of_frames_and_counts_the_rest() {
        let mut r = HubNode::<Stuck>::Remote(RemoteNode::new());
        let HubNode::Remote(node) = &mut r else {
            unreachable!()
        };
        for i in 0..REMOTE_OUTBOX {
            assert!(node.push_tx(vec![i as u8]));
        }
        assert!(!node.push_tx(vec![0xff]));
        assert_eq!(node.outbox_len(), REMOTE_OUTBOX);
        let frame = RxFrame {
            lqi: None,
            bearer: Bearer::Advertising,
            channel: 37,
            rssi: Some(-50),
            timestamp: Instant::ZERO,
            adv_address: Some([1, 2, 3, 4, 5, 0xc6]),
            bytes: vec![1],
        };
        for i in 0..REMOTE_INBOX as u64 + 10 {
            r.handle_frame(Instant::from_micros(i), &frame);
        }
        let mut sent = 0;
        while r.poll_transmit(Instant::ZERO).is_some() {
            sent += 1;
        }
        assert_eq!(sent, REMOTE_OUTBOX);
        let HubNode::Remote(node) = &mut r else {
            unreachable!()
        };
        assert_eq!(node.dropped_heard(), 10);
        // The oldest went first.
        assert!(
            matches!(node.pop_heard(), Some(Heard::Adv(_, _, t, _, _)) if t == Instant::from_micros(10))
        );
    }
}
