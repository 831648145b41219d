//! Which USB serial devices are which radios: the one table of USB vendor and product IDs (and
//! product strings) weft recognises, each with where it comes from, and the radio URI each
//! suggests.

/// What a serial device looks like to weft.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Looks {
    /// A Bluetooth controller speaking HCI over the port (H4).
    Hci,
    /// OpenThread: an RCP speaks Spinel; a CLI or NCP image answers with the same IDs.
    OpenThread,
    /// Nordic's nRF Sniffer for 802.15.4 firmware.
    Sniffer154,
    /// A bootloader waiting for firmware: no radio runs.
    Dfu,
    /// A SEGGER J-Link's virtual COM port (a Nordic development kit's interface chip): the
    /// nRF's UART, running whatever firmware it was given.
    JLink,
    /// A Nordic Semiconductor device whose firmware the IDs do not tell.
    Nordic,
    /// Nothing weft knows.
    Unknown,
}

impl Looks {
    /// The name in `weft radios --json` (`looks_like`).
    pub fn as_str(self) -> &'static str {
        match self {
            Looks::Hci => "hci",
            Looks::OpenThread => "openthread",
            Looks::Sniffer154 => "nrf802154-sniffer",
            Looks::Dfu => "dfu-bootloader",
            Looks::JLink => "jlink-vcom",
            Looks::Nordic => "nordic",
            Looks::Unknown => "unknown",
        }
    }
}

/// Nordic Semiconductor's USB vendor ID (usb.ids: 1915 Nordic Semiconductor ASA).
pub const NORDIC: u16 = 0x1915;

/// One line of the table: a vendor, a product (`None`: any) and what it is.
#[derive(Debug, Clone, Copy)]
pub struct Known {
    pub vid: u16,
    pub pid: Option<u16>,
    pub looks: Looks,
    /// What the user reads.
    pub note: &'static str,
    /// Where the IDs come from.
    pub source: &'static str,
}

/// The USB IDs weft recognises, most specific first.
pub const KNOWN: &[Known] = &[
    Known {
        vid: 0x2fe3,
        pid: Some(0x0100),
        looks: Looks::Hci,
        note: "a Zephyr device with Zephyr's default USB IDs, as its hci_uart sample (Bluetooth HCI over USB CDC ACM) has them",
        source: "Zephyr's USB device stack documentation (usb_device_stack): the project's vendor ID 0x2FE3 and default product ID 0x0100 (Kconfig USB_DEVICE_VID, USB_DEVICE_PID)",
    },
    Known {
        vid: NORDIC,
        pid: Some(0xcafe),
        looks: Looks::OpenThread,
        note: "OpenThread on an nRF52840 (\"nRF528xx OpenThread Device\"): an RCP image speaks Spinel; a CLI or NCP image has the same IDs",
        source: "ot-nrf528xx app_config.h: APP_USBD_VID 0x1915, APP_USBD_PID 0xCAFE, product \"nRF528xx OpenThread Device\"",
    },
    Known {
        vid: NORDIC,
        pid: Some(0x154b),
        looks: Looks::Sniffer154,
        note: "Nordic's nRF Sniffer for 802.15.4 firmware",
        source: "nRF-Sniffer-for-802.15.4, nrf802154_sniffer.py: NORDICSEMI_VID 0x1915, SNIFFER_802154_PID 0x154B",
    },
    Known {
        vid: NORDIC,
        pid: Some(0x521f),
        looks: Looks::Dfu,
        note: "an nRF52840 Dongle in its Open DFU Bootloader: no radio firmware runs; flash one (nrfutil, nRF Connect Programmer), then replug it",
        source: "usb.ids: 1915:521f Open DFU Bootloader (the nRF52840 Dongle's bootloader, entered with its RESET button)",
    },
    Known {
        vid: 0x1366,
        pid: None,
        looks: Looks::JLink,
        note: "a SEGGER J-Link's virtual COM port (a Nordic development kit): the nRF's UART; Zephyr's hci_uart runs it at 1000000 baud with RTS/CTS",
        source: "usb.ids: 1366 SEGGER; Zephyr samples/bluetooth/hci_uart boards/nrf52840dk_nrf52840.overlay (current-speed 1000000, hw-flow-control)",
    },
    Known {
        vid: NORDIC,
        pid: None,
        looks: Looks::Nordic,
        note: "a Nordic Semiconductor device whose firmware its USB IDs do not tell",
        source: "usb.ids: 1915 Nordic Semiconductor ASA",
    },
];

/// What a device with these IDs and product string looks like, and why weft says so. The
/// product string decides where the IDs do not: one naming HCI is a controller, one naming an
/// RCP or OpenThread is OpenThread.
pub fn classify(
    vid: Option<u16>,
    pid: Option<u16>,
    product: Option<&str>,
) -> (Looks, &'static str) {
    let product = product.unwrap_or_default().to_ascii_lowercase();
    let known = vid.and_then(|vid| {
        KNOWN
            .iter()
            .find(|k| k.vid == vid && k.pid.is_none_or(|p| Some(p) == pid))
    });
    match known {
        Some(k) if k.pid.is_some() => (k.looks, k.note),
        _ if product.contains("hci") => (
            Looks::Hci,
            "its product string names HCI: a Bluetooth controller over the port",
        ),
        _ if product.contains("rcp") || product.contains("openthread") => (
            Looks::OpenThread,
            "its product string names an RCP or OpenThread: an RCP image speaks Spinel",
        ),
        Some(k) => (k.looks, k.note),
        None => (Looks::Unknown, "a USB serial port weft does not recognise"),
    }
}

/// The radio URI to try on `path` for a device that looks like `looks`; `None` when weft has
/// none to offer.
pub fn suggest(looks: Looks, path: &str) -> Option<String> {
    match looks {
        Looks::Hci => Some(format!("hci:{path}")),
        Looks::JLink => Some(format!("hci:{path}?baud=1000000&rtscts=1")),
        Looks::OpenThread => Some(format!("spinel:{path}")),
        Looks::Sniffer154 => Some(format!("nrf154:{path}")),
        Looks::Dfu | Looks::Nordic | Looks::Unknown => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_table_and_the_product_strings_decide() {
        let c = |vid, pid, product| classify(Some(vid), Some(pid), product).0;
        assert_eq!(c(0x2fe3, 0x0100, None), Looks::Hci);
        assert_eq!(
            c(0x1915, 0xcafe, Some("nRF528xx OpenThread Device")),
            Looks::OpenThread
        );
        assert_eq!(c(0x1915, 0x154b, None), Looks::Sniffer154);
        assert_eq!(c(0x1915, 0x521f, Some("Open DFU Bootloader")), Looks::Dfu);
        assert_eq!(c(0x1915, 0x1234, Some("nRF52 HCI")), Looks::Hci);
        assert_eq!(c(0x1915, 0x1234, Some("ot-rcp")), Looks::OpenThread);
        assert_eq!(c(0x1915, 0x1234, None), Looks::Nordic);
        assert_eq!(c(0x1366, 0x1015, Some("J-Link")), Looks::JLink);
        assert_eq!(c(0x0403, 0x6001, Some("FT232R USB UART")), Looks::Unknown);
        assert_eq!(classify(None, None, None).0, Looks::Unknown);
        // A table entry with a product ID wins over the product string.
        assert_eq!(c(0x1915, 0x154b, Some("HCI")), Looks::Sniffer154);
    }

    #[test]
    fn every_suggestion_is_a_radio_weft_parses() {
        for k in KNOWN {
            if let Some(uri) = suggest(k.looks, "/dev/serial/by-id/usb-x_y-if00") {
                assert!(crate::runtime::RadioArg::parse(&uri).is_ok(), "{uri}");
            }
        }
        assert_eq!(suggest(Looks::Dfu, "/dev/ttyACM0"), None);
    }
}
