//! `weft inspect --serve PATH`: the air as `weft serve` hears it, as a radio the inspector
//! listens on. It subscribes, and each `frame` event becomes a frame heard (the server's own
//! transmissions too, as another station on the air would hear them); the other events
//! (`network`, `provision`, `config`, `lagged`) are passed on as they are. It sends nothing
//! itself: the server holds the network's node, and the inspector's actions go to it as
//! requests (`inspect::live::served`).

use std::path::{Path, PathBuf};

use serde_json::{json, Value};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::unix::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::UnixStream;
use weft_mesh::{Bearer, Instant, RxFrame, TxFrame};
use weft_radio::{Caps, Radio, RadioError, RadioFuture};

use crate::store::NetState;

/// The server's air, heard through its events.
#[derive(Debug)]
pub struct ServedRadio {
    lines: tokio::io::Lines<BufReader<OwnedReadHalf>>,
    _writer: OwnedWriteHalf,
    path: PathBuf,
    /// Where events other than frames go.
    events: Option<std::sync::mpsc::Sender<Value>>,
}

/// The network `weft serve` at `path` holds (its `network` reply, the database whose keys
/// decode the air), read before the inspector starts.
pub fn network(path: &Path) -> Result<NetState, crate::error::Failure> {
    let cdb = super::client::Client::connect(path)?.call("network", json!({}))?;
    import_network(path, &cdb)
}

/// The primary address of the node `weft serve` at `path` runs (its `status`'s `node`): the
/// node the inspector is drawn from.
pub fn own_node(path: &Path) -> Result<u16, crate::error::Failure> {
    let status = super::client::Client::connect(path)?.call("status", json!({}))?;
    status["node"]
        .as_str()
        .and_then(|a| u16::from_str_radix(a, 16).ok())
        .ok_or_else(|| {
            crate::error::Failure::new(
                crate::Exit::Unavailable,
                format!(
                    "weft serve at {} does not say which node is its own (status: {status}); is it an older weft?",
                    path.display()
                ),
            )
        })
}

/// A `network` reply of the server at `path` read as the store's state.
pub fn import_network(path: &Path, cdb: &Value) -> Result<NetState, crate::error::Failure> {
    crate::net::import_cdb(
        &cdb.to_string(),
        &mut rand_core::OsRng,
        &crate::net::now_rfc3339(),
    )
    .map(|(state, _)| state)
    .map_err(|e| {
        crate::error::Failure::new(
            crate::Exit::Unavailable,
            format!(
                "weft serve at {} gave a network weft cannot read: {e}",
                path.display()
            ),
        )
    })
}

impl ServedRadio {
    /// Connects to `weft serve` at `path` and subscribes to its events; those that are not
    /// frames go to `events`.
    pub async fn open(
        path: &Path,
        events: Option<std::sync::mpsc::Sender<Value>>,
    ) -> Result<ServedRadio, RadioError> {
        let unavailable = |e: std::io::Error| {
            RadioError::Unavailable(format!("weft serve at {}: {e}", path.display()))
        };
        let stream = UnixStream::connect(path).await.map_err(unavailable)?;
        let (r, mut w) = stream.into_split();
        let req = json!({"id": "inspect", "method": "subscribe", "params": {}});
        w.write_all(format!("{req}\n").as_bytes())
            .await
            .map_err(unavailable)?;
        Ok(ServedRadio {
            lines: BufReader::new(r).lines(),
            _writer: w,
            path: path.to_path_buf(),
            events,
        })
    }
}

/// The frame a `frame` event describes; `None` for other lines and frames of other bearers.
pub fn frame_of(v: &Value) -> Option<RxFrame> {
    if v["event"] != "frame" || v["bearer"] != "adv" {
        return None;
    }
    let bytes = hex::decode(v["hex"].as_str()?).ok()?;
    let adv_address = v["adv_address"]
        .as_str()
        .and_then(|a| hex::decode(a).ok())
        .and_then(|a| <[u8; 6]>::try_from(a).ok());
    Some(RxFrame {
        bearer: Bearer::Advertising,
        channel: v["channel"]
            .as_u64()
            .and_then(|c| u8::try_from(c).ok())
            .unwrap_or(0),
        rssi: v["rssi"].as_i64().and_then(|r| i8::try_from(r).ok()),
        timestamp: Instant::from_micros(v["timestamp_us"].as_u64().unwrap_or(0)),
        adv_address,
        lqi: None,
        bytes,
    })
}

impl Radio for ServedRadio {
    fn caps(&self) -> Caps {
        Caps::ADVERTISING
    }

    fn send(&mut self, _: TxFrame) -> RadioFuture<'_, ()> {
        Box::pin(async {
            Err(RadioError::Unsupported(
                "the inspector only watches through weft serve: act with weft send|config|provision --serve".into(),
            ))
        })
    }

    /// Cancel-safe: a line is taken whole or not at all (`Lines::next_line`).
    fn recv(&mut self) -> RadioFuture<'_, RxFrame> {
        Box::pin(async move {
            loop {
                let line = self.lines.next_line().await.map_err(|e| {
                    RadioError::Unavailable(format!("weft serve at {}: {e}", self.path.display()))
                })?;
                let Some(line) = line else {
                    return Err(RadioError::Unavailable(format!(
                        "weft serve at {} closed the connection",
                        self.path.display()
                    )));
                };
                let Ok(v) = serde_json::from_str::<Value>(&line) else {
                    continue;
                };
                if let Some(f) = frame_of(&v) {
                    return Ok(f);
                }
                if let (Some(tx), Some(_)) = (&self.events, v.get("event")) {
                    if v["event"] != "frame" {
                        let _ = tx.send(v);
                    }
                }
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frame_events_become_frames_heard() {
        let f = RxFrame {
            bearer: Bearer::Advertising,
            channel: 38,
            rssi: Some(-55),
            timestamp: Instant::from_micros(1234),
            adv_address: Some([1, 2, 3, 4, 5, 6]),
            lqi: None,
            bytes: vec![0x02, 0x01, 0x06],
        };
        let v: Value = serde_json::from_str(&super::super::tap::rx_event(&f)).unwrap();
        assert_eq!(frame_of(&v), Some(f));
        let tx = json!({"event": "frame", "dir": "tx", "bearer": "adv", "hex": "020106"});
        let heard = frame_of(&tx).unwrap();
        assert_eq!((heard.rssi, heard.adv_address), (None, None));
        assert_eq!(frame_of(&json!({"event": "access"})), None);
        assert_eq!(
            frame_of(&json!({"event": "frame", "bearer": "adv", "hex": "zz"})),
            None
        );
    }
}
