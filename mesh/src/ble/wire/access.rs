//! Access layer messages (Mesh Protocol 1.1 §3.7.3): an opcode of 1, 2 or 3 octets followed by
//! the parameters, at most 380 octets in all; and the names of the messages the Bluetooth SIG
//! defines (foundation models of Mesh Protocol 1.1 §4.3, Mesh Model 1.1 §7.1).
//!
//! Opcode formats (§3.7.3.1, Table "Opcode formats"):
//!
//! | first octet  | size | use                                                          |
//! |--------------|------|--------------------------------------------------------------|
//! | `0xxxxxxx`   | 1    | SIG opcodes 0x00..=0x7E; `01111111` (0x7F) is RFU              |
//! | `10xxxxxx`   | 2    | SIG opcodes 0x8000..=0xBFFF, sent big-endian as written        |
//! | `11xxxxxx`   | 3    | vendor: 6-bit opcode, then the 16-bit company ID little-endian |
//!
//! Parameters are little-endian (§3.1), but this module treats them as opaque octets.

use core::fmt;

use super::{at_most, need, Error, Hex, Result, Wire};

/// The largest access payload, opcode included: 32 segments of 12 octets less a 32-bit
/// TransMIC (§3.7.3).
pub const MAX_PAYLOAD_LEN: usize = 380;

/// An access layer opcode (§3.7.3.1).
///
/// Build it with the checked constructors ([`Opcode::one`], [`Opcode::two`],
/// [`Opcode::vendor`]) or [`Opcode::parse`]; the variants hold only values their format can
/// carry (`One`: 0x00..=0x7E, `Two`: 0x8000..=0xBFFF, `Vendor`: `opcode` 0x00..=0x3F).
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Opcode {
    /// A 1-octet SIG opcode, 0x00..=0x7E.
    One(u8),
    /// A 2-octet SIG opcode as written in the specification, 0x8000..=0xBFFF (e.g. 0x8201).
    Two(u16),
    /// A 3-octet vendor opcode: the 6-bit opcode and the company identifier.
    Vendor {
        /// The low six bits of the first octet, 0x00..=0x3F.
        opcode: u8,
        /// The Bluetooth SIG company identifier (sent little-endian).
        company_id: u16,
    },
}

#[allow(clippy::len_without_is_empty)]
impl Opcode {
    /// The RFU 1-octet value (§3.7.3.1).
    pub const RFU: u8 = 0x7F;

    /// A 1-octet opcode; `None` for 0x7F (RFU) and 0x80..
    pub const fn one(v: u8) -> Option<Self> {
        if v < Self::RFU {
            Some(Opcode::One(v))
        } else {
            None
        }
    }

    /// A 2-octet opcode as the specification writes it (0x8000..=0xBFFF), else `None`.
    pub const fn two(v: u16) -> Option<Self> {
        if v & 0xC000 == 0x8000 {
            Some(Opcode::Two(v))
        } else {
            None
        }
    }

    /// A vendor opcode: the 6-bit `opcode` (0x00..=0x3F) and the company identifier.
    pub const fn vendor(opcode: u8, company_id: u16) -> Option<Self> {
        if opcode <= 0x3F {
            Some(Opcode::Vendor { opcode, company_id })
        } else {
            None
        }
    }

    /// Whether the variant holds a value its format can carry.
    pub const fn is_valid(self) -> bool {
        match self {
            Opcode::One(v) => v < Self::RFU,
            Opcode::Two(v) => v & 0xC000 == 0x8000,
            Opcode::Vendor { opcode, .. } => opcode <= 0x3F,
        }
    }

    /// Reads the opcode at the start of `bytes`; returns it and its length in octets.
    pub fn parse(bytes: &[u8]) -> Result<(Opcode, usize)> {
        need(bytes, 1)?;
        let b0 = bytes[0];
        match b0 >> 6 {
            // §3.7.3.1: 0b01111111 is reserved for future use.
            0b00 | 0b01 if b0 == Self::RFU => Err(Error::Invalid {
                field: "opcode",
                value: u32::from(b0),
            }),
            0b00 | 0b01 => Ok((Opcode::One(b0), 1)),
            0b10 => {
                need(bytes, 2)?;
                Ok((Opcode::Two(u16::from_be_bytes([b0, bytes[1]])), 2))
            }
            _ => {
                need(bytes, 3)?;
                Ok((
                    Opcode::Vendor {
                        opcode: b0 & 0x3F,
                        company_id: u16::from_le_bytes([bytes[1], bytes[2]]),
                    },
                    3,
                ))
            }
        }
    }

    /// The number of octets on air: 1, 2 or 3.
    pub const fn len(self) -> usize {
        match self {
            Opcode::One(_) => 1,
            Opcode::Two(_) => 2,
            Opcode::Vendor { .. } => 3,
        }
    }

    /// Writes the on-air octets into `buf[..self.len()]`.
    pub fn emit(self, buf: &mut [u8]) {
        match self {
            Opcode::One(v) => buf[0] = v,
            Opcode::Two(v) => buf[..2].copy_from_slice(&v.to_be_bytes()),
            Opcode::Vendor { opcode, company_id } => {
                buf[0] = 0xC0 | (opcode & 0x3F);
                buf[1..3].copy_from_slice(&company_id.to_le_bytes());
            }
        }
    }

    /// The on-air octets.
    pub fn to_bytes(self) -> Vec<u8> {
        let mut v = vec![0u8; self.len()];
        self.emit(&mut v);
        v
    }

    /// The on-air octets read as one big-endian number: 0x00, 0x8201, 0xd50a00.
    pub fn to_u32(self) -> u32 {
        self.to_bytes()
            .iter()
            .fold(0u32, |acc, b| (acc << 8) | u32::from(*b))
    }

    /// Whether this is a 3-octet vendor opcode.
    pub const fn is_vendor(self) -> bool {
        matches!(self, Opcode::Vendor { .. })
    }

    /// The company identifier of a vendor opcode.
    pub const fn company_id(self) -> Option<u16> {
        match self {
            Opcode::Vendor { company_id, .. } => Some(company_id),
            _ => None,
        }
    }

    /// The specification's name of the message, if the Bluetooth SIG defines it (see
    /// [`opcode_name`]).
    pub fn name(self) -> Option<&'static str> {
        opcode_name(self)
    }
}

/// The on-air octets in lowercase hex: `00`, `8201`, `d50a00`.
impl fmt::Display for Opcode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut b = [0u8; 3];
        self.emit(&mut b);
        write!(f, "{:?}", Hex(&b[..self.len()]))
    }
}

impl fmt::Debug for Opcode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Opcode({self})")
    }
}

/// An access message (§3.7.3): `Opcode || Parameters`, at most [`MAX_PAYLOAD_LEN`] octets.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct AccessMessage {
    /// The opcode.
    pub opcode: Opcode,
    /// The parameters, opaque at this layer (at most 380 - opcode length octets).
    pub parameters: Vec<u8>,
}

impl AccessMessage {
    /// A message from its opcode and parameters.
    pub fn new(opcode: Opcode, parameters: impl Into<Vec<u8>>) -> Self {
        AccessMessage {
            opcode,
            parameters: parameters.into(),
        }
    }

    /// The specification's name of the message, if the Bluetooth SIG defines it.
    pub fn name(&self) -> Option<&'static str> {
        opcode_name(self.opcode)
    }
}

impl fmt::Debug for AccessMessage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AccessMessage")
            .field("opcode", &self.opcode)
            .field("parameters", &Hex(&self.parameters))
            .finish()
    }
}

impl Wire for AccessMessage {
    fn parse(bytes: &[u8]) -> Result<Self> {
        at_most(bytes, MAX_PAYLOAD_LEN)?;
        let (opcode, n) = Opcode::parse(bytes)?;
        Ok(AccessMessage {
            opcode,
            parameters: bytes.get(n..).unwrap_or_default().to_vec(),
        })
    }
    fn buffer_len(&self) -> usize {
        self.opcode.len() + self.parameters.len()
    }
    fn emit(&self, buf: &mut [u8]) {
        let n = self.opcode.len();
        self.opcode.emit(buf);
        buf[n..n + self.parameters.len()].copy_from_slice(&self.parameters);
    }
}

/// The specification's name of a message defined by the Bluetooth SIG, or `None` (vendor
/// opcodes, unassigned values).
///
/// Covers the foundation models of Mesh Protocol 1.1 (§4.3: Configuration, Health, Remote
/// Provisioning, Mesh Private Beacon, On-Demand Private Proxy, SAR Configuration, Opcodes
/// Aggregator, Large Composition Data, Solicitation PDU RPL Configuration, Subnet Bridge) and
/// the models of Mesh Model 1.1 (§7.1 message summary: Generic, Sensor, Time and Scenes,
/// Lighting). Directed Forwarding Configuration and the BLOB Transfer / Firmware Update
/// models are not in the table yet.
pub fn opcode_name(op: Opcode) -> Option<&'static str> {
    OPCODE_NAMES
        .iter()
        .find(|(o, _)| *o == op)
        .map(|(_, name)| *name)
}

const fn o1(v: u8) -> Opcode {
    Opcode::One(v)
}

const fn o2(v: u16) -> Opcode {
    Opcode::Two(v)
}

/// Every SIG-defined opcode this module knows, with the specification's message name.
pub static OPCODE_NAMES: &[(Opcode, &str)] = &[
    // --- Mesh Protocol 1.1 §4.3: Configuration messages (Configuration Server/Client) ---
    (o1(0x00), "Config AppKey Add"),
    (o1(0x01), "Config AppKey Update"),
    (o1(0x02), "Config Composition Data Status"),
    (o1(0x03), "Config Model Publication Set"),
    (o1(0x06), "Config Heartbeat Publication Status"),
    (o2(0x8000), "Config AppKey Delete"),
    (o2(0x8001), "Config AppKey Get"),
    (o2(0x8002), "Config AppKey List"),
    (o2(0x8003), "Config AppKey Status"),
    (o2(0x8008), "Config Composition Data Get"),
    (o2(0x8009), "Config Beacon Get"),
    (o2(0x800A), "Config Beacon Set"),
    (o2(0x800B), "Config Beacon Status"),
    (o2(0x800C), "Config Default TTL Get"),
    (o2(0x800D), "Config Default TTL Set"),
    (o2(0x800E), "Config Default TTL Status"),
    (o2(0x800F), "Config Friend Get"),
    (o2(0x8010), "Config Friend Set"),
    (o2(0x8011), "Config Friend Status"),
    (o2(0x8012), "Config GATT Proxy Get"),
    (o2(0x8013), "Config GATT Proxy Set"),
    (o2(0x8014), "Config GATT Proxy Status"),
    (o2(0x8015), "Config Key Refresh Phase Get"),
    (o2(0x8016), "Config Key Refresh Phase Set"),
    (o2(0x8017), "Config Key Refresh Phase Status"),
    (o2(0x8018), "Config Model Publication Get"),
    (o2(0x8019), "Config Model Publication Status"),
    (o2(0x801A), "Config Model Publication Virtual Address Set"),
    (o2(0x801B), "Config Model Subscription Add"),
    (o2(0x801C), "Config Model Subscription Delete"),
    (o2(0x801D), "Config Model Subscription Delete All"),
    (o2(0x801E), "Config Model Subscription Overwrite"),
    (o2(0x801F), "Config Model Subscription Status"),
    (o2(0x8020), "Config Model Subscription Virtual Address Add"),
    (
        o2(0x8021),
        "Config Model Subscription Virtual Address Delete",
    ),
    (
        o2(0x8022),
        "Config Model Subscription Virtual Address Overwrite",
    ),
    (o2(0x8023), "Config Network Transmit Get"),
    (o2(0x8024), "Config Network Transmit Set"),
    (o2(0x8025), "Config Network Transmit Status"),
    (o2(0x8026), "Config Relay Get"),
    (o2(0x8027), "Config Relay Set"),
    (o2(0x8028), "Config Relay Status"),
    (o2(0x8029), "Config SIG Model Subscription Get"),
    (o2(0x802A), "Config SIG Model Subscription List"),
    (o2(0x802B), "Config Vendor Model Subscription Get"),
    (o2(0x802C), "Config Vendor Model Subscription List"),
    (o2(0x802D), "Config Low Power Node PollTimeout Get"),
    (o2(0x802E), "Config Low Power Node PollTimeout Status"),
    (o2(0x8038), "Config Heartbeat Publication Get"),
    (o2(0x8039), "Config Heartbeat Publication Set"),
    (o2(0x803A), "Config Heartbeat Subscription Get"),
    (o2(0x803B), "Config Heartbeat Subscription Set"),
    (o2(0x803C), "Config Heartbeat Subscription Status"),
    (o2(0x803D), "Config Model App Bind"),
    (o2(0x803E), "Config Model App Status"),
    (o2(0x803F), "Config Model App Unbind"),
    (o2(0x8040), "Config NetKey Add"),
    (o2(0x8041), "Config NetKey Delete"),
    (o2(0x8042), "Config NetKey Get"),
    (o2(0x8043), "Config NetKey List"),
    (o2(0x8044), "Config NetKey Status"),
    (o2(0x8045), "Config NetKey Update"),
    (o2(0x8046), "Config Node Identity Get"),
    (o2(0x8047), "Config Node Identity Set"),
    (o2(0x8048), "Config Node Identity Status"),
    (o2(0x8049), "Config Node Reset"),
    (o2(0x804A), "Config Node Reset Status"),
    (o2(0x804B), "Config SIG Model App Get"),
    (o2(0x804C), "Config SIG Model App List"),
    (o2(0x804D), "Config Vendor Model App Get"),
    (o2(0x804E), "Config Vendor Model App List"),
    // --- §4.3: Health messages (Health Server/Client) ---
    (o1(0x04), "Health Current Status"),
    (o1(0x05), "Health Fault Status"),
    (o2(0x8004), "Health Attention Get"),
    (o2(0x8005), "Health Attention Set"),
    (o2(0x8006), "Health Attention Set Unacknowledged"),
    (o2(0x8007), "Health Attention Status"),
    (o2(0x802F), "Health Fault Clear"),
    (o2(0x8030), "Health Fault Clear Unacknowledged"),
    (o2(0x8031), "Health Fault Get"),
    (o2(0x8032), "Health Fault Test"),
    (o2(0x8033), "Health Fault Test Unacknowledged"),
    (o2(0x8034), "Health Period Get"),
    (o2(0x8035), "Health Period Set"),
    (o2(0x8036), "Health Period Set Unacknowledged"),
    (o2(0x8037), "Health Period Status"),
    // --- §4.3: Remote Provisioning messages (Mesh 1.1) ---
    (o2(0x804F), "Remote Provisioning Scan Capabilities Get"),
    (o2(0x8050), "Remote Provisioning Scan Capabilities Status"),
    (o2(0x8051), "Remote Provisioning Scan Get"),
    (o2(0x8052), "Remote Provisioning Scan Start"),
    (o2(0x8053), "Remote Provisioning Scan Stop"),
    (o2(0x8054), "Remote Provisioning Scan Status"),
    (o2(0x8055), "Remote Provisioning Scan Report"),
    (o2(0x8056), "Remote Provisioning Extended Scan Start"),
    (o2(0x8057), "Remote Provisioning Extended Scan Report"),
    (o2(0x8058), "Remote Provisioning Link Get"),
    (o2(0x8059), "Remote Provisioning Link Open"),
    (o2(0x805A), "Remote Provisioning Link Close"),
    (o2(0x805B), "Remote Provisioning Link Status"),
    (o2(0x805C), "Remote Provisioning Link Report"),
    (o2(0x805D), "Remote Provisioning PDU Send"),
    (o2(0x805E), "Remote Provisioning PDU Outbound Report"),
    (o2(0x805F), "Remote Provisioning PDU Report"),
    // --- §4.3: Mesh Private Beacon messages (Mesh 1.1) ---
    (o2(0x8060), "Private Beacon Get"),
    (o2(0x8061), "Private Beacon Set"),
    (o2(0x8062), "Private Beacon Status"),
    (o2(0x8063), "Private GATT Proxy Get"),
    (o2(0x8064), "Private GATT Proxy Set"),
    (o2(0x8065), "Private GATT Proxy Status"),
    (o2(0x8066), "Private Node Identity Get"),
    (o2(0x8067), "Private Node Identity Set"),
    (o2(0x8068), "Private Node Identity Status"),
    // --- §4.3: On-Demand Private Proxy messages (Mesh 1.1) ---
    (o2(0x8069), "On-Demand Private Proxy Get"),
    (o2(0x806A), "On-Demand Private Proxy Set"),
    (o2(0x806B), "On-Demand Private Proxy Status"),
    // --- §4.3: SAR Configuration messages (Mesh 1.1) ---
    (o2(0x806C), "SAR Transmitter Get"),
    (o2(0x806D), "SAR Transmitter Set"),
    (o2(0x806E), "SAR Transmitter Status"),
    (o2(0x806F), "SAR Receiver Get"),
    (o2(0x8070), "SAR Receiver Set"),
    (o2(0x8071), "SAR Receiver Status"),
    // --- §4.3: Opcodes Aggregator messages (Mesh 1.1) ---
    (o2(0x8072), "Opcodes Aggregator Sequence"),
    (o2(0x8073), "Opcodes Aggregator Status"),
    // --- §4.3: Large Composition Data messages (Mesh 1.1) ---
    (o2(0x8074), "Large Composition Data Get"),
    (o2(0x8075), "Large Composition Data Status"),
    (o2(0x8076), "Models Metadata Get"),
    (o2(0x8077), "Models Metadata Status"),
    // --- §4.3: Solicitation PDU RPL Configuration messages (Mesh 1.1) ---
    (o2(0x8078), "Solicitation PDU RPL Items Clear"),
    (
        o2(0x8079),
        "Solicitation PDU RPL Items Clear Unacknowledged",
    ),
    (o2(0x807A), "Solicitation PDU RPL Items Status"),
    // --- §4.3: Bridge Configuration messages (Mesh 1.1) ---
    (o2(0x80B1), "Subnet Bridge Get"),
    (o2(0x80B2), "Subnet Bridge Set"),
    (o2(0x80B3), "Subnet Bridge Status"),
    (o2(0x80B4), "Bridging Table Add"),
    (o2(0x80B5), "Bridging Table Remove"),
    (o2(0x80B6), "Bridging Table Status"),
    (o2(0x80B7), "Bridged Subnets Get"),
    (o2(0x80B8), "Bridged Subnets List"),
    (o2(0x80B9), "Bridging Table Get"),
    (o2(0x80BA), "Bridging Table List"),
    (o2(0x80BB), "Bridging Table Size Get"),
    (o2(0x80BC), "Bridging Table Size Status"),
    // --- Mesh Model 1.1 §7.1: Generic OnOff ---
    (o2(0x8201), "Generic OnOff Get"),
    (o2(0x8202), "Generic OnOff Set"),
    (o2(0x8203), "Generic OnOff Set Unacknowledged"),
    (o2(0x8204), "Generic OnOff Status"),
    // --- §7.1: Generic Level ---
    (o2(0x8205), "Generic Level Get"),
    (o2(0x8206), "Generic Level Set"),
    (o2(0x8207), "Generic Level Set Unacknowledged"),
    (o2(0x8208), "Generic Level Status"),
    (o2(0x8209), "Generic Delta Set"),
    (o2(0x820A), "Generic Delta Set Unacknowledged"),
    (o2(0x820B), "Generic Move Set"),
    (o2(0x820C), "Generic Move Set Unacknowledged"),
    // --- §7.1: Generic Default Transition Time ---
    (o2(0x820D), "Generic Default Transition Time Get"),
    (o2(0x820E), "Generic Default Transition Time Set"),
    (
        o2(0x820F),
        "Generic Default Transition Time Set Unacknowledged",
    ),
    (o2(0x8210), "Generic Default Transition Time Status"),
    // --- §7.1: Generic Power OnOff ---
    (o2(0x8211), "Generic OnPowerUp Get"),
    (o2(0x8212), "Generic OnPowerUp Status"),
    (o2(0x8213), "Generic OnPowerUp Set"),
    (o2(0x8214), "Generic OnPowerUp Set Unacknowledged"),
    // --- §7.1: Generic Power Level ---
    (o2(0x8215), "Generic Power Level Get"),
    (o2(0x8216), "Generic Power Level Set"),
    (o2(0x8217), "Generic Power Level Set Unacknowledged"),
    (o2(0x8218), "Generic Power Level Status"),
    (o2(0x8219), "Generic Power Last Get"),
    (o2(0x821A), "Generic Power Last Status"),
    (o2(0x821B), "Generic Power Default Get"),
    (o2(0x821C), "Generic Power Default Status"),
    (o2(0x821D), "Generic Power Range Get"),
    (o2(0x821E), "Generic Power Range Status"),
    (o2(0x821F), "Generic Power Default Set"),
    (o2(0x8220), "Generic Power Default Set Unacknowledged"),
    (o2(0x8221), "Generic Power Range Set"),
    (o2(0x8222), "Generic Power Range Set Unacknowledged"),
    // --- §7.1: Generic Battery ---
    (o2(0x8223), "Generic Battery Get"),
    (o2(0x8224), "Generic Battery Status"),
    // --- §7.1: Generic Location ---
    (o2(0x8225), "Generic Location Global Get"),
    (o1(0x40), "Generic Location Global Status"),
    (o1(0x41), "Generic Location Global Set"),
    (o1(0x42), "Generic Location Global Set Unacknowledged"),
    (o2(0x8226), "Generic Location Local Get"),
    (o2(0x8227), "Generic Location Local Status"),
    (o2(0x8228), "Generic Location Local Set"),
    (o2(0x8229), "Generic Location Local Set Unacknowledged"),
    // --- §7.1: Generic Property ---
    (o2(0x822A), "Generic Manufacturer Properties Get"),
    (o1(0x43), "Generic Manufacturer Properties Status"),
    (o2(0x822B), "Generic Manufacturer Property Get"),
    (o1(0x44), "Generic Manufacturer Property Set"),
    (o1(0x45), "Generic Manufacturer Property Set Unacknowledged"),
    (o1(0x46), "Generic Manufacturer Property Status"),
    (o2(0x822C), "Generic Admin Properties Get"),
    (o1(0x47), "Generic Admin Properties Status"),
    (o2(0x822D), "Generic Admin Property Get"),
    (o1(0x48), "Generic Admin Property Set"),
    (o1(0x49), "Generic Admin Property Set Unacknowledged"),
    (o1(0x4A), "Generic Admin Property Status"),
    (o2(0x822E), "Generic User Properties Get"),
    (o1(0x4B), "Generic User Properties Status"),
    (o2(0x822F), "Generic User Property Get"),
    (o1(0x4C), "Generic User Property Set"),
    (o1(0x4D), "Generic User Property Set Unacknowledged"),
    (o1(0x4E), "Generic User Property Status"),
    (o1(0x4F), "Generic Client Properties Get"),
    (o1(0x50), "Generic Client Properties Status"),
    // --- §7.1: Sensor ---
    (o2(0x8230), "Sensor Descriptor Get"),
    (o1(0x51), "Sensor Descriptor Status"),
    (o2(0x8231), "Sensor Get"),
    (o1(0x52), "Sensor Status"),
    (o2(0x8232), "Sensor Column Get"),
    (o1(0x53), "Sensor Column Status"),
    (o2(0x8233), "Sensor Series Get"),
    (o1(0x54), "Sensor Series Status"),
    (o2(0x8234), "Sensor Cadence Get"),
    (o1(0x55), "Sensor Cadence Set"),
    (o1(0x56), "Sensor Cadence Set Unacknowledged"),
    (o1(0x57), "Sensor Cadence Status"),
    (o2(0x8235), "Sensor Settings Get"),
    (o1(0x58), "Sensor Settings Status"),
    (o2(0x8236), "Sensor Setting Get"),
    (o1(0x59), "Sensor Setting Set"),
    (o1(0x5A), "Sensor Setting Set Unacknowledged"),
    (o1(0x5B), "Sensor Setting Status"),
    // --- §7.1: Time ---
    (o2(0x8237), "Time Get"),
    (o1(0x5C), "Time Set"),
    (o1(0x5D), "Time Status"),
    (o2(0x8238), "Time Role Get"),
    (o2(0x8239), "Time Role Set"),
    (o2(0x823A), "Time Role Status"),
    (o2(0x823B), "Time Zone Get"),
    (o2(0x823C), "Time Zone Set"),
    (o2(0x823D), "Time Zone Status"),
    (o2(0x823E), "TAI-UTC Delta Get"),
    (o2(0x823F), "TAI-UTC Delta Set"),
    (o2(0x8240), "TAI-UTC Delta Status"),
    // --- §7.1: Scene ---
    (o2(0x8241), "Scene Get"),
    (o2(0x8242), "Scene Recall"),
    (o2(0x8243), "Scene Recall Unacknowledged"),
    (o1(0x5E), "Scene Status"),
    (o2(0x8244), "Scene Register Get"),
    (o2(0x8245), "Scene Register Status"),
    (o2(0x8246), "Scene Store"),
    (o2(0x8247), "Scene Store Unacknowledged"),
    (o2(0x829E), "Scene Delete"),
    (o2(0x829F), "Scene Delete Unacknowledged"),
    // --- §7.1: Scheduler ---
    (o2(0x8248), "Scheduler Action Get"),
    (o1(0x5F), "Scheduler Action Status"),
    (o2(0x8249), "Scheduler Get"),
    (o2(0x824A), "Scheduler Status"),
    (o1(0x60), "Scheduler Action Set"),
    (o1(0x61), "Scheduler Action Set Unacknowledged"),
    // --- §7.1: Light Lightness ---
    (o2(0x824B), "Light Lightness Get"),
    (o2(0x824C), "Light Lightness Set"),
    (o2(0x824D), "Light Lightness Set Unacknowledged"),
    (o2(0x824E), "Light Lightness Status"),
    (o2(0x824F), "Light Lightness Linear Get"),
    (o2(0x8250), "Light Lightness Linear Set"),
    (o2(0x8251), "Light Lightness Linear Set Unacknowledged"),
    (o2(0x8252), "Light Lightness Linear Status"),
    (o2(0x8253), "Light Lightness Last Get"),
    (o2(0x8254), "Light Lightness Last Status"),
    (o2(0x8255), "Light Lightness Default Get"),
    (o2(0x8256), "Light Lightness Default Status"),
    (o2(0x8257), "Light Lightness Range Get"),
    (o2(0x8258), "Light Lightness Range Status"),
    (o2(0x8259), "Light Lightness Default Set"),
    (o2(0x825A), "Light Lightness Default Set Unacknowledged"),
    (o2(0x825B), "Light Lightness Range Set"),
    (o2(0x825C), "Light Lightness Range Set Unacknowledged"),
    // --- §7.1: Light CTL ---
    (o2(0x825D), "Light CTL Get"),
    (o2(0x825E), "Light CTL Set"),
    (o2(0x825F), "Light CTL Set Unacknowledged"),
    (o2(0x8260), "Light CTL Status"),
    (o2(0x8261), "Light CTL Temperature Get"),
    (o2(0x8262), "Light CTL Temperature Range Get"),
    (o2(0x8263), "Light CTL Temperature Range Status"),
    (o2(0x8264), "Light CTL Temperature Set"),
    (o2(0x8265), "Light CTL Temperature Set Unacknowledged"),
    (o2(0x8266), "Light CTL Temperature Status"),
    (o2(0x8267), "Light CTL Default Get"),
    (o2(0x8268), "Light CTL Default Status"),
    (o2(0x8269), "Light CTL Default Set"),
    (o2(0x826A), "Light CTL Default Set Unacknowledged"),
    (o2(0x826B), "Light CTL Temperature Range Set"),
    (o2(0x826C), "Light CTL Temperature Range Set Unacknowledged"),
    // --- §7.1: Light HSL ---
    (o2(0x826D), "Light HSL Get"),
    (o2(0x826E), "Light HSL Hue Get"),
    (o2(0x826F), "Light HSL Hue Set"),
    (o2(0x8270), "Light HSL Hue Set Unacknowledged"),
    (o2(0x8271), "Light HSL Hue Status"),
    (o2(0x8272), "Light HSL Saturation Get"),
    (o2(0x8273), "Light HSL Saturation Set"),
    (o2(0x8274), "Light HSL Saturation Set Unacknowledged"),
    (o2(0x8275), "Light HSL Saturation Status"),
    (o2(0x8276), "Light HSL Set"),
    (o2(0x8277), "Light HSL Set Unacknowledged"),
    (o2(0x8278), "Light HSL Status"),
    (o2(0x8279), "Light HSL Target Get"),
    (o2(0x827A), "Light HSL Target Status"),
    (o2(0x827B), "Light HSL Default Get"),
    (o2(0x827C), "Light HSL Default Status"),
    (o2(0x827D), "Light HSL Range Get"),
    (o2(0x827E), "Light HSL Range Status"),
    (o2(0x827F), "Light HSL Default Set"),
    (o2(0x8280), "Light HSL Default Set Unacknowledged"),
    (o2(0x8281), "Light HSL Range Set"),
    (o2(0x8282), "Light HSL Range Set Unacknowledged"),
    // --- §7.1: Light xyL ---
    (o2(0x8283), "Light xyL Get"),
    (o2(0x8284), "Light xyL Set"),
    (o2(0x8285), "Light xyL Set Unacknowledged"),
    (o2(0x8286), "Light xyL Status"),
    (o2(0x8287), "Light xyL Target Get"),
    (o2(0x8288), "Light xyL Target Status"),
    (o2(0x8289), "Light xyL Default Get"),
    (o2(0x828A), "Light xyL Default Status"),
    (o2(0x828B), "Light xyL Range Get"),
    (o2(0x828C), "Light xyL Range Status"),
    (o2(0x828D), "Light xyL Default Set"),
    (o2(0x828E), "Light xyL Default Set Unacknowledged"),
    (o2(0x828F), "Light xyL Range Set"),
    (o2(0x8290), "Light xyL Range Set Unacknowledged"),
    // --- §7.1: Light LC ---
    (o2(0x8291), "Light LC Mode Get"),
    (o2(0x8292), "Light LC Mode Set"),
    (o2(0x8293), "Light LC Mode Set Unacknowledged"),
    (o2(0x8294), "Light LC Mode Status"),
    (o2(0x8295), "Light LC OM Get"),
    (o2(0x8296), "Light LC OM Set"),
    (o2(0x8297), "Light LC OM Set Unacknowledged"),
    (o2(0x8298), "Light LC OM Status"),
    (o2(0x8299), "Light LC Light OnOff Get"),
    (o2(0x829A), "Light LC Light OnOff Set"),
    (o2(0x829B), "Light LC Light OnOff Set Unacknowledged"),
    (o2(0x829C), "Light LC Light OnOff Status"),
    (o2(0x829D), "Light LC Property Get"),
    (o1(0x62), "Light LC Property Set"),
    (o1(0x63), "Light LC Property Set Unacknowledged"),
    (o1(0x64), "Light LC Property Status"),
];

/// Runs every parser of this module on `data`; whatever parses must emit bytes that parse to
/// the same value (a cargo-fuzz target).
#[doc(hidden)]
pub fn fuzz_parse(data: &[u8]) {
    if let Ok((op, n)) = Opcode::parse(data) {
        assert!(op.is_valid());
        assert_eq!(op.len(), n);
        let bytes = op.to_bytes();
        assert_eq!(data.get(..n), Some(&bytes[..]));
        assert_eq!(Opcode::parse(&bytes), Ok((op, n)));
        let _ = opcode_name(op);
    }
    if let Ok(m) = AccessMessage::parse(data) {
        let bytes = m.to_vec();
        assert_eq!(bytes, data);
        assert_eq!(AccessMessage::parse(&bytes), Ok(m));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn h(s: &str) -> Vec<u8> {
        hex::decode(s).unwrap()
    }

    // Mesh Protocol §8.3.6, message #6: Config AppKey Add from the Provisioner 0x0003.
    #[test]
    fn sample_message_6_appkey_add() {
        let payload = h("0056341263964771734fbd76e3b40519d1d94a48");
        let m = AccessMessage::parse(&payload).unwrap();
        assert_eq!(m.opcode, Opcode::One(0x00));
        assert_eq!(m.name(), Some("Config AppKey Add"));
        assert_eq!(m.parameters, h("56341263964771734fbd76e3b40519d1d94a48"));
        assert_eq!(m.to_vec(), payload);
        assert_eq!(m.opcode.to_string(), "00");
    }

    // §8.3.16, message #16: Config AppKey Status from the node 0x1201.
    #[test]
    fn sample_message_16_appkey_status() {
        let payload = h("800300563412");
        let m = AccessMessage::parse(&payload).unwrap();
        assert_eq!(m.opcode, Opcode::Two(0x8003));
        assert_eq!(m.name(), Some("Config AppKey Status"));
        assert_eq!(m.parameters, h("00563412"));
        assert_eq!(m.to_vec(), payload);
        assert_eq!(m.opcode.to_string(), "8003");
        assert_eq!(m.opcode.to_u32(), 0x8003);
    }

    // §8.3.18 message #18 and §8.3.20 message #20: Health Current Status.
    #[test]
    fn sample_messages_18_and_20_health_current_status() {
        for payload in ["0400000000", "04000000010703"] {
            let m = AccessMessage::parse(&h(payload)).unwrap();
            assert_eq!(m.opcode, Opcode::One(0x04));
            assert_eq!(m.name(), Some("Health Current Status"));
            assert_eq!(m.to_vec(), h(payload));
        }
    }

    // §8.3.22 message #22 (and #23): vendor opcode 0x15 of company 0x000a, "Hello".
    #[test]
    fn sample_message_22_vendor() {
        let payload = h("d50a0048656c6c6f");
        let m = AccessMessage::parse(&payload).unwrap();
        assert_eq!(
            m.opcode,
            Opcode::Vendor {
                opcode: 0x15,
                company_id: 0x000a
            }
        );
        assert_eq!(m.parameters, b"Hello");
        assert_eq!(m.name(), None);
        assert_eq!(m.opcode.to_string(), "d50a00");
        assert_eq!(m.opcode.to_u32(), 0xd50a00);
        assert_eq!(m.opcode.company_id(), Some(0x000a));
        assert!(m.opcode.is_vendor());
        assert_eq!(m.to_vec(), payload);
        assert_eq!(
            format!("{m:?}"),
            "AccessMessage { opcode: Opcode(d50a00), parameters: 48656c6c6f }"
        );
    }

    // §8.3.24, message #24: vendor opcode 0x2a of company 0x000a, "World".
    #[test]
    fn sample_message_24_vendor() {
        let m = AccessMessage::parse(&h("ea0a00576f726c64")).unwrap();
        assert_eq!(m.opcode, Opcode::vendor(0x2a, 0x000a).unwrap());
        assert_eq!(m.parameters, b"World");
    }

    #[test]
    fn opcode_formats() {
        assert_eq!(Opcode::parse(&[0x00]), Ok((Opcode::One(0), 1)));
        assert_eq!(Opcode::parse(&[0x7e, 0xff]), Ok((Opcode::One(0x7e), 1)));
        assert_eq!(
            Opcode::parse(&[0x7f]),
            Err(Error::Invalid {
                field: "opcode",
                value: 0x7f
            })
        );
        assert_eq!(Opcode::parse(&[0x82, 0x01]), Ok((Opcode::Two(0x8201), 2)));
        assert_eq!(
            Opcode::parse(&[0xbf, 0xff, 0x00]),
            Ok((Opcode::Two(0xbfff), 2))
        );
        assert_eq!(
            Opcode::parse(&[0xff, 0x34, 0x12]),
            Ok((
                Opcode::Vendor {
                    opcode: 0x3f,
                    company_id: 0x1234
                },
                3
            ))
        );
        assert_eq!(
            Opcode::parse(&[]),
            Err(Error::Truncated { need: 1, got: 0 })
        );
        assert_eq!(
            Opcode::parse(&[0x82]),
            Err(Error::Truncated { need: 2, got: 1 })
        );
        assert_eq!(
            Opcode::parse(&[0xc0, 0x00]),
            Err(Error::Truncated { need: 3, got: 2 })
        );
        assert_eq!(Opcode::one(0x7f), None);
        assert_eq!(Opcode::one(0x80), None);
        assert_eq!(Opcode::two(0x7fff), None);
        assert_eq!(Opcode::two(0xc000), None);
        assert_eq!(Opcode::vendor(0x40, 0), None);
        assert_eq!(Opcode::two(0x8201).unwrap().to_bytes(), vec![0x82, 0x01]);
        assert_eq!(Opcode::One(0x04).len(), 1);
        assert_eq!(format!("{:?}", Opcode::Two(0x8201)), "Opcode(8201)");
    }

    #[test]
    fn payload_limits() {
        assert_eq!(
            AccessMessage::parse(&[]),
            Err(Error::Truncated { need: 1, got: 0 })
        );
        let mut max = vec![0x82, 0x02];
        max.resize(MAX_PAYLOAD_LEN, 0xaa);
        let m = AccessMessage::parse(&max).unwrap();
        assert_eq!(m.parameters.len(), MAX_PAYLOAD_LEN - 2);
        max.push(0);
        assert_eq!(
            AccessMessage::parse(&max),
            Err(Error::TooLong {
                max: MAX_PAYLOAD_LEN,
                got: MAX_PAYLOAD_LEN + 1
            })
        );
        // An opcode alone is a message with no parameters.
        let get = AccessMessage::parse(&[0x82, 0x01]).unwrap();
        assert_eq!(get, AccessMessage::new(Opcode::Two(0x8201), []));
        assert_eq!(get.name(), Some("Generic OnOff Get"));
    }

    #[test]
    fn name_table() {
        // Examples across the table.
        for (op, name) in [
            (Opcode::Two(0x8201), "Generic OnOff Get"),
            (Opcode::Two(0x8202), "Generic OnOff Set"),
            (Opcode::Two(0x8203), "Generic OnOff Set Unacknowledged"),
            (Opcode::Two(0x8204), "Generic OnOff Status"),
            (Opcode::Two(0x8206), "Generic Level Set"),
            (
                Opcode::Two(0x8210),
                "Generic Default Transition Time Status",
            ),
            (Opcode::Two(0x8213), "Generic OnPowerUp Set"),
            (Opcode::Two(0x8231), "Sensor Get"),
            (Opcode::One(0x52), "Sensor Status"),
            (Opcode::One(0x00), "Config AppKey Add"),
            (Opcode::One(0x06), "Config Heartbeat Publication Status"),
            (Opcode::Two(0x8003), "Config AppKey Status"),
            (Opcode::Two(0x8049), "Config Node Reset"),
            (Opcode::Two(0x8037), "Health Period Status"),
            (Opcode::Two(0x806C), "SAR Transmitter Get"),
        ] {
            assert_eq!(opcode_name(op), Some(name), "{op}");
            assert_eq!(op.name(), Some(name));
        }
        assert_eq!(opcode_name(Opcode::One(0x7e)), None);
        assert_eq!(opcode_name(Opcode::Two(0xbfff)), None);
        // Every entry is a valid opcode, opcodes are unique, names are unique.
        let mut ops = std::collections::HashSet::new();
        let mut names = std::collections::HashSet::new();
        for (op, name) in OPCODE_NAMES {
            assert!(op.is_valid(), "{op}");
            assert!(ops.insert(*op), "duplicate opcode {op}");
            assert!(names.insert(*name), "duplicate name {name}");
            assert_eq!(Opcode::parse(&op.to_bytes()), Ok((*op, op.len())));
        }
        // The Configuration and Health ranges of Mesh Protocol 1.1 are contiguous.
        for v in 0x8000u16..=0x807A {
            assert!(opcode_name(Opcode::Two(v)).is_some(), "{v:04x}");
        }
        for v in 0x8201u16..=0x829F {
            assert!(opcode_name(Opcode::Two(v)).is_some(), "{v:04x}");
        }
        for v in (0x00u8..=0x06).chain(0x40..=0x64) {
            assert!(opcode_name(Opcode::One(v)).is_some(), "{v:02x}");
        }
    }

    fn arb_opcode() -> impl Strategy<Value = Opcode> {
        prop_oneof![
            (0u8..=0x7e).prop_map(Opcode::One),
            (0x8000u16..=0xbfff).prop_map(Opcode::Two),
            (0u8..=0x3f, any::<u16>())
                .prop_map(|(opcode, company_id)| Opcode::Vendor { opcode, company_id }),
        ]
    }

    fn arb_message() -> impl Strategy<Value = AccessMessage> {
        arb_opcode().prop_flat_map(|op| {
            proptest::collection::vec(any::<u8>(), 0..=MAX_PAYLOAD_LEN - op.len()).prop_map(
                move |parameters| AccessMessage {
                    opcode: op,
                    parameters,
                },
            )
        })
    }

    proptest! {
        #[test]
        fn opcode_round_trip(op in arb_opcode()) {
            let bytes = op.to_bytes();
            prop_assert_eq!(bytes.len(), op.len());
            prop_assert_eq!(Opcode::parse(&bytes), Ok((op, op.len())));
            prop_assert_eq!(op.to_string(), hex::encode(&bytes));
        }

        #[test]
        fn message_round_trip(m in arb_message()) {
            let bytes = m.to_vec();
            prop_assert_eq!(bytes.len(), m.buffer_len());
            prop_assert_eq!(AccessMessage::parse(&bytes), Ok(m));
        }

        #[test]
        fn arbitrary_bytes_never_panic(data in proptest::collection::vec(any::<u8>(), 0..400)) {
            fuzz_parse(&data);
        }
    }
}
