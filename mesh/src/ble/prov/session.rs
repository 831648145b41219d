//! The provisioning protocol (Mesh Protocol 1.1 §5.4): Invite, Capabilities, Start, public
//! key exchange, authentication (No OOB, Static OOB, Output OOB, Input OOB), confirmation and
//! random exchange, Provisioning Data and Complete, or Failed — for the Provisioner and for
//! the device, as one sans-IO state machine over whole Provisioning PDUs.
//!
//! A [`Session`] takes Provisioning PDUs in ([`Session::handle_pdu`]), hands PDUs out
//! ([`Session::poll_pdu`]) for a bearer to carry, and reports [`SessionEvent`]s. It reads no
//! clock: `now` is passed in, and the 60-second protocol timeout (§5.4.4) is a deadline the
//! caller polls. Randomness (key pairs, Random values, OOB values) comes from the `RngCore`
//! passed to the calls that need it; tests can pin the key pair and Random with
//! [`Session::with_secrets`].

use std::collections::VecDeque;

use rand_core::RngCore;

use super::crypto::{self, SessionSecrets};
use super::start::{choose_start, start_allowed};
use super::PROTOCOL_TIMEOUT;
use super::{binary_auth_value, generate_key_pair, Failure, OobAction, OobError, OobValue};
use crate::ble::wire::prov::{
    Algorithm, AuthMethod, Capabilities, ErrorCode, ProvisioningData, ProvisioningPdu,
    ProvisioningValue, PublicKeyPdu, Start,
};
use crate::ble::wire::Wire;
use crate::ble::UnicastAddress;
use crate::crypto::{EcdhError, KeyPair, PublicKey};
use crate::time::Instant;

/// Which side of the provisioning protocol a session plays.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Role {
    /// The Provisioner: invites, chooses the method, sends the Provisioning Data.
    Provisioner,
    /// The device being provisioned (the Provisionee).
    Device,
}

/// How a Provisioner chooses the authentication method from the device's capabilities.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AuthPolicy {
    /// The strongest the device offers: Static OOB when a static value is configured, else
    /// Output OOB (numeric, alphanumeric, blink, beep, vibrate), else Input OOB (numeric,
    /// alphanumeric, push, twist), with the device's largest size, else No OOB.
    Auto,
    /// Exactly this method; provisioning fails if the device does not offer it.
    Fixed(AuthMethod),
}

/// What a Provisioner needs to provision one device.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProvisionerConfig {
    /// Attention Duration of the Invite, seconds (§5.4.1.1).
    pub attention_duration: u8,
    /// The Provisioning Data to send: NetKey, key index, flags, IV index and the unicast
    /// address of the primary element (§5.4.2.5).
    pub data: ProvisioningData,
    /// The algorithm to use; `None` chooses the strongest the device supports (§5.4.2.3).
    pub algorithm: Option<Algorithm>,
    /// How to choose the authentication method.
    pub auth: AuthPolicy,
    /// The device's static OOB value, when known.
    pub static_oob: Option<Vec<u8>>,
    /// The device's public key obtained out of band, when known (§5.4.2.3).
    pub device_public_key: Option<PublicKey>,
}

impl ProvisionerConfig {
    /// A configuration sending `data`, with automatic choices and no OOB information.
    pub fn new(data: ProvisioningData) -> Self {
        ProvisionerConfig {
            attention_duration: 0,
            data,
            algorithm: None,
            auth: AuthPolicy::Auto,
            static_oob: None,
            device_public_key: None,
        }
    }
}

/// What an unprovisioned device offers.
#[derive(Clone, PartialEq, Eq)]
pub struct DeviceConfig {
    /// The Provisioning Capabilities it sends (§5.4.1.2).
    pub capabilities: Capabilities,
    /// Its static OOB value (Binary data type, §5.4.2.4.1), when it has one.
    pub static_oob: Option<Vec<u8>>,
    /// The private key whose public key is available out of band (§5.4.2.3), when
    /// `capabilities.public_key_oob` is set.
    pub oob_private_key: Option<[u8; 32]>,
}

impl core::fmt::Debug for DeviceConfig {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("DeviceConfig")
            .field("capabilities", &self.capabilities)
            .field("static_oob", &self.static_oob.as_ref().map(|_| ".."))
            .field("oob_private_key", &self.oob_private_key.map(|_| ".."))
            .finish()
    }
}

impl DeviceConfig {
    /// A device with `capabilities` and no OOB secrets.
    pub fn new(capabilities: Capabilities) -> Self {
        DeviceConfig {
            capabilities,
            static_oob: None,
            oob_private_key: None,
        }
    }
}

/// The result of a successful provisioning, on either side.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Provisioned {
    /// The Provisioning Data sent (Provisioner) or decrypted (device).
    pub data: ProvisioningData,
    /// The device key, `k1(ECDHSecret, ProvisioningSalt, "prdk")` (§3.9.6.1).
    pub device_key: [u8; 16],
    /// The number of elements, hence addresses `data.unicast_address ..` + this - 1.
    pub number_of_elements: u8,
    /// The algorithm used.
    pub algorithm: Algorithm,
    /// The authentication method used.
    pub authentication: AuthMethod,
    /// Whether the device's public key came out of band.
    pub public_key_oob: bool,
}

/// What a session reports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SessionEvent {
    /// Device: an Invite arrived; identify for this many seconds (§5.4.2.2).
    Attention {
        /// Attention Duration, seconds (0: off).
        seconds: u8,
    },
    /// Provisioner: the device's capabilities arrived.
    Capabilities(Capabilities),
    /// Both: the method chosen (Provisioner) or accepted (device).
    Started(Start),
    /// Output this value to the user with `action`: the device for Output OOB, the
    /// Provisioner for Input OOB.
    OobOutput {
        /// The action that outputs (or that the user must perform).
        action: OobAction,
        /// The value.
        value: OobValue,
    },
    /// The user must enter the value with [`Session::input_oob`]: the Provisioner for Output
    /// OOB, the device for Input OOB.
    OobInputNeeded {
        /// The action the value was output or must be input with.
        action: OobAction,
        /// Its size, digits or characters.
        size: u8,
    },
    /// Provisioning completed.
    Complete(Provisioned),
    /// Provisioning failed.
    Failed(Failure),
}

/// The values a session derives, kept for inspection (and for checking the specification's
/// sample data). Empty or `None` until computed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Material {
    /// ConfirmationInputs (145 octets).
    pub confirmation_inputs: Vec<u8>,
    /// ECDHSecret.
    pub ecdh_secret: Option<[u8; 32]>,
    /// AuthValue (16 or 32 octets).
    pub auth_value: Vec<u8>,
    /// ConfirmationSalt (16 or 32 octets).
    pub confirmation_salt: Vec<u8>,
    /// ConfirmationKey (16 or 32 octets).
    pub confirmation_key: Vec<u8>,
    /// RandomProvisioner.
    pub random_provisioner: Vec<u8>,
    /// RandomDevice.
    pub random_device: Vec<u8>,
    /// ConfirmationProvisioner.
    pub confirmation_provisioner: Vec<u8>,
    /// ConfirmationDevice.
    pub confirmation_device: Vec<u8>,
    /// ProvisioningSalt.
    pub provisioning_salt: Option<[u8; 16]>,
    /// SessionKey.
    pub session_key: Option<[u8; 16]>,
    /// SessionNonce (13 octets).
    pub session_nonce: Option<[u8; 13]>,
    /// DevKey.
    pub device_key: Option<[u8; 16]>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Idle,
    ExpectInvite,
    ExpectCapabilities,
    ExpectStart,
    ExpectPublicKey,
    /// Waiting for `input_oob` (Provisioner: Output OOB; device: Input OOB).
    WaitUserInput,
    ExpectInputComplete,
    ExpectConfirmation,
    ExpectRandom,
    ExpectData,
    ExpectComplete,
    Done,
    Failed,
}

/// One run of the provisioning protocol, on one side.
#[derive(Debug)]
pub struct Session {
    role: Role,
    state: State,
    provisioner: Option<ProvisionerConfig>,
    device: Option<DeviceConfig>,
    injected_key: Option<KeyPair>,
    injected_random: Option<Vec<u8>>,
    invite: u8,
    capabilities: Option<Capabilities>,
    start: Option<Start>,
    key_pair: Option<KeyPair>,
    own_public: [u8; 64],
    peer_public: [u8; 64],
    own_random: Vec<u8>,
    own_confirmation: Vec<u8>,
    peer_confirmation: Vec<u8>,
    secrets: Option<SessionSecrets>,
    awaiting: Option<(OobAction, u8)>,
    material: Material,
    out: VecDeque<Vec<u8>>,
    events: VecDeque<SessionEvent>,
    deadline: Option<Instant>,
    result: Option<Result<Provisioned, Failure>>,
}

impl Session {
    fn blank(role: Role) -> Self {
        Session {
            role,
            state: State::Idle,
            provisioner: None,
            device: None,
            injected_key: None,
            injected_random: None,
            invite: 0,
            capabilities: None,
            start: None,
            key_pair: None,
            own_public: [0; 64],
            peer_public: [0; 64],
            own_random: Vec::new(),
            own_confirmation: Vec::new(),
            peer_confirmation: Vec::new(),
            secrets: None,
            awaiting: None,
            material: Material::default(),
            out: VecDeque::new(),
            events: VecDeque::new(),
            deadline: None,
            result: None,
        }
    }

    /// A Provisioner's session; [`Session::start`] sends the Invite.
    pub fn provisioner(config: ProvisionerConfig) -> Self {
        let mut s = Self::blank(Role::Provisioner);
        s.provisioner = Some(config);
        s
    }

    /// A device's session; [`Session::start`] (when the link opens) arms it for the Invite.
    pub fn device(config: DeviceConfig) -> Self {
        let mut s = Self::blank(Role::Device);
        s.device = Some(config);
        s
    }

    /// Pins the ephemeral private key and the Random value (16 or 32 octets, matching the
    /// algorithm that will be chosen) instead of drawing them from the RNG: for
    /// reproducing the specification's sample data.
    pub fn with_secrets(
        mut self,
        private_key: &[u8; 32],
        random: &[u8],
    ) -> Result<Self, EcdhError> {
        self.injected_key = Some(KeyPair::from_private(private_key)?);
        self.injected_random = Some(random.to_vec());
        Ok(self)
    }

    /// Changes the unicast address the Provisioner will give the device, once its
    /// Capabilities tell how many elements (hence addresses) it needs (MshPRT §5.4.2.5: the
    /// Provisioning Data carries the primary address; the others follow it). Only until the
    /// Provisioning Data is sent; false after that, or on a device's session.
    pub fn set_unicast_address(&mut self, address: UnicastAddress) -> bool {
        let before_data = !matches!(self.state, State::ExpectComplete) && self.result.is_none();
        let elements = self
            .capabilities
            .map_or(1, |c| u32::from(c.number_of_elements));
        let fits = u32::from(address.get()) + elements.max(1) - 1 <= 0x7FFF;
        match self.provisioner.as_mut() {
            Some(c) if before_data && fits => {
                c.data.unicast_address = address;
                true
            }
            _ => false,
        }
    }

    /// This session's role.
    pub fn role(&self) -> Role {
        self.role
    }

    /// The values derived so far.
    pub fn material(&self) -> &Material {
        &self.material
    }

    /// The outcome, once the session has ended.
    pub fn result(&self) -> Option<&Result<Provisioned, Failure>> {
        self.result.as_ref()
    }

    /// Whether the session has ended (completed or failed).
    pub fn is_finished(&self) -> bool {
        matches!(self.state, State::Done | State::Failed)
    }

    /// Whether the session awaits [`Session::input_oob`], and for what.
    pub fn awaiting_input(&self) -> Option<(OobAction, u8)> {
        self.awaiting
    }

    /// Starts the protocol when the bearer is open: a Provisioner sends the Invite, a device
    /// starts waiting for it.
    pub fn start(&mut self, now: Instant) {
        if self.state != State::Idle {
            return;
        }
        match self.role {
            Role::Provisioner => {
                let attention = self
                    .provisioner
                    .as_ref()
                    .map_or(0, |c| c.attention_duration);
                self.invite = attention;
                self.send(
                    now,
                    &ProvisioningPdu::Invite {
                        attention_duration: attention,
                    },
                );
                self.state = State::ExpectCapabilities;
            }
            Role::Device => {
                self.deadline = Some(now + PROTOCOL_TIMEOUT);
                self.state = State::ExpectInvite;
            }
        }
    }

    /// The next Provisioning PDU to send.
    pub fn poll_pdu(&mut self) -> Option<Vec<u8>> {
        self.out.pop_front()
    }

    /// The next event.
    pub fn poll_event(&mut self) -> Option<SessionEvent> {
        self.events.pop_front()
    }

    /// When [`Session::handle_timeout`] must be called: the protocol timeout.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.deadline
    }

    /// Fails the session with [`Failure::ProtocolTimeout`] once its deadline has passed.
    pub fn handle_timeout(&mut self, now: Instant) {
        if self.deadline.is_some_and(|d| d <= now) && !self.is_finished() {
            self.finish_failed(Failure::ProtocolTimeout);
        }
    }

    /// Ends the session because its bearer failed (link closed or timed out). No PDU is sent.
    pub fn abort(&mut self, failure: Failure) {
        if !self.is_finished() {
            self.finish_failed(failure);
        }
    }

    /// The user's OOB value: the number or string the device output (Provisioner, Output
    /// OOB) or the Provisioner output (device, Input OOB).
    pub fn input_oob(&mut self, now: Instant, value: OobValue) -> Result<(), OobError> {
        let (action, size) = match (self.state, self.awaiting) {
            (State::WaitUserInput, Some(a)) => a,
            _ => return Err(OobError::NotAwaited),
        };
        value.check(action, size)?;
        self.awaiting = None;
        self.material.auth_value = value.auth_value(self.algorithm().value_len());
        self.auth_ready();
        match self.role {
            Role::Provisioner => self.send_confirmation(now),
            Role::Device => {
                // §5.4.2.4.4: the device reports that the value has been input.
                self.send(now, &ProvisioningPdu::InputComplete);
                self.state = State::ExpectConfirmation;
            }
        }
        Ok(())
    }

    /// A Provisioning PDU from the peer.
    pub fn handle_pdu(&mut self, now: Instant, rng: &mut impl RngCore, bytes: &[u8]) {
        if matches!(self.state, State::Idle | State::Done | State::Failed) {
            return;
        }
        // §5.4.4: the timeout restarts with every PDU sent or received.
        self.deadline = Some(now + PROTOCOL_TIMEOUT);
        let pdu = match ProvisioningPdu::parse(bytes) {
            Ok(p) => p,
            Err(_) => {
                // An unknown Type (or non-zero padding) is an Invalid PDU; a known Type with
                // the wrong length or field values is an Invalid Format (§5.4.4).
                let known = bytes.first().is_some_and(|b| {
                    b & 0xC0 == 0 && *b <= crate::ble::wire::prov::pdu_type::RECORDS_LIST
                });
                let code = if known {
                    ErrorCode::InvalidFormat
                } else {
                    ErrorCode::InvalidPdu
                };
                return self.fail(now, code);
            }
        };
        if let ProvisioningPdu::Failed(code) = pdu {
            return self.finish_failed(Failure::Remote(code));
        }
        match self.role {
            Role::Provisioner => self.provisioner_pdu(now, rng, pdu),
            Role::Device => self.device_pdu(now, rng, pdu),
        }
    }

    // -----------------------------------------------------------------------------------
    // Provisioner
    // -----------------------------------------------------------------------------------

    fn provisioner_pdu(&mut self, now: Instant, rng: &mut impl RngCore, pdu: ProvisioningPdu) {
        match (self.state, pdu) {
            (State::ExpectCapabilities, ProvisioningPdu::Capabilities(caps)) => {
                self.on_capabilities(now, rng, caps)
            }
            (State::ExpectPublicKey, ProvisioningPdu::PublicKey(pk)) => {
                self.peer_public = pk.to_bytes();
                self.provisioner_keys(now, rng);
            }
            (State::ExpectInputComplete, ProvisioningPdu::InputComplete) => {
                self.send_confirmation(now)
            }
            (State::ExpectConfirmation, ProvisioningPdu::Confirmation(v)) => {
                let Some(v) = self.value(now, v) else { return };
                // §5.4.2.4.2 step 3: a reflected confirmation fails the protocol.
                if v == self.own_confirmation {
                    return self.fail(now, ErrorCode::ConfirmationFailed);
                }
                self.material.confirmation_device = v.clone();
                self.peer_confirmation = v;
                let random = self.own_random.clone();
                self.send(now, &ProvisioningPdu::Random(value_of(&random)));
                self.state = State::ExpectRandom;
            }
            (State::ExpectRandom, ProvisioningPdu::Random(v)) => {
                let Some(random_device) = self.value(now, v) else {
                    return;
                };
                let alg = self.algorithm();
                let expected = crypto::confirmation(
                    alg,
                    &self.material.confirmation_key,
                    &random_device,
                    &self.material.auth_value,
                );
                // §5.4.2.4.2 step 5.
                if expected != self.peer_confirmation {
                    return self.fail(now, ErrorCode::ConfirmationFailed);
                }
                self.material.random_device = random_device.clone();
                let own = self.own_random.clone();
                self.derive_session(&own, &random_device);
                let Some(data) = self.provisioner.as_ref().map(|c| c.data) else {
                    return self.fail(now, ErrorCode::UnexpectedError);
                };
                let Some(secrets) = self.secrets else {
                    return self.fail(now, ErrorCode::UnexpectedError);
                };
                self.send(now, &ProvisioningPdu::Data(secrets.encrypt(&data)));
                self.state = State::ExpectComplete;
            }
            (State::ExpectComplete, ProvisioningPdu::Complete) => {
                let data = self.provisioner.as_ref().map(|c| c.data);
                if let Some(data) = data {
                    self.finish_complete(data);
                }
            }
            _ => self.fail(now, ErrorCode::UnexpectedPdu),
        }
    }

    fn on_capabilities(&mut self, now: Instant, rng: &mut impl RngCore, caps: Capabilities) {
        self.events.push_back(SessionEvent::Capabilities(caps));
        self.capabilities = Some(caps);
        let Some(config) = self.provisioner.clone() else {
            return self.fail(now, ErrorCode::UnexpectedError);
        };
        let start = match choose_start(&config, &caps) {
            Ok(s) => s,
            Err(why) => return self.finish_failed(Failure::Unsupported(why)),
        };
        self.start = Some(start);
        self.send(now, &ProvisioningPdu::Start(start));
        self.events.push_back(SessionEvent::Started(start));
        self.prepare_secrets(rng);
        if let AuthMethod::StaticOob = start.authentication {
            let v = config.static_oob.unwrap_or_default();
            self.material.auth_value = binary_auth_value(&v, start.algorithm.value_len());
        } else {
            self.material.auth_value = vec![0; start.algorithm.value_len()];
        }
        let own = self.own_public;
        self.send(now, &ProvisioningPdu::PublicKey(public_key_pdu(&own)));
        match config.device_public_key {
            Some(pk) if start.public_key_oob => {
                self.peer_public = pk.0;
                self.provisioner_keys(now, rng);
            }
            _ => self.state = State::ExpectPublicKey,
        }
    }

    /// Both public keys are known: ECDH, confirmation salt, then authentication.
    fn provisioner_keys(&mut self, now: Instant, rng: &mut impl RngCore) {
        if !self.compute_secret(now) {
            return;
        }
        let Some(start) = self.start else { return };
        match start.authentication {
            AuthMethod::NoOob | AuthMethod::StaticOob => {
                self.auth_ready();
                self.send_confirmation(now);
            }
            AuthMethod::OutputOob { action, size } => {
                let action = OobAction::Output(action);
                self.awaiting = Some((action, size));
                self.events
                    .push_back(SessionEvent::OobInputNeeded { action, size });
                self.state = State::WaitUserInput;
            }
            AuthMethod::InputOob { action, size } => {
                let action = OobAction::Input(action);
                let value = OobValue::random(action, size, rng);
                self.material.auth_value = value.auth_value(start.algorithm.value_len());
                self.auth_ready();
                self.events
                    .push_back(SessionEvent::OobOutput { action, value });
                self.state = State::ExpectInputComplete;
            }
        }
    }

    fn send_confirmation(&mut self, now: Instant) {
        let c = self.own_confirmation.clone();
        self.send(now, &ProvisioningPdu::Confirmation(value_of(&c)));
        self.state = State::ExpectConfirmation;
    }

    // -----------------------------------------------------------------------------------
    // Device
    // -----------------------------------------------------------------------------------

    fn device_pdu(&mut self, now: Instant, rng: &mut impl RngCore, pdu: ProvisioningPdu) {
        match (self.state, pdu) {
            (State::ExpectInvite, ProvisioningPdu::Invite { attention_duration }) => {
                self.invite = attention_duration;
                self.events.push_back(SessionEvent::Attention {
                    seconds: attention_duration,
                });
                let Some(caps) = self.device.as_ref().map(|c| c.capabilities) else {
                    return self.fail(now, ErrorCode::UnexpectedError);
                };
                self.capabilities = Some(caps);
                self.send(now, &ProvisioningPdu::Capabilities(caps));
                self.state = State::ExpectStart;
            }
            (State::ExpectStart, ProvisioningPdu::Start(start)) => self.on_start(now, rng, start),
            (State::ExpectPublicKey, ProvisioningPdu::PublicKey(pk)) => {
                self.peer_public = pk.to_bytes();
                self.device_keys(now, rng);
            }
            (State::ExpectConfirmation, ProvisioningPdu::Confirmation(v)) => {
                let Some(v) = self.value(now, v) else { return };
                // §5.4.2.4.2 step 2: a confirmation equal to ours fails, Invalid Format.
                if v == self.own_confirmation {
                    return self.fail(now, ErrorCode::InvalidFormat);
                }
                self.material.confirmation_provisioner = v.clone();
                self.peer_confirmation = v;
                let c = self.own_confirmation.clone();
                self.send(now, &ProvisioningPdu::Confirmation(value_of(&c)));
                self.state = State::ExpectRandom;
            }
            (State::ExpectRandom, ProvisioningPdu::Random(v)) => {
                let Some(random_provisioner) = self.value(now, v) else {
                    return;
                };
                let expected = crypto::confirmation(
                    self.algorithm(),
                    &self.material.confirmation_key,
                    &random_provisioner,
                    &self.material.auth_value,
                );
                // §5.4.2.4.2 step 4.
                if expected != self.peer_confirmation {
                    return self.fail(now, ErrorCode::ConfirmationFailed);
                }
                self.material.random_provisioner = random_provisioner.clone();
                let own = self.own_random.clone();
                self.derive_session(&random_provisioner, &own);
                self.send(now, &ProvisioningPdu::Random(value_of(&own)));
                self.state = State::ExpectData;
            }
            (State::ExpectData, ProvisioningPdu::Data(enc)) => {
                let Some(secrets) = self.secrets else {
                    return self.fail(now, ErrorCode::UnexpectedError);
                };
                let Ok(plain) = secrets.decrypt(&enc) else {
                    return self.fail(now, ErrorCode::DecryptionFailed);
                };
                // §5.4.2.5: values that cannot be accepted (key index, address) are Invalid
                // Data; an address range past the unicast space cannot be assigned.
                let Ok(data) = ProvisioningData::parse(&plain) else {
                    return self.fail(now, ErrorCode::InvalidData);
                };
                let elements = self.capabilities.map_or(1, |c| c.number_of_elements);
                let last = u32::from(data.unicast_address.get()) + u32::from(elements) - 1;
                if last > 0x7FFF {
                    return self.fail(now, ErrorCode::CannotAssignAddresses);
                }
                self.send(now, &ProvisioningPdu::Complete);
                self.finish_complete(data);
            }
            (
                State::ExpectInvite,
                ProvisioningPdu::RecordsGet | ProvisioningPdu::RecordRequest(_),
            ) => {
                // Provisioning records are not supported: the PDU is not recognized.
                self.fail(now, ErrorCode::InvalidPdu)
            }
            _ => self.fail(now, ErrorCode::UnexpectedPdu),
        }
    }

    fn on_start(&mut self, now: Instant, rng: &mut impl RngCore, start: Start) {
        let Some(config) = self.device.clone() else {
            return self.fail(now, ErrorCode::UnexpectedError);
        };
        let caps = config.capabilities;
        let ok = start_allowed(
            &caps,
            &start,
            config.static_oob.is_some(),
            config.oob_private_key.is_some(),
        );
        if !ok {
            return self.fail(now, ErrorCode::InvalidFormat);
        }
        self.start = Some(start);
        self.events.push_back(SessionEvent::Started(start));
        if start.public_key_oob {
            let Some(d) = config.oob_private_key else {
                return self.fail(now, ErrorCode::UnexpectedError);
            };
            let Ok(kp) = KeyPair::from_private(&d) else {
                return self.fail(now, ErrorCode::UnexpectedError);
            };
            self.injected_key = Some(kp);
        }
        self.prepare_secrets(rng);
        let len = start.algorithm.value_len();
        self.material.auth_value = match start.authentication {
            AuthMethod::StaticOob => binary_auth_value(&config.static_oob.unwrap_or_default(), len),
            _ => vec![0; len],
        };
        self.state = State::ExpectPublicKey;
    }

    fn device_keys(&mut self, now: Instant, rng: &mut impl RngCore) {
        if !self.compute_secret(now) {
            return;
        }
        let Some(start) = self.start else { return };
        if !start.public_key_oob {
            let own = self.own_public;
            self.send(now, &ProvisioningPdu::PublicKey(public_key_pdu(&own)));
        }
        match start.authentication {
            AuthMethod::NoOob | AuthMethod::StaticOob => {
                self.auth_ready();
                self.state = State::ExpectConfirmation;
            }
            AuthMethod::OutputOob { action, size } => {
                let action = OobAction::Output(action);
                let value = OobValue::random(action, size, rng);
                self.material.auth_value = value.auth_value(start.algorithm.value_len());
                self.auth_ready();
                self.events
                    .push_back(SessionEvent::OobOutput { action, value });
                self.state = State::ExpectConfirmation;
            }
            AuthMethod::InputOob { action, size } => {
                let action = OobAction::Input(action);
                self.awaiting = Some((action, size));
                self.events
                    .push_back(SessionEvent::OobInputNeeded { action, size });
                self.state = State::WaitUserInput;
            }
        }
    }

    // -----------------------------------------------------------------------------------
    // Shared steps
    // -----------------------------------------------------------------------------------

    fn algorithm(&self) -> Algorithm {
        self.start
            .map_or(Algorithm::P256CmacAes128, |s| s.algorithm)
    }

    /// The key pair (injected or fresh) and the Random of this side.
    fn prepare_secrets(&mut self, rng: &mut impl RngCore) {
        let kp = self
            .injected_key
            .take()
            .unwrap_or_else(|| generate_key_pair(rng));
        self.own_public = kp.public().0;
        self.key_pair = Some(kp);
        let len = self.algorithm().value_len();
        self.own_random = match self.injected_random.take() {
            Some(r) if r.len() == len => r,
            _ => {
                let mut r = vec![0u8; len];
                rng.fill_bytes(&mut r);
                r
            }
        };
        match self.role {
            Role::Provisioner => self.material.random_provisioner = self.own_random.clone(),
            Role::Device => self.material.random_device = self.own_random.clone(),
        }
    }

    /// Validates the peer's public key, computes ECDHSecret, ConfirmationInputs and the
    /// salt. On failure the session fails and `false` is returned.
    fn compute_secret(&mut self, now: Instant) -> bool {
        // §5.4.2.3: an invalid key, or one equal to our own, fails the protocol (the device
        // should indicate Invalid Format).
        let peer = PublicKey(self.peer_public);
        if peer.0 == self.own_public || peer.validate().is_err() {
            self.fail(now, ErrorCode::InvalidFormat);
            return false;
        }
        let Some(kp) = self.key_pair.take() else {
            self.fail(now, ErrorCode::UnexpectedError);
            return false;
        };
        // §5.4.2.3: the key pair is deleted once ECDHSecret is computed.
        let Ok(secret) = kp.ecdh(&peer) else {
            self.fail(now, ErrorCode::InvalidFormat);
            return false;
        };
        let (Some(caps), Some(start)) = (self.capabilities, self.start) else {
            self.fail(now, ErrorCode::UnexpectedError);
            return false;
        };
        let caps_bytes = ProvisioningPdu::Capabilities(caps).parameters();
        let start_bytes = ProvisioningPdu::Start(start).parameters();
        let (pp, pd) = match self.role {
            Role::Provisioner => (self.own_public, self.peer_public),
            Role::Device => (self.peer_public, self.own_public),
        };
        let inputs =
            crypto::confirmation_inputs(&[self.invite], &caps_bytes, &start_bytes, &pp, &pd);
        self.material.confirmation_salt = crypto::confirmation_salt(start.algorithm, &inputs);
        self.material.confirmation_inputs = inputs;
        self.material.ecdh_secret = Some(secret);
        true
    }

    /// AuthValue is known: the confirmation key and this side's confirmation.
    fn auth_ready(&mut self) {
        let alg = self.algorithm();
        let Some(secret) = self.material.ecdh_secret else {
            return;
        };
        let key = crypto::confirmation_key(
            alg,
            &secret,
            &self.material.confirmation_salt,
            &self.material.auth_value,
        );
        self.own_confirmation =
            crypto::confirmation(alg, &key, &self.own_random, &self.material.auth_value);
        match self.role {
            Role::Provisioner => {
                self.material.confirmation_provisioner = self.own_confirmation.clone()
            }
            Role::Device => self.material.confirmation_device = self.own_confirmation.clone(),
        }
        self.material.confirmation_key = key;
    }

    fn derive_session(&mut self, random_provisioner: &[u8], random_device: &[u8]) {
        let Some(secret) = self.material.ecdh_secret else {
            return;
        };
        let salt = crypto::provisioning_salt(
            &self.material.confirmation_salt,
            random_provisioner,
            random_device,
        );
        let s = SessionSecrets::derive(&secret, &salt);
        self.material.provisioning_salt = Some(salt);
        self.material.session_key = Some(s.session_key);
        self.material.session_nonce = Some(s.session_nonce);
        self.material.device_key = Some(s.device_key);
        self.secrets = Some(s);
    }

    /// A Confirmation or Random value of the algorithm's length, else Invalid Format.
    fn value(&mut self, now: Instant, v: ProvisioningValue) -> Option<Vec<u8>> {
        if v.as_bytes().len() == self.algorithm().value_len() {
            Some(v.as_bytes().to_vec())
        } else {
            self.fail(now, ErrorCode::InvalidFormat);
            None
        }
    }

    fn send(&mut self, now: Instant, pdu: &ProvisioningPdu) {
        self.deadline = Some(now + PROTOCOL_TIMEOUT);
        self.out.push_back(pdu.to_vec());
    }

    /// A protocol error found here: a device reports it in a Provisioning Failed PDU; a
    /// Provisioner only stops (its bearer closes the link) (§5.4.4).
    fn fail(&mut self, now: Instant, code: ErrorCode) {
        if self.role == Role::Device {
            self.send(now, &ProvisioningPdu::Failed(code));
        }
        self.finish_failed(Failure::Local(code));
    }

    fn finish_failed(&mut self, failure: Failure) {
        self.state = State::Failed;
        self.deadline = None;
        self.awaiting = None;
        self.key_pair = None;
        self.result = Some(Err(failure));
        self.events.push_back(SessionEvent::Failed(failure));
    }

    fn finish_complete(&mut self, data: ProvisioningData) {
        let (Some(start), Some(caps), Some(dk)) =
            (self.start, self.capabilities, self.material.device_key)
        else {
            return self.finish_failed(Failure::Local(ErrorCode::UnexpectedError));
        };
        let p = Provisioned {
            data,
            device_key: dk,
            number_of_elements: caps.number_of_elements,
            algorithm: start.algorithm,
            authentication: start.authentication,
            public_key_oob: start.public_key_oob,
        };
        self.state = State::Done;
        self.deadline = None;
        self.result = Some(Ok(p.clone()));
        self.events.push_back(SessionEvent::Complete(p));
    }
}

fn value_of(b: &[u8]) -> ProvisioningValue {
    ProvisioningValue::from_slice(b).unwrap_or(ProvisioningValue::Cmac([0; 16]))
}

fn public_key_pdu(k: &[u8; 64]) -> PublicKeyPdu {
    let mut x = [0u8; 32];
    let mut y = [0u8; 32];
    x.copy_from_slice(&k[..32]);
    y.copy_from_slice(&k[32..]);
    PublicKeyPdu { x, y }
}
