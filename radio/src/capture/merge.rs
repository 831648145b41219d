//! Several radios' captures as one file, as Wireshark shows a capture taken on several
//! interfaces at once (`dumpcap -i a -i b`, `mergecap`): an interface per radio, named after it
//! (pcapng if_name, §4.2; Wireshark's `frame.interface_name`), and every packet in time order
//! among the others'. The times are the hosts' wall clocks the captures were tied to
//! ([`super::Timeline`]): on one host they are one clock; across hosts, as good as the hosts'
//! clock synchronisation.

use std::fs::File;
use std::io::BufWriter;
use std::path::{Path, PathBuf};

use super::CaptureError;
use crate::pcap::{PcapReader, PcapWriter};

/// One radio's captures to merge: its interface's name and description, and its files in
/// order (a process started again writes a file of its own).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MergeInput {
    pub name: String,
    pub description: String,
    pub files: Vec<PathBuf>,
}

/// Writes the captures of `inputs` into one pcapng at `out`: an interface per input and link
/// type heard, named after the input, the packets in time order (equal times keep the
/// inputs' order). A file missing is skipped; a file cut short (its process killed) gives the
/// packets before the cut, as does one that does not read as a capture past some point.
/// Returns the packets written.
pub fn merge(out: &Path, inputs: &[MergeInput]) -> Result<u64, CaptureError> {
    let error = |e: std::io::Error| CaptureError::File {
        path: out.to_path_buf(),
        why: e.to_string(),
    };
    // (time, input, order read, link type, data)
    let mut packets = Vec::new();
    for (i, input) in inputs.iter().enumerate() {
        for path in &input.files {
            let Ok(bytes) = std::fs::read(path) else {
                continue;
            };
            let Ok(mut reader) = PcapReader::new(bytes.as_slice()) else {
                continue;
            };
            while let Ok(Some(p)) = reader.next_packet() {
                let n = packets.len();
                packets.push((p.timestamp, i, n, p.link_type, p.data));
            }
        }
    }
    packets.sort_by_key(|&(t, i, n, ..)| (t, i, n));
    let f = File::create(out).map_err(error)?;
    let mut w = PcapWriter::new(BufWriter::new(f)).map_err(error)?;
    // Interfaces in the inputs' order, each as its first packet needs it.
    let mut ids: Vec<((usize, u16), u32)> = Vec::new();
    let mut firsts: Vec<(usize, u16)> = packets.iter().map(|p| (p.1, p.3)).collect();
    firsts.sort_unstable();
    firsts.dedup();
    for (i, lt) in firsts {
        let input = &inputs[i];
        let id = w
            .named_interface(lt, &input.name, &input.description)
            .map_err(error)?;
        ids.push(((i, lt), id));
    }
    for (t, i, _, lt, data) in &packets {
        let id = ids
            .iter()
            .find(|(k, _)| *k == (*i, *lt))
            .map_or(0, |(_, id)| *id);
        w.write_packet_on(id, *t, data).map_err(error)?;
    }
    std::io::Write::flush(&mut w.into_inner()).map_err(error)?;
    Ok(packets.len() as u64)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pcap::{read_all_packets, LINKTYPE_BLUETOOTH_LE_LL_WITH_PHDR as LE};
    use crate::Instant;

    fn capture(path: &Path, times: &[u64]) {
        let mut w = PcapWriter::new(File::create(path).unwrap()).unwrap();
        for &t in times {
            w.write_packet(LE, Instant::from_micros(t), &t.to_le_bytes())
                .unwrap();
        }
    }

    #[test]
    fn every_radio_an_interface_and_the_packets_in_time_order() {
        let dir = tempfile::tempdir().unwrap();
        let (a, b, b2) = (
            dir.path().join("a"),
            dir.path().join("b"),
            dir.path().join("b2"),
        );
        capture(&a, &[10, 30, 50]);
        capture(&b, &[20, 30]);
        // A process killed mid-write: its last block cut short.
        capture(&b2, &[40, 60]);
        let mut bytes = std::fs::read(&b2).unwrap();
        bytes.truncate(bytes.len() - 3);
        std::fs::write(&b2, bytes).unwrap();
        let out = dir.path().join("all.pcapng");
        let inputs = [
            MergeInput {
                name: "prov".into(),
                description: "radio r0".into(),
                files: vec![a],
            },
            MergeInput {
                name: "lamp".into(),
                description: "radio r1".into(),
                files: vec![b, b2, dir.path().join("never-written")],
            },
        ];
        assert_eq!(merge(&out, &inputs).unwrap(), 6);
        let bytes = std::fs::read(&out).unwrap();
        let got: Vec<u64> = read_all_packets(&bytes)
            .unwrap()
            .iter()
            .map(|p| p.timestamp.as_micros())
            .collect();
        assert_eq!(got, [10, 20, 30, 30, 40, 50]);
        // Two interfaces, named (if_name, option 2).
        let names: Vec<&str> = ["prov", "lamp"]
            .into_iter()
            .filter(|n| bytes.windows(n.len()).any(|w| w == n.as_bytes()))
            .collect();
        assert_eq!(names, ["prov", "lamp"]);
    }

    proptest::proptest! {
        /// Whatever the radios captured, the merged file holds every packet once, in time
        /// order.
        #[test]
        fn merged_is_every_packet_in_time_order(
            times in proptest::collection::vec(proptest::collection::vec(0u64..1_000, 0..20), 1..4)
        ) {
            let dir = tempfile::tempdir().unwrap();
            let inputs: Vec<MergeInput> = times
                .iter()
                .enumerate()
                .map(|(i, t)| {
                    let path = dir.path().join(format!("{i}"));
                    let mut sorted = t.clone();
                    sorted.sort_unstable();
                    capture(&path, &sorted);
                    MergeInput { name: format!("r{i}"), description: String::new(), files: vec![path] }
                })
                .collect();
            let out = dir.path().join("all");
            let n = merge(&out, &inputs).unwrap();
            let got: Vec<u64> = read_all_packets(&std::fs::read(&out).unwrap())
                .unwrap()
                .iter()
                .map(|p| p.timestamp.as_micros())
                .collect();
            let mut want: Vec<u64> = times.concat();
            want.sort_unstable();
            proptest::prop_assert_eq!(n as usize, want.len());
            proptest::prop_assert_eq!(got, want);
        }
    }
}
