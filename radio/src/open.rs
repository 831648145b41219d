//! [`open`]: a radio from its URI, the one way every command gets one.
//!
//! Each kind of radio has a backend; a backend that pulls heavy dependencies (a serial port
//! library, D-Bus, ...) is built only with its cargo feature (`radio/Cargo.toml`: `hci`, `bluez`,
//! `gatt`, `spinel`, `nrf154`, `otsim`), so the default build needs no system library. A URI
//! whose backend this build lacks opens as [`RadioError::Unavailable`] with one sentence saying
//! what is missing.

use crate::hub::HubRadio;
use crate::uri::RadioUri;
use crate::{Radio, RadioError};

/// A backend that is not part of this build: what it is and how to get it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Missing {
    /// What the backend is called, e.g. "the HCI backend".
    pub backend: &'static str,
    /// The cargo feature that builds it.
    pub feature: &'static str,
    /// How to get a weft that has it.
    pub arrives_with: &'static str,
}

/// The backend `uri` needs when this build lacks it; `None` when it can be opened.
pub fn missing(uri: &RadioUri) -> Option<Missing> {
    // Unused in a build with every backend.
    #[allow(unused_variables)]
    let m = |backend, feature, arrives_with| {
        Some(Missing {
            backend,
            feature,
            arrives_with,
        })
    };
    match uri {
        RadioUri::Sim { .. } => None,
        #[cfg(feature = "hci")]
        RadioUri::Hci { .. }
        | RadioUri::HciTcp { .. }
        | RadioUri::HciUnix { .. }
        | RadioUri::HciUser { .. } => None,
        #[cfg(not(feature = "hci"))]
        RadioUri::Hci { .. }
        | RadioUri::HciTcp { .. }
        | RadioUri::HciUnix { .. }
        | RadioUri::HciUser { .. } => m(
            "the HCI backend",
            "hci",
            "this weft built with the 'hci' feature",
        ),
        #[cfg(feature = "bluez")]
        RadioUri::Bluez { .. } => None,
        #[cfg(not(feature = "bluez"))]
        RadioUri::Bluez { .. } => m(
            "the BlueZ backend",
            "bluez",
            "this weft built with the 'bluez' feature",
        ),
        #[cfg(feature = "gatt")]
        RadioUri::Gatt { .. } => None,
        #[cfg(not(feature = "gatt"))]
        RadioUri::Gatt { .. } => m(
            "the GATT proxy backend",
            "gatt",
            "build weft with `cargo build --features gatt`",
        ),
        #[cfg(feature = "spinel")]
        RadioUri::Spinel { .. } => None,
        #[cfg(not(feature = "spinel"))]
        RadioUri::Spinel { .. } => m(
            "the Spinel backend",
            "spinel",
            "this weft built with the 'spinel' feature",
        ),
        #[cfg(feature = "nrf154")]
        RadioUri::Nrf154 { .. } => None,
        #[cfg(not(feature = "nrf154"))]
        RadioUri::Nrf154 { .. } => m(
            "the nRF 802.15.4 sniffer backend",
            "nrf154",
            "this weft built with the 'nrf154' feature",
        ),
        #[cfg(feature = "otsim")]
        RadioUri::OtSim { .. } => None,
        #[cfg(not(feature = "otsim"))]
        RadioUri::OtSim { .. } => m(
            "the OpenThread simulation backend",
            "otsim",
            "this weft built with the 'otsim' feature",
        ),
    }
}

/// The backend features the default build has (`radio/Cargo.toml`).
const DEFAULT_FEATURES: [&str; 5] = ["hci", "bluez", "spinel", "nrf154", "otsim"];

/// Why `uri` cannot be opened by this build, as the error [`open`] gives; `None` when it can
/// be (whether the radio is there is only known by opening it). Lets a command refuse a radio
/// before it does anything else.
pub fn unavailable(uri: &RadioUri) -> Option<RadioError> {
    let m = missing(uri)?;
    if DEFAULT_FEATURES.contains(&m.feature) {
        return Some(RadioError::Unavailable(format!(
            "{uri}: {} is not available in this weft (it was built without the '{}' feature, \
             which the default build has); sim:PATH, the simulated air of `weft sim serve`, \
             drives a radio",
            m.backend, m.feature
        )));
    }
    Some(RadioError::Unavailable(format!(
        "{uri}: {} is not available in this weft (it is built only with the '{}' feature, \
         which the default build lacks: {}); sim:PATH, the simulated air of `weft sim \
         serve`, drives a radio",
        m.backend, m.feature, m.arrives_with
    )))
}

/// Opens the radio `uri` names.
///
/// `spinel:` opens a [`crate::spinel::SpinelRadio`], `nrf154:` a [`crate::nrf154::Nrf154Radio`]
/// (each reset or set up before this returns, so a device that is not an RCP or a sniffer is
/// the error here) and `otsim:` an [`crate::otsim::OtSimRadio`], each with its defaults.
///
/// `bluez:hciN` opens a [`crate::bluez::BluezRadio`] on the adapter bluetoothd has by that name,
/// checked to be there, powered and able to advertise before this returns.
///
/// HCI kinds (`hci:`, `hci-tcp:`, `hci-unix:`, `hci-user:`) open a [`crate::hci::HciRadio`]
/// with [`crate::hci::HciConfig::default`]: connected, reset and brought up before this
/// returns, so a controller that is not there, or not an HCI controller, is the error here.
pub async fn open(uri: &RadioUri) -> Result<Box<dyn Radio>, RadioError> {
    if let Some(e) = unavailable(uri) {
        return Err(e);
    }
    match uri {
        RadioUri::Sim { path } => Ok(Box::new(HubRadio::connect(path).await?)),
        #[cfg(feature = "hci")]
        RadioUri::Hci { .. }
        | RadioUri::HciTcp { .. }
        | RadioUri::HciUnix { .. }
        | RadioUri::HciUser { .. } => Ok(Box::new(
            crate::hci::HciRadio::open(uri, crate::hci::HciConfig::default()).await?,
        )),
        #[cfg(feature = "bluez")]
        RadioUri::Bluez { .. } => Ok(Box::new(
            crate::bluez::BluezRadio::open(uri, crate::bluez::BluezConfig::default()).await?,
        )),
        #[cfg(feature = "gatt")]
        RadioUri::Gatt { .. } => Ok(Box::new(
            crate::gatt::GattRadio::open(uri, crate::gatt::GattConfig::default()).await?,
        )),
        #[cfg(feature = "spinel")]
        RadioUri::Spinel { .. } => Ok(Box::new(
            crate::spinel::SpinelRadio::open(uri, crate::spinel::SpinelConfig::default()).await?,
        )),
        #[cfg(feature = "nrf154")]
        RadioUri::Nrf154 { .. } => Ok(Box::new(
            crate::nrf154::Nrf154Radio::open(uri, crate::nrf154::Nrf154Config::default()).await?,
        )),
        #[cfg(feature = "otsim")]
        RadioUri::OtSim { .. } => Ok(Box::new(crate::otsim::OtSimRadio::open(uri).await?)),
        // `unavailable` answered for every other kind (none, in a build with every backend).
        #[allow(unreachable_patterns)]
        other => Err(RadioError::Unavailable(format!(
            "{other}: no backend in this build"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(flavor = "current_thread")]
    async fn a_backend_not_built_is_unavailable_in_one_sentence() {
        let hci = cfg!(feature = "hci");
        for (s, built) in [
            ("hci:/dev/ttyACM0", hci),
            ("hci-tcp:localhost:1", hci),
            ("hci-unix:/x", hci),
            ("hci-user:hci0", hci),
            ("bluez:hci0", cfg!(feature = "bluez")),
            ("gatt:C0:11:22:33:44:55", cfg!(feature = "gatt")),
            ("spinel:/dev/ttyACM0", cfg!(feature = "spinel")),
            ("nrf154:/dev/ttyACM0", cfg!(feature = "nrf154")),
            ("otsim:1", cfg!(feature = "otsim")),
        ] {
            let uri = RadioUri::parse(s).unwrap();
            if built {
                assert_eq!(unavailable(&uri), None, "{s}");
                continue;
            }
            let Err(RadioError::Unavailable(why)) = open(&uri).await else {
                panic!("{s} opened");
            };
            assert!(why.starts_with(s), "{why}");
            assert!(why.contains("not available"), "{why}");
            assert!(why.contains("sim:PATH"), "{why}");
            assert_eq!(why.matches(". ").count(), 0, "one sentence: {why}");
            assert_eq!(unavailable(&uri), Some(RadioError::Unavailable(why)));
        }
    }

    /// With the `hci` feature, an HCI URI opens the HCI radio: here none is there, and the
    /// error says which and why in one sentence that starts with the URI.
    #[cfg(feature = "hci")]
    #[tokio::test(flavor = "current_thread")]
    async fn hci_kinds_open_the_hci_radio() {
        for (s, says) in [
            ("hci:/nonexistent/ttyACM0", "cannot open the serial device"),
            (
                "hci-unix:/nonexistent/hci.sock",
                "cannot reach an HCI controller",
            ),
            ("hci-user:hci0", "hci"),
        ] {
            let uri = RadioUri::parse(s).unwrap();
            assert_eq!(unavailable(&uri), None);
            let Err(RadioError::Unavailable(why)) = open(&uri).await else {
                panic!("{s} opened");
            };
            assert!(why.starts_with(s), "{why}");
            assert!(why.contains(says), "{why}");
        }
    }

    /// With the `spinel` feature, a Spinel URI opens the serial port and the RCP behind it.
    #[cfg(feature = "spinel")]
    #[tokio::test(flavor = "current_thread")]
    async fn spinel_opens_the_spinel_radio() {
        let uri = RadioUri::parse("spinel:/nonexistent/ttyACM0").unwrap();
        let Err(RadioError::Unavailable(why)) = open(&uri).await else {
            panic!("opened");
        };
        assert!(
            why.starts_with("spinel:/nonexistent/ttyACM0: cannot open the serial device"),
            "{why}"
        );
    }

    /// With the `nrf154` feature, a sniffer URI opens the serial port and the firmware behind it.
    #[cfg(feature = "nrf154")]
    #[tokio::test(flavor = "current_thread")]
    async fn nrf154_opens_the_sniffer_radio() {
        let uri = RadioUri::parse("nrf154:/nonexistent/ttyACM0?channel=20").unwrap();
        let Err(RadioError::Unavailable(why)) = open(&uri).await else {
            panic!("opened");
        };
        assert!(
            why.starts_with(
                "nrf154:/nonexistent/ttyACM0?channel=20: cannot open the serial device"
            ),
            "{why}"
        );
    }

    /// With the `otsim` feature, a simulation URI joins the air: an 802.15.4 radio.
    #[cfg(feature = "otsim")]
    #[tokio::test(flavor = "current_thread")]
    async fn otsim_joins_the_simulation() {
        let offset = 1400 + std::process::id() % 200;
        let uri = RadioUri::parse(&format!("otsim:33?port_offset={offset}")).unwrap();
        let radio = open(&uri).await.unwrap();
        assert!(radio.caps().ieee802154 && !radio.caps().advertising);
        let uri = RadioUri::parse("otsim:40?port_offset=1900").unwrap();
        let Err(RadioError::Unavailable(why)) = open(&uri).await else {
            panic!("a port above 65535 opened");
        };
        assert!(why.contains("above 65535"), "{why}");
    }

    #[tokio::test(flavor = "current_thread")]
    async fn sim_opens_the_hub_client() {
        let uri = RadioUri::parse("sim:/nonexistent/weft-air.sock").unwrap();
        assert_eq!(unavailable(&uri), None);
        let Err(RadioError::Unavailable(why)) = open(&uri).await else {
            panic!("no hub there");
        };
        assert!(why.contains("weft sim serve"), "{why}");
    }
}
