//! The inspector's key bindings: one table, from which both the key handling and the help
//! screen come.

use ratatui::crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

/// What a key does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    Quit,
    Help,
    Pause,
    Filter,
    Up,
    Down,
    Top,
    Bottom,
    ScrollBack,
    ScrollForward,
    Follow,
    NextTab,
    Detail,
    Stats,
    Unprovisioned,
    Target,
    OnOff,
    LevelUp,
    LevelDown,
    Capture,
    Marker,
    Provision,
    Configure,
    Escape,
    /// The Bluetooth Mesh tab, the Thread tab, the other one.
    MeshTab,
    ThreadTab,
    OtherProtocol,
    /// One frame back or forward in the traffic log (the Thread tab's detail shows it).
    PrevFrame,
    NextFrame,
}

/// One binding: the keys, how the help writes them, what they do.
#[derive(Debug, Clone, Copy)]
pub struct Binding {
    pub keys: &'static [KeyCode],
    pub label: &'static str,
    pub action: Action,
    pub help: &'static str,
}

/// Every binding, in the order the help lists them.
pub const BINDINGS: &[Binding] = &[
    Binding {
        keys: &[KeyCode::Char('q')],
        label: "q",
        action: Action::Quit,
        help: "quit (Ctrl-C too)",
    },
    Binding {
        keys: &[KeyCode::Char('?'), KeyCode::F(1)],
        label: "?",
        action: Action::Help,
        help: "show or hide this help",
    },
    Binding {
        keys: &[KeyCode::Up, KeyCode::Char('k')],
        label: "↑ k",
        action: Action::Up,
        help: "select the previous node",
    },
    Binding {
        keys: &[KeyCode::Down, KeyCode::Char('j')],
        label: "↓ j",
        action: Action::Down,
        help: "select the next node",
    },
    Binding {
        keys: &[KeyCode::Home, KeyCode::Char('g')],
        label: "Home g",
        action: Action::Top,
        help: "select the first node",
    },
    Binding {
        keys: &[KeyCode::End, KeyCode::Char('G')],
        label: "End G",
        action: Action::Bottom,
        help: "select the last node",
    },
    Binding {
        keys: &[KeyCode::PageUp, KeyCode::Char('K')],
        label: "PgUp K",
        action: Action::ScrollBack,
        help: "scroll the traffic log back",
    },
    Binding {
        keys: &[KeyCode::PageDown, KeyCode::Char('J')],
        label: "PgDn J",
        action: Action::ScrollForward,
        help: "scroll the traffic log forward",
    },
    Binding {
        keys: &[KeyCode::Char('f')],
        label: "f",
        action: Action::Follow,
        help: "follow the newest traffic again",
    },
    Binding {
        keys: &[KeyCode::Char('/')],
        label: "/",
        action: Action::Filter,
        help: "filter traffic: src:0010 dst:c001 opcode:onoff (Enter applies, Esc clears)",
    },
    Binding {
        keys: &[KeyCode::Char('p'), KeyCode::Char(' ')],
        label: "p space",
        action: Action::Pause,
        help: "pause or resume the network",
    },
    Binding {
        keys: &[KeyCode::Tab],
        label: "Tab",
        action: Action::NextTab,
        help: "info tab: detail, stats, unprovisioned (Thread: frame, stats)",
    },
    Binding {
        keys: &[KeyCode::Char('1')],
        label: "1",
        action: Action::MeshTab,
        help: "the Bluetooth Mesh tab (when both protocols are inspected)",
    },
    Binding {
        keys: &[KeyCode::Char('2')],
        label: "2",
        action: Action::ThreadTab,
        help: "the Thread tab (when both protocols are inspected)",
    },
    Binding {
        keys: &[KeyCode::BackTab],
        label: "S-Tab",
        action: Action::OtherProtocol,
        help: "the other protocol's tab",
    },
    Binding {
        keys: &[KeyCode::Char('[')],
        label: "[",
        action: Action::PrevFrame,
        help: "previous frame: its layers in the Thread detail (Mesh: scroll)",
    },
    Binding {
        keys: &[KeyCode::Char(']')],
        label: "]",
        action: Action::NextFrame,
        help: "next frame (Mesh: scroll forward one)",
    },
    Binding {
        keys: &[KeyCode::Char('d')],
        label: "d",
        action: Action::Detail,
        help: "show the selected node's detail (Thread: the selected frame)",
    },
    Binding {
        keys: &[KeyCode::Char('s')],
        label: "s",
        action: Action::Stats,
        help: "show statistics",
    },
    Binding {
        keys: &[KeyCode::Char('u')],
        label: "u",
        action: Action::Unprovisioned,
        help: "show unprovisioned devices heard",
    },
    Binding {
        keys: &[KeyCode::Char('t')],
        label: "t",
        action: Action::Target,
        help: "send target: the selected node, then each group in turn",
    },
    Binding {
        keys: &[KeyCode::Char('o')],
        label: "o",
        action: Action::OnOff,
        help: "send Generic OnOff Set (toggle) from the provisioner to the target",
    },
    Binding {
        keys: &[KeyCode::Char('+'), KeyCode::Char('=')],
        label: "+",
        action: Action::LevelUp,
        help: "send Generic Level Set, one step up, to the target",
    },
    Binding {
        keys: &[KeyCode::Char('-')],
        label: "-",
        action: Action::LevelDown,
        help: "send Generic Level Set, one step down, to the target",
    },
    Binding {
        keys: &[KeyCode::Char('c')],
        label: "c",
        action: Action::Capture,
        help: "start or stop a pcapng capture of the air",
    },
    Binding {
        keys: &[KeyCode::Char('m')],
        label: "m",
        action: Action::Marker,
        help: "topology: braille or plain characters",
    },
    Binding {
        keys: &[KeyCode::Char('P')],
        label: "P",
        action: Action::Provision,
        help: "provision and configure the highlighted unprovisioned device (see u)",
    },
    Binding {
        keys: &[KeyCode::Char('C')],
        label: "C",
        action: Action::Configure,
        help: "configure the selected node: bind, pub ADDR, sub ADDR, hb ADDR|off",
    },
    Binding {
        keys: &[KeyCode::Esc],
        label: "Esc",
        action: Action::Escape,
        help: "close help, clear the filter, target the selected node",
    },
];

/// Whether `a` does something on the tab shown (`thread`: the Thread tab) when `both`
/// protocols are inspected or one: the help lists only those. Sending, provisioning and
/// configuring are Bluetooth Mesh's; the protocol keys need two protocols.
pub fn applies(a: Action, thread: bool, both: bool) -> bool {
    match a {
        Action::MeshTab | Action::ThreadTab | Action::OtherProtocol => both,
        Action::Unprovisioned
        | Action::Target
        | Action::OnOff
        | Action::LevelUp
        | Action::LevelDown
        | Action::Provision
        | Action::Configure => !thread,
        _ => true,
    }
}

/// The action bound to a key press, if any.
pub fn action_for(key: &KeyEvent) -> Option<Action> {
    if key.modifiers.contains(KeyModifiers::CONTROL) && key.code == KeyCode::Char('c') {
        return Some(Action::Quit);
    }
    BINDINGS
        .iter()
        .find(|b| b.keys.contains(&key.code))
        .map(|b| b.action)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_key_is_bound_twice() {
        let mut seen = Vec::new();
        for b in BINDINGS {
            for k in b.keys {
                assert!(!seen.contains(k), "{k:?} bound twice");
                seen.push(*k);
            }
        }
    }

    #[test]
    fn vim_keys_and_arrows() {
        let k = |c| KeyEvent::new(c, KeyModifiers::NONE);
        assert_eq!(action_for(&k(KeyCode::Char('j'))), Some(Action::Down));
        assert_eq!(action_for(&k(KeyCode::Down)), Some(Action::Down));
        assert_eq!(action_for(&k(KeyCode::Char('q'))), Some(Action::Quit));
        assert_eq!(
            action_for(&KeyEvent::new(KeyCode::Char('c'), KeyModifiers::CONTROL)),
            Some(Action::Quit)
        );
        assert_eq!(action_for(&k(KeyCode::Char('z'))), None);
    }
}
