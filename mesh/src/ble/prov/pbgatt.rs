//! PB-GATT (Mesh Protocol 1.1 §5.2.2): the provisioning bearer over a GATT connection.
//!
//! Each Provisioning PDU travels in Proxy PDUs of Message Type 0x03 (Provisioning PDU,
//! §6.3.1) written to the Mesh Provisioning Data In characteristic (Provisioner → device) or
//! notified from Mesh Provisioning Data Out (device → Provisioner) (§7.1), segmented to the
//! ATT MTU with the Proxy SAR field and reassembled on receipt (§6.3.2). There is no link
//! layer: no Link Open/Ack/Close and no transactions (§5.2.2); the GATT connection is the
//! link, and only the 60-second provisioning protocol timeout of the session applies
//! (§5.4.4).
//!
//! [`PbGatt`] is a sans-IO adapter around one [`Session`]: the owner of the GATT connection
//! feeds it every received ATT value ([`PbGatt::handle_proxy_pdu`]) and writes or notifies
//! every value it hands out ([`PbGatt::poll_proxy_pdu`]).

use std::collections::VecDeque;

use rand_core::RngCore;

use super::session::{Provisioned, Session, SessionEvent};
use super::{Failure, OobError, OobValue};
use crate::ble::wire::proxy::{
    segment, MessageType, ProxyReassembler, DEFAULT_MAX_MESSAGE_LEN, MIN_ATT_MTU, SAR_TIMEOUT_SECS,
};
use crate::ble::wire::Wire;
use crate::time::{Duration, Instant};

/// The Proxy SAR timeout (§6.3.2): a segmented message must complete within 20 s.
pub const SAR_TIMEOUT: Duration = Duration::from_secs(SAR_TIMEOUT_SECS);

/// What a [`PbGatt`] received and dropped.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct PbGattCounters {
    /// Complete messages of another Message Type than Provisioning PDU (§6.3.1), ignored.
    pub other_type: u32,
    /// Malformed Proxy PDUs or SAR violations (§6.3.2), ignored; any partial message is lost.
    pub malformed: u32,
    /// Segmented messages dropped because the SAR timer expired (§6.3.2).
    pub sar_timeouts: u32,
}

/// The provisioning protocol over PB-GATT: one [`Session`], its Proxy PDU segmentation to the
/// ATT MTU and the reassembly of what the peer sends.
#[derive(Debug)]
pub struct PbGatt {
    session: Session,
    mtu: u16,
    reassembler: ProxyReassembler,
    sar_deadline: Option<Instant>,
    out: VecDeque<Vec<u8>>,
    counters: PbGattCounters,
}

impl PbGatt {
    /// Wraps `session` for a connection of ATT MTU `mtu` (values below the minimum, 23, are
    /// treated as 23; Core Vol 3 Part F §3.2.8).
    pub fn new(session: Session, mtu: u16) -> Self {
        PbGatt {
            session,
            mtu: mtu.max(MIN_ATT_MTU),
            reassembler: ProxyReassembler::new(DEFAULT_MAX_MESSAGE_LEN),
            sar_deadline: None,
            out: VecDeque::new(),
            counters: PbGattCounters::default(),
        }
    }

    /// The ATT MTU in use.
    pub fn mtu(&self) -> u16 {
        self.mtu
    }

    /// Changes the ATT MTU (after an Exchange MTU); applies to PDUs not yet segmented.
    pub fn set_mtu(&mut self, mtu: u16) {
        self.mtu = mtu.max(MIN_ATT_MTU);
    }

    /// The wrapped session.
    pub fn session(&self) -> &Session {
        &self.session
    }

    /// What was received and dropped so far.
    pub fn counters(&self) -> PbGattCounters {
        self.counters
    }

    /// Starts the protocol once the connection is up (and, for the Provisioner, the device's
    /// Data Out notifications are enabled): a Provisioner sends the Invite, a device waits
    /// for it.
    pub fn start(&mut self, now: Instant) {
        self.session.start(now);
    }

    /// One ATT value received on the Data In (device) or Data Out (Provisioner)
    /// characteristic. Complete Provisioning PDUs go to the session; other message types and
    /// malformed PDUs are counted and ignored.
    pub fn handle_proxy_pdu(&mut self, now: Instant, rng: &mut impl RngCore, bytes: &[u8]) {
        let result = self.reassembler.feed_bytes(bytes);
        self.sar_deadline = if self.reassembler.in_progress() {
            // §6.3.2: the SAR timer restarts with every segment received.
            Some(now + SAR_TIMEOUT)
        } else {
            None
        };
        match result {
            Ok(None) => {}
            Ok(Some((MessageType::ProvisioningPdu, pdu))) => {
                self.session.handle_pdu(now, rng, &pdu);
            }
            Ok(Some(_)) => self.counters.other_type = self.counters.other_type.saturating_add(1),
            Err(_) => self.counters.malformed = self.counters.malformed.saturating_add(1),
        }
    }

    /// The user's OOB value (see [`Session::input_oob`]).
    pub fn input_oob(&mut self, now: Instant, value: OobValue) -> Result<(), OobError> {
        self.session.input_oob(now, value)
    }

    /// Ends the session because the GATT connection was lost (see [`Session::abort`]).
    pub fn abort(&mut self, failure: Failure) {
        self.session.abort(failure);
    }

    /// The next Proxy PDU to write (Provisioner) or notify (device): one ATT value of at most
    /// `mtu - 3` octets (§6.3.2).
    pub fn poll_proxy_pdu(&mut self) -> Option<Vec<u8>> {
        if self.out.is_empty() {
            let pdu = self.session.poll_pdu()?;
            self.out.extend(
                segment(MessageType::ProvisioningPdu, &pdu, self.mtu)
                    .iter()
                    .map(Wire::to_vec),
            );
        }
        self.out.pop_front()
    }

    /// The next session event.
    pub fn poll_event(&mut self) -> Option<SessionEvent> {
        self.session.poll_event()
    }

    /// When [`PbGatt::handle_timeout`] must be called: the protocol timeout, or the SAR
    /// timeout of a message being reassembled.
    pub fn poll_timeout(&self) -> Option<Instant> {
        [self.session.poll_timeout(), self.sar_deadline]
            .into_iter()
            .flatten()
            .min()
    }

    /// Runs the timers due at `now`: a partial message past its SAR timeout is dropped (the
    /// owner may disconnect, §6.3.2); the session fails past its protocol timeout.
    pub fn handle_timeout(&mut self, now: Instant) {
        if self.sar_deadline.is_some_and(|d| d <= now) {
            self.sar_deadline = None;
            self.reassembler.reset();
            self.counters.sar_timeouts = self.counters.sar_timeouts.saturating_add(1);
        }
        self.session.handle_timeout(now);
    }

    /// The outcome, once the session has ended.
    pub fn result(&self) -> Option<&Result<Provisioned, Failure>> {
        self.session.result()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ble::address::{IvIndex, UnicastAddress};
    use crate::ble::prov::{AuthPolicy, DeviceConfig, ProvisionerConfig};
    use crate::ble::wire::beacon::Flags;
    use crate::ble::wire::prov::{
        Algorithm, Algorithms, AuthMethod, Capabilities, ErrorCode, InputOobActions,
        OutputOobActions, ProvisioningData,
    };
    use crate::ble::wire::proxy::{ProxyPdu, Sar};

    /// A deterministic RNG (SplitMix64).
    #[derive(Debug)]
    struct TestRng(u64);

    impl RngCore for TestRng {
        fn next_u32(&mut self) -> u32 {
            self.next_u64() as u32
        }
        fn next_u64(&mut self) -> u64 {
            self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
            let mut z = self.0;
            z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
            z ^ (z >> 31)
        }
        fn fill_bytes(&mut self, dest: &mut [u8]) {
            for b in dest {
                *b = self.next_u64() as u8;
            }
        }
        fn try_fill_bytes(&mut self, dest: &mut [u8]) -> Result<(), rand_core::Error> {
            self.fill_bytes(dest);
            Ok(())
        }
    }

    const STATIC: [u8; 16] = *b"weft static oob!";

    fn data() -> ProvisioningData {
        ProvisioningData {
            net_key: [0x42; 16],
            key_index: 0x123,
            flags: Flags(0),
            iv_index: IvIndex(7),
            unicast_address: UnicastAddress::new(0x0200).unwrap(),
        }
    }

    fn caps(static_oob: bool) -> Capabilities {
        Capabilities {
            number_of_elements: 2,
            algorithms: Algorithms(Algorithms::P256_CMAC_AES128 | Algorithms::P256_HMAC_SHA256),
            public_key_oob: false,
            static_oob,
            only_oob_authenticated: false,
            output_oob_size: 0,
            output_oob_actions: OutputOobActions(0),
            input_oob_size: 0,
            input_oob_actions: InputOobActions(0),
        }
    }

    /// A Provisioner and a device at ATT MTU 23, `alg` and `auth`, with these static values.
    fn pair(
        alg: Algorithm,
        auth: AuthMethod,
        prov_static: Option<&[u8]>,
        dev_static: Option<&[u8]>,
    ) -> (PbGatt, PbGatt) {
        let mut pc = ProvisionerConfig::new(data());
        pc.algorithm = Some(alg);
        pc.auth = AuthPolicy::Fixed(auth);
        pc.static_oob = prov_static.map(<[u8]>::to_vec);
        let mut dc = DeviceConfig::new(caps(dev_static.is_some()));
        dc.static_oob = dev_static.map(<[u8]>::to_vec);
        (
            PbGatt::new(Session::provisioner(pc), MIN_ATT_MTU),
            PbGatt::new(Session::device(dc), MIN_ATT_MTU),
        )
    }

    /// Carries every Proxy PDU across until both sides have finished; returns the number of
    /// segmented (SAR != complete) PDUs seen.
    fn run(p: &mut PbGatt, d: &mut PbGatt, seed: u64) -> usize {
        let mut rng = TestRng(seed);
        let now = Instant::from_micros(1_000);
        d.start(now);
        p.start(now);
        let mut segmented = 0;
        for _ in 0..1000 {
            let mut moved = false;
            while let Some(v) = p.poll_proxy_pdu() {
                assert!(v.len() <= usize::from(MIN_ATT_MTU) - 3, "{v:?}");
                let pdu = ProxyPdu::parse(&v).unwrap();
                assert_eq!(pdu.message_type, MessageType::ProvisioningPdu);
                segmented += usize::from(pdu.sar != Sar::Complete);
                d.handle_proxy_pdu(now, &mut rng, &v);
                moved = true;
            }
            while let Some(v) = d.poll_proxy_pdu() {
                assert!(v.len() <= usize::from(MIN_ATT_MTU) - 3, "{v:?}");
                let pdu = ProxyPdu::parse(&v).unwrap();
                segmented += usize::from(pdu.sar != Sar::Complete);
                p.handle_proxy_pdu(now, &mut rng, &v);
                moved = true;
            }
            if !moved {
                break;
            }
        }
        assert_eq!(p.counters(), PbGattCounters::default());
        assert_eq!(d.counters(), PbGattCounters::default());
        segmented
    }

    #[test]
    fn provisions_at_minimum_mtu() {
        for alg in [Algorithm::P256CmacAes128, Algorithm::P256HmacSha256] {
            for auth in [AuthMethod::NoOob, AuthMethod::StaticOob] {
                let s = (auth == AuthMethod::StaticOob).then_some(&STATIC[..]);
                let (mut p, mut d) = pair(alg, auth, s, s);
                let segmented = run(&mut p, &mut d, alg as u64 * 7 + 1);
                // Two Public Key PDUs of 65 octets, each in 4 segments of at most 19.
                assert!(segmented >= 8, "{segmented}");
                let pr = p.result().expect("provisioner finished").clone().unwrap();
                let dr = d.result().expect("device finished").clone().unwrap();
                assert_eq!(pr, dr, "{alg:?} {auth:?}");
                assert_eq!(pr.data, data());
                assert_eq!(pr.algorithm, alg);
                assert_eq!(pr.authentication, auth);
                assert_eq!(pr.number_of_elements, 2);
                let mut events = Vec::new();
                while let Some(e) = p.poll_event() {
                    events.push(e);
                }
                assert!(matches!(events.last(), Some(SessionEvent::Complete(x)) if *x == pr));
                assert_eq!(p.poll_timeout(), None);
            }
        }
    }

    #[test]
    fn wrong_static_oob_fails_confirmation() {
        for alg in [Algorithm::P256CmacAes128, Algorithm::P256HmacSha256] {
            let (mut p, mut d) = pair(
                alg,
                AuthMethod::StaticOob,
                Some(b"not the right value"),
                Some(&STATIC),
            );
            run(&mut p, &mut d, 3);
            // The device finds ConfirmationProvisioner wrong once the Random arrives and sends
            // Provisioning Failed with Confirmation Failed (§5.4.2.4, §5.4.4); the Provisioner
            // fails on receiving it.
            let codes = [p.result(), d.result()].map(|r| match r {
                Some(Err(f)) => f.code(),
                r => panic!("{r:?}"),
            });
            assert_eq!(codes, [Some(ErrorCode::ConfirmationFailed); 2], "{alg:?}");
        }
    }

    #[test]
    fn ignores_other_types_and_sar_violations() {
        let (_, mut d) = pair(Algorithm::P256CmacAes128, AuthMethod::NoOob, None, None);
        let mut rng = TestRng(1);
        let now = Instant::from_micros(0);
        d.start(now);
        // A complete Network PDU (type 0x00), an RFU type, a continuation without a first
        // segment, an empty value.
        for v in [&[0x00, 1, 2][..], &[0x3F, 1], &[0x83, 1], &[]] {
            d.handle_proxy_pdu(now, &mut rng, v);
        }
        assert_eq!(
            d.counters(),
            PbGattCounters {
                other_type: 1,
                malformed: 3,
                sar_timeouts: 0
            }
        );
        assert!(d.result().is_none());
        // A first segment arms the SAR timer; its expiry drops the partial message.
        d.handle_proxy_pdu(now, &mut rng, &[0x43, 0x00]);
        assert_eq!(d.poll_timeout(), Some(now + SAR_TIMEOUT));
        d.handle_timeout(now + SAR_TIMEOUT);
        assert_eq!(d.counters().sar_timeouts, 1);
        // The rest of that message is now a SAR violation, not an Invite.
        d.handle_proxy_pdu(now, &mut rng, &[0xC3, 0x05]);
        assert_eq!(d.counters().malformed, 4);
        // A segmented Invite (0x00, attention 5) reaches the session, which answers with its
        // Capabilities.
        d.handle_proxy_pdu(now, &mut rng, &[0x43, 0x00]);
        d.handle_proxy_pdu(now, &mut rng, &[0xC3, 0x05]);
        assert_eq!(d.poll_event(), Some(SessionEvent::Attention { seconds: 5 }));
        let caps = d.poll_proxy_pdu().unwrap();
        assert_eq!(caps[0], 0x03);
        assert_eq!(caps[1], 0x01);
        // The protocol timeout still applies (§5.4.4).
        d.handle_timeout(now + super::super::PROTOCOL_TIMEOUT);
        assert_eq!(d.result(), Some(&Err(Failure::ProtocolTimeout)));
    }

    proptest::proptest! {
        #[test]
        fn garbage_never_panics(
            pdus in proptest::collection::vec(proptest::collection::vec(proptest::prelude::any::<u8>(), 0..40), 0..30),
            device in proptest::prelude::any::<bool>(),
        ) {
            let (p, d) = pair(Algorithm::P256CmacAes128, AuthMethod::NoOob, None, None);
            let mut g = if device { d } else { p };
            let mut rng = TestRng(9);
            let mut now = Instant::from_micros(0);
            g.start(now);
            for v in &pdus {
                g.handle_proxy_pdu(now, &mut rng, v);
                while let Some(out) = g.poll_proxy_pdu() {
                    proptest::prop_assert!(out.len() <= usize::from(MIN_ATT_MTU) - 3);
                }
                while g.poll_event().is_some() {}
                now += Duration::from_secs(1);
                g.handle_timeout(now);
            }
        }
    }
}
