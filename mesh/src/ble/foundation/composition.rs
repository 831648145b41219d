//! Composition Data Page 0 (Mesh Protocol 1.1 §4.2.2.1): the node's identity, features and
//! elements with their models, as a Configuration Server reports it in Config Composition Data
//! Status (§4.3.2.5).
//!
//! Layout (little-endian fields):
//!
//! | field    | size | meaning                                                   |
//! |----------|------|-----------------------------------------------------------|
//! | CID      | 2    | company identifier                                         |
//! | PID      | 2    | vendor-assigned product identifier                        |
//! | VID      | 2    | vendor-assigned product version identifier                |
//! | CRPL     | 2    | minimum number of replay protection list entries          |
//! | Features | 2    | bit 0 relay, 1 proxy, 2 friend, 3 low power; 4-15 RFU      |
//! | Elements | var. | a sequence of element descriptions                        |
//!
//! Each element: `Loc (2) || NumS (1) || NumV (1) || SIG Models (2 × NumS) ||
//! Vendor Models (4 × NumV)`, a vendor model being the company identifier then the model ID.

use crate::ble::wire::control::Features;
use crate::ble::wire::{Error, Result};

use crate::ble::models::{invalid, put_u16, ModelId, Reader};

/// A vendor model identifier (MshPRT §4.2.2.1): the company identifier and the vendor-assigned
/// model identifier.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct VendorModelId {
    /// The Bluetooth SIG company identifier.
    pub company_id: u16,
    /// The vendor-assigned model identifier.
    pub model_id: u16,
}

impl From<VendorModelId> for ModelId {
    fn from(v: VendorModelId) -> ModelId {
        ModelId::Vendor {
            company_id: v.company_id,
            model_id: v.model_id,
        }
    }
}

/// One element of Composition Data Page 0 (MshPRT §4.2.2.1, Table "Element description").
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct Element {
    /// Loc: a GATT Bluetooth Namespace Descriptor (0x0000: unknown).
    pub location: u16,
    /// The Bluetooth SIG models of the element (at most 255).
    pub sig_models: Vec<u16>,
    /// The vendor models of the element (at most 255).
    pub vendor_models: Vec<VendorModelId>,
}

impl Element {
    /// An element at `location` with no models.
    pub fn new(location: u16) -> Self {
        Element {
            location,
            ..Self::default()
        }
    }

    /// Adds a Bluetooth SIG model.
    pub fn with_sig(mut self, model_id: u16) -> Self {
        self.sig_models.push(model_id);
        self
    }

    /// Adds a vendor model.
    pub fn with_vendor(mut self, company_id: u16, model_id: u16) -> Self {
        self.vendor_models.push(VendorModelId {
            company_id,
            model_id,
        });
        self
    }

    /// Every model of the element, SIG models first.
    pub fn models(&self) -> impl Iterator<Item = ModelId> + '_ {
        self.sig_models
            .iter()
            .map(|m| ModelId::Sig(*m))
            .chain(self.vendor_models.iter().map(|v| ModelId::from(*v)))
    }

    /// Whether the element has `model`.
    pub fn has_model(&self, model: ModelId) -> bool {
        self.models().any(|m| m == model)
    }

    fn read(r: &mut Reader<'_>) -> Result<Self> {
        let location = r.u16()?;
        let num_s = r.u8()?;
        let num_v = r.u8()?;
        let (num_s, num_v) = (usize::from(num_s), usize::from(num_v));
        // Take the whole block first so that a short element reports the length it needs.
        let block = r.take(2 * num_s + 4 * num_v)?;
        let (sig, vendor) = block.split_at(2 * num_s);
        let sig_models = sig
            .chunks_exact(2)
            .map(|c| u16::from_le_bytes([c[0], c[1]]))
            .collect();
        let vendor_models = vendor
            .chunks_exact(4)
            .map(|c| VendorModelId {
                company_id: u16::from_le_bytes([c[0], c[1]]),
                model_id: u16::from_le_bytes([c[2], c[3]]),
            })
            .collect();
        Ok(Element {
            location,
            sig_models,
            vendor_models,
        })
    }

    fn check(&self) -> Result<()> {
        if self.sig_models.len() > 255 {
            return Err(invalid("NumS", self.sig_models.len() as u32));
        }
        if self.vendor_models.len() > 255 {
            return Err(invalid("NumV", self.vendor_models.len() as u32));
        }
        Ok(())
    }

    fn write(&self, out: &mut Vec<u8>) {
        put_u16(out, self.location);
        out.push(self.sig_models.len() as u8);
        out.push(self.vendor_models.len() as u8);
        for m in &self.sig_models {
            put_u16(out, *m);
        }
        for v in &self.vendor_models {
            put_u16(out, v.company_id);
            put_u16(out, v.model_id);
        }
    }
}

/// Composition Data Page 0 (MshPRT §4.2.2.1).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct CompositionDataPage0 {
    /// CID: company identifier.
    pub cid: u16,
    /// PID: product identifier.
    pub pid: u16,
    /// VID: product version identifier.
    pub vid: u16,
    /// CRPL: minimum number of replay protection list entries.
    pub crpl: u16,
    /// Features supported (bits 0-3; RFU bits kept as received).
    pub features: Features,
    /// The elements, the primary element first (at least one).
    pub elements: Vec<Element>,
}

impl CompositionDataPage0 {
    /// The length of the fixed header before the elements.
    pub const HEADER_LEN: usize = 10;

    /// Starts a builder for a node of company `cid`, product `pid`, version `vid`.
    pub fn builder(cid: u16, pid: u16, vid: u16) -> CompositionBuilder {
        CompositionBuilder {
            page: CompositionDataPage0 {
                cid,
                pid,
                vid,
                crpl: 0,
                features: Features(0),
                elements: Vec::new(),
            },
        }
    }

    /// Parses a page that occupies all of `bytes`. Each element must be complete (its NumS and
    /// NumV agree with the octets that follow) and there must be at least one element.
    pub fn parse(bytes: &[u8]) -> Result<Self> {
        let mut r = Reader::new(bytes);
        let cid = r.u16()?;
        let pid = r.u16()?;
        let vid = r.u16()?;
        let crpl = r.u16()?;
        let features = Features(r.u16()?);
        let mut elements = Vec::new();
        while !r.is_empty() {
            elements.push(Element::read(&mut r)?);
        }
        if elements.is_empty() {
            // §4.2.2.1: every node has a primary element.
            return Err(Error::Truncated {
                need: Self::HEADER_LEN + 4,
                got: bytes.len(),
            });
        }
        r.end()?;
        Ok(CompositionDataPage0 {
            cid,
            pid,
            vid,
            crpl,
            features,
            elements,
        })
    }

    /// Checks what the format cannot carry: no elements, or more than 255 models of a kind in
    /// an element.
    pub fn validate(&self) -> Result<()> {
        if self.elements.is_empty() {
            return Err(invalid("number of elements", 0u32));
        }
        self.elements.iter().try_for_each(Element::check)
    }

    /// The page on air (counts above 255 are truncated; see [`Self::validate`]).
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(Self::HEADER_LEN + 4 * self.elements.len());
        put_u16(&mut out, self.cid);
        put_u16(&mut out, self.pid);
        put_u16(&mut out, self.vid);
        put_u16(&mut out, self.crpl);
        put_u16(&mut out, self.features.0);
        for e in &self.elements {
            e.write(&mut out);
        }
        out
    }

    /// The number of elements.
    pub fn element_count(&self) -> usize {
        self.elements.len()
    }

    /// A one-line human summary.
    pub fn describe(&self) -> String {
        let f = self.features;
        let names: Vec<&str> = [
            (f.relay(), "relay"),
            (f.proxy(), "proxy"),
            (f.friend(), "friend"),
            (f.low_power(), "lpn"),
        ]
        .iter()
        .filter(|(on, _)| *on)
        .map(|(_, n)| *n)
        .collect();
        let sig: usize = self.elements.iter().map(|e| e.sig_models.len()).sum();
        let vendor: usize = self.elements.iter().map(|e| e.vendor_models.len()).sum();
        format!(
            "cid {:04x} pid {:04x} vid {:04x} crpl {} features {} elements {} ({} sig, {} vendor models)",
            self.cid,
            self.pid,
            self.vid,
            self.crpl,
            if names.is_empty() {
                "none".to_string()
            } else {
                names.join(",")
            },
            self.elements.len(),
            sig,
            vendor
        )
    }
}

/// Builds a [`CompositionDataPage0`] and checks it on [`CompositionBuilder::build`].
#[derive(Debug, Clone)]
pub struct CompositionBuilder {
    page: CompositionDataPage0,
}

impl CompositionBuilder {
    /// Sets CRPL.
    pub fn crpl(mut self, crpl: u16) -> Self {
        self.page.crpl = crpl;
        self
    }

    /// Sets the supported features.
    pub fn features(mut self, features: Features) -> Self {
        self.page.features = features;
        self
    }

    /// Appends an element (the first one is the primary element).
    pub fn element(mut self, element: Element) -> Self {
        self.page.elements.push(element);
        self
    }

    /// The page, or an error if it has no elements or too many models in an element.
    pub fn build(self) -> Result<CompositionDataPage0> {
        self.page.validate()?;
        Ok(self.page)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn h(s: &str) -> Vec<u8> {
        hex::decode(s).unwrap()
    }

    // MshPRT §8.10.1: Composition Data Page 0 sample data.
    #[test]
    fn sample_page0() {
        let bytes = h("0C001A0001000800030000010501000000800100001003103F002A00");
        let page = CompositionDataPage0::parse(&bytes).unwrap();
        let expected = CompositionDataPage0::builder(0x000C, 0x001A, 0x0001)
            .crpl(0x0008)
            // The sample's text says "Relay and Friend", but 0x0003 is relay and proxy.
            .features(Features(0x0003))
            .element(
                Element::new(0x0100)
                    .with_sig(0x0000)
                    .with_sig(0x8000)
                    .with_sig(0x0001)
                    .with_sig(0x1000)
                    .with_sig(0x1003)
                    .with_vendor(0x003F, 0x002A),
            )
            .build()
            .unwrap();
        assert_eq!(page, expected);
        assert_eq!(page.to_bytes(), bytes);
        assert!(page.elements[0].has_model(ModelId::Vendor {
            company_id: 0x003F,
            model_id: 0x002A
        }));
        assert!(page.elements[0].has_model(ModelId::GENERIC_ONOFF_SERVER));
        assert_eq!(
            page.describe(),
            "cid 000c pid 001a vid 0001 crpl 8 features relay,proxy elements 1 (5 sig, 1 vendor models)"
        );
    }

    #[test]
    fn inconsistent_lengths_rejected() {
        let bytes = h("0C001A0001000800030000010501000000800100001003103F002A00");
        // Any truncation breaks an element or the header.
        for n in 0..bytes.len() {
            assert!(
                matches!(
                    CompositionDataPage0::parse(&bytes[..n]),
                    Err(Error::Truncated { .. })
                ),
                "{n}"
            );
        }
        // An extra octet is the start of an incomplete element.
        let mut long = bytes.clone();
        long.push(0);
        assert!(CompositionDataPage0::parse(&long).is_err());
        // NumV claims two vendor models but only one follows.
        let mut bad = bytes.clone();
        bad[13] = 2;
        assert_eq!(
            CompositionDataPage0::parse(&bad),
            Err(Error::Truncated { need: 32, got: 28 })
        );
        // No element at all.
        assert_eq!(
            CompositionDataPage0::parse(&bytes[..10]),
            Err(Error::Truncated { need: 14, got: 10 })
        );
    }

    #[test]
    fn builder_checks() {
        assert!(CompositionDataPage0::builder(1, 2, 3).build().is_err());
        let mut e = Element::new(0);
        e.sig_models = vec![0; 256];
        assert_eq!(
            CompositionDataPage0::builder(1, 2, 3).element(e).build(),
            Err(Error::Invalid {
                field: "NumS",
                value: 256
            })
        );
    }

    fn arb_element() -> impl Strategy<Value = Element> {
        (
            any::<u16>(),
            proptest::collection::vec(any::<u16>(), 0..8),
            proptest::collection::vec((any::<u16>(), any::<u16>()), 0..4),
        )
            .prop_map(|(location, sig_models, v)| Element {
                location,
                sig_models,
                vendor_models: v
                    .into_iter()
                    .map(|(company_id, model_id)| VendorModelId {
                        company_id,
                        model_id,
                    })
                    .collect(),
            })
    }

    proptest! {
        #[test]
        fn round_trip(
            ids in any::<[u16; 5]>(),
            elements in proptest::collection::vec(arb_element(), 1..6),
        ) {
            let page = CompositionDataPage0 {
                cid: ids[0],
                pid: ids[1],
                vid: ids[2],
                crpl: ids[3],
                features: Features(ids[4]),
                elements,
            };
            prop_assert_eq!(CompositionDataPage0::parse(&page.to_bytes()), Ok(page));
        }

        #[test]
        fn arbitrary_bytes(data in proptest::collection::vec(any::<u8>(), 0..80)) {
            if let Ok(p) = CompositionDataPage0::parse(&data) {
                prop_assert_eq!(p.to_bytes(), data);
            }
        }
    }
}
