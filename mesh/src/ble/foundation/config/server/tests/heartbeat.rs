//! Tests of the Configuration Server: Heartbeat Publication and Subscription.

use super::*;

// -------------------------------------------------------------------------------------
// Heartbeat
// -------------------------------------------------------------------------------------

#[test]
fn heartbeat_log_conversions() {
    // MshPRT §4.2.17.2: Count Log n means 2^(n-1) Heartbeats.
    assert_eq!(count_from_log(0), 0);
    assert_eq!(count_from_log(1), 1);
    assert_eq!(count_from_log(5), 16);
    assert_eq!(count_from_log(0x10), 0x8000);
    assert_eq!(count_from_log(0x11), 0xFFFE);
    assert_eq!(count_from_log(0xFF), 0xFFFF);
    // Reported rounded up to a power of two.
    for (count, log) in [
        (0, 0),
        (1, 1),
        (2, 2),
        (3, 3),
        (4, 3),
        (5, 4),
        (16, 5),
        (17, 6),
    ] {
        assert_eq!(log_from_count(count), log, "count {count}");
    }
    assert_eq!(log_from_count(0x8000), 0x10);
    assert_eq!(log_from_count(0xFFFE), 0x11);
    assert_eq!(log_from_count(0xFFFF), 0xFF);
    for log in (0..=0x11).chain([0xFF]) {
        assert_eq!(log_from_count(count_from_log(log)), log);
    }
}

#[test]
fn heartbeat_publication() {
    let mut st = state();
    let hp = |dst, count_log, net| HeartbeatPublicationParams {
        destination: Address(dst),
        count_log,
        period_log: 3,
        ttl: 7,
        features: Features(0xFFF1),
        net_key_index: ki(net),
    };
    // Nothing set: all zero.
    assert_eq!(
        run(&mut st, ConfigMessage::HeartbeatPublicationGet)
            .reply
            .unwrap()
            .to_access()
            .to_vec(),
        h("06 00 0000 00 00 00 0000 0000".replace(' ', "").as_str())
    );
    let out = run(
        &mut st,
        ConfigMessage::HeartbeatPublicationSet(hp(0xC000, 5, 0)),
    );
    assert_eq!(out.effects, vec![Effect::HeartbeatPublicationChanged]);
    // RFU feature bits dropped.
    assert_eq!(
        out.reply.unwrap().emit_params(),
        h("00 00c0 05 03 07 0100 0000".replace(' ', "").as_str())
    );
    assert_eq!(
        st.heartbeat_publication,
        Some(HeartbeatPublication {
            dst: Address(0xC000),
            count: 16,
            period_log: 3,
            ttl: 7,
            features: 1,
            net_index: 0,
        })
    );
    // After three Heartbeats the node has 13 left: reported as Count Log 5 (2^4 ≥ 13).
    st.heartbeat_publication.as_mut().unwrap().count = 13;
    assert_eq!(
        run(&mut st, ConfigMessage::HeartbeatPublicationGet)
            .reply
            .unwrap()
            .emit_params()[3],
        5
    );
    // Unknown NetKey: 0x04, the request repeated, state unchanged.
    let before = st.heartbeat_publication.clone();
    let out = run(
        &mut st,
        ConfigMessage::HeartbeatPublicationSet(hp(0xC001, 2, 9)),
    );
    assert_eq!(
        out.reply,
        Some(ConfigMessage::HeartbeatPublicationStatus {
            status: StatusCode::InvalidNetKeyIndex,
            publication: hp(0xC001, 2, 9),
        })
    );
    assert_eq!(st.heartbeat_publication, before);
    // Virtual destination: 0x01.
    let out = run(
        &mut st,
        ConfigMessage::HeartbeatPublicationSet(hp(0x8001, 2, 0)),
    );
    assert_eq!(status(&out), StatusCode::InvalidAddress);
    // Indefinitely.
    run(
        &mut st,
        ConfigMessage::HeartbeatPublicationSet(hp(0x0042, 0xFF, 0)),
    );
    assert_eq!(st.heartbeat_publication.as_ref().unwrap().count, 0xFFFF);
    // Unassigned destination: off, count/period/TTL 0.
    let out = run(&mut st, ConfigMessage::HeartbeatPublicationSet(hp(0, 4, 0)));
    assert_eq!(
        out.reply.unwrap().emit_params(),
        h("00 0000 00 00 00 0100 0000".replace(' ', "").as_str())
    );
    check(&st).unwrap();
}

/// The parameters of the answer to `msg` at `now`, as hex.
fn hb_run(
    st: &mut NodeState,
    hb: &mut HeartbeatSubscriptionCounters,
    now: Instant,
    msg: ConfigMessage,
) -> Option<String> {
    handle_at(st, hb, now, &msg)
        .reply
        .map(|r| hex::encode(r.emit_params()))
}

fn secs(s: f64) -> Instant {
    Instant::from_micros((s * 1e6) as u64)
}

/// Status parameters: Status, Source, Destination, PeriodLog, CountLog, MinHops, MaxHops.
fn hb_status(src: u16, dst: u16, period_log: u8, count_log: u8, min: u8, max: u8) -> String {
    let [s0, s1] = src.to_le_bytes();
    let [d0, d1] = dst.to_le_bytes();
    hex::encode([0, s0, s1, d0, d1, period_log, count_log, min, max])
}

#[test]
fn heartbeat_subscription_logs() {
    // Period Log n means 2^(n-1) s, 0x11 the 16-bit maximum (MshPRT §4.2.18.4).
    assert_eq!(subscription_period(0), 0);
    assert_eq!(subscription_period(1), 1);
    assert_eq!(subscription_period(5), 16);
    assert_eq!(subscription_period(0x10), 0x8000);
    assert_eq!(subscription_period(0x11), 0xFFFF);
    for log in 0..=0x11 {
        assert_eq!(subscription_period_log(subscription_period(log)), log);
    }
    // A remaining period is reported rounded down to a power of two (MshPRF 1.0.1
    // Table 4.1): 2^(n-1)..=2^n - 1 → n.
    for (remaining, log) in [
        (0, 0),
        (1, 1),
        (2, 2),
        (3, 2),
        (4, 3),
        (7, 3),
        (15, 4),
        (16, 5),
        (0x7FFF, 0x0F),
        (0x8000, 0x10),
        (0xFFFE, 0x10),
        (0xFFFF, 0x11),
    ] {
        assert_eq!(subscription_period_log(remaining), log, "{remaining} s");
    }
    // Count Log the same way, 0xFFFF (the counter has stopped) → 0xFF (§4.2.18.3).
    for (count, log) in [
        (0, 0),
        (1, 1),
        (2, 2),
        (3, 2),
        (5, 3),
        (0x100, 9),
        (0x8000, 0x10),
        (0xFFFE, 0x10),
        (0xFFFF, 0xFF),
    ] {
        assert_eq!(subscription_count_log(count), log, "count {count}");
    }
}

#[test]
fn heartbeat_subscription_set_get_and_counting() {
    let mut st = state();
    let mut hb = HeartbeatSubscriptionCounters::default();
    let t0 = secs(100.0);
    // No subscription: all zeros.
    assert_eq!(
        hb_run(
            &mut st,
            &mut hb,
            t0,
            ConfigMessage::HeartbeatSubscriptionGet
        )
        .unwrap(),
        hb_status(0, 0, 0, 0, 0, 0)
    );
    // From 0x0042 to 0xC000 for 16 s.
    let out = handle_at(&mut st, &mut hb, t0, &hb_set(0x0042, 0xC000, 5));
    assert_eq!(out.effects, vec![Effect::HeartbeatSubscriptionChanged]);
    assert_eq!(
        out.reply.unwrap().to_access().to_vec(),
        h("803c 00 4200 00c0 05 00 7f 00".replace(' ', "").as_str())
    );
    assert_eq!(
        st.heartbeat_subscription,
        Some(HeartbeatSubscription {
            src: Address(0x0042),
            dst: Address(0xC000),
            period_log: 5,
        })
    );
    // Only Heartbeats from the Source to the Destination count.
    let beat = |st: &NodeState, hb: &mut _, t, src, dst, hops| {
        heartbeat_received(st, hb, t, Address(src), Address(dst), hops)
    };
    assert!(beat(&st, &mut hb, secs(101.0), 0x0042, 0xC000, 3));
    assert!(!beat(&st, &mut hb, secs(101.0), 0x0043, 0xC000, 1));
    assert!(!beat(&st, &mut hb, secs(101.0), 0x0042, 0xC001, 1));
    assert!(!beat(&st, &mut hb, secs(101.0), 0x0042, PRIMARY, 1));
    assert!(beat(&st, &mut hb, secs(102.0), 0x0042, 0xC000, 2));
    assert!(beat(&st, &mut hb, secs(103.0), 0x0042, 0xC000, 5));
    // 3 counted (Count Log 2: 2..=3), 2..5 hops; 12.5 s left → 13 s (Period Log 4: 8..=15).
    assert_eq!(
        hb_run(
            &mut st,
            &mut hb,
            secs(103.5),
            ConfigMessage::HeartbeatSubscriptionGet
        )
        .unwrap(),
        hb_status(0x0042, 0xC000, 4, 2, 2, 5)
    );
    assert_eq!(
        heartbeat_subscription_report(&st, &hb, secs(103.5)),
        Some(HeartbeatSubscriptionReport {
            source: Address(0x0042),
            destination: Address(0xC000),
            remaining: 13,
            count: 3,
            min_hops: 2,
            max_hops: 5,
        })
    );
    // Hop counts beyond 0x7F (a forged InitTTL/TTL pair) are held at 0x7F.
    assert!(beat(&st, &mut hb, secs(104.0), 0x0042, 0xC000, 0x80));
    assert_eq!(hb.max_hops, 0x7F);
    // The period runs out at 116 s: nothing more is counted, the counters stay, Period
    // Log 0.
    assert!(beat(&st, &mut hb, secs(115.9), 0x0042, 0xC000, 1));
    assert!(!beat(&st, &mut hb, secs(116.0), 0x0042, 0xC000, 1));
    assert_eq!(
        hb_run(
            &mut st,
            &mut hb,
            secs(200.0),
            ConfigMessage::HeartbeatSubscriptionGet
        )
        .unwrap(),
        hb_status(0x0042, 0xC000, 0, 3, 1, 0x7F)
    );
    // The same Set again starts over: counters reset, a new period.
    let out = handle_at(&mut st, &mut hb, secs(200.0), &hb_set(0x0042, 0xC000, 5));
    assert_eq!(out.effects, vec![], "the persisted state did not change");
    assert_eq!(
        hex::encode(out.reply.unwrap().emit_params()),
        hb_status(0x0042, 0xC000, 5, 0, 0x7F, 0)
    );
    assert!(beat(&st, &mut hb, secs(201.0), 0x0042, 0xC000, 4));
    assert_eq!(hb.count, 1);
}

#[test]
fn heartbeat_subscription_count_stops_at_ffff() {
    let mut st = state();
    let mut hb = HeartbeatSubscriptionCounters::default();
    handle_at(
        &mut st,
        &mut hb,
        Instant::ZERO,
        &hb_set(0x0042, PRIMARY, 0x11),
    );
    let t = secs(1.0);
    for i in 0..0x1_0005u32 {
        let hops = (i % 7) as u8 + 1;
        assert!(heartbeat_received(
            &st,
            &mut hb,
            t,
            Address(0x0042),
            Address(PRIMARY),
            hops
        ));
    }
    assert_eq!(hb.count, 0xFFFF);
    // 0xFFFF s minus one second, rounded up.
    assert_eq!(
        hb_run(&mut st, &mut hb, t, ConfigMessage::HeartbeatSubscriptionGet).unwrap(),
        hb_status(0x0042, PRIMARY, 0x10, 0xFF, 1, 7)
    );
    // One count short of the stop is Count Log 0x10.
    hb.count = 0xFFFE;
    assert_eq!(
        hb_run(&mut st, &mut hb, t, ConfigMessage::HeartbeatSubscriptionGet).unwrap(),
        hb_status(0x0042, PRIMARY, 0x10, 0x10, 1, 7)
    );
}

#[test]
fn heartbeat_subscription_disabling_keeps_the_counters() {
    let mut st = state();
    let mut hb = HeartbeatSubscriptionCounters::default();
    let beat = |st: &NodeState, hb: &mut _, t| {
        heartbeat_received(st, hb, t, Address(0x0042), Address(0xC000), 2)
    };
    // Period Log 0 stops the subscription: the answer reports unassigned addresses, Period
    // Log 0 and the counters as they were (MshPRF 1.0.1 §4.4.1.2.16); a Get, all zeros.
    for disable in [
        hb_set(0x0042, 0xC000, 0),
        hb_set(0, 0xC000, 5),
        hb_set(0x0042, 0, 5),
    ] {
        handle_at(&mut st, &mut hb, secs(10.0), &hb_set(0x0042, 0xC000, 6));
        for t in [11.0, 12.0, 13.0, 14.0] {
            assert!(beat(&st, &mut hb, secs(t)));
        }
        let out = handle_at(&mut st, &mut hb, secs(15.0), &disable);
        assert_eq!(out.effects, vec![Effect::HeartbeatSubscriptionChanged]);
        assert_eq!(
            hex::encode(out.reply.unwrap().emit_params()),
            hb_status(0, 0, 0, 3, 2, 2),
            "{disable:?}"
        );
        assert_eq!(st.heartbeat_subscription, None);
        assert!(!beat(&st, &mut hb, secs(16.0)));
        assert_eq!(heartbeat_subscription_report(&st, &hb, secs(16.0)), None);
        assert_eq!(
            hb_run(
                &mut st,
                &mut hb,
                secs(16.0),
                ConfigMessage::HeartbeatSubscriptionGet
            )
            .unwrap(),
            hb_status(0, 0, 0, 0, 0, 0)
        );
    }
    // Disabling what counted nothing answers Min Hops 0x7F, as the qualification test
    // MESH/NODE/CFG/HBS/BV-01-C expects.
    handle_at(&mut st, &mut hb, secs(20.0), &hb_set(0x0042, 0xC000, 6));
    assert_eq!(
        hb_run(&mut st, &mut hb, secs(21.0), hb_set(0, 0, 0)).unwrap(),
        hb_status(0, 0, 0, 0, 0x7F, 0)
    );
    // Disabling what is already disabled changes nothing persisted.
    let out = handle_at(&mut st, &mut hb, secs(22.0), &hb_set(0, 0, 0));
    assert_eq!(out.effects, vec![]);
}

#[test]
fn heartbeat_subscription_prohibited_values_get_no_answer() {
    let mut st = state();
    let mut hb = HeartbeatSubscriptionCounters::default();
    let mut set = |src, dst, log| hb_run(&mut st, &mut hb, Instant::ZERO, hb_set(src, dst, log));
    // This node's primary address is a valid destination; other unicast ones are not.
    assert!(set(0x0042, PRIMARY, 4).is_some());
    assert_eq!(set(0x0042, PRIMARY + 1, 4), None);
    assert_eq!(set(0xC000, 0xC000, 4), None);
    assert_eq!(set(0x0042, 0x8000, 4), None);
    assert_eq!(set(0x0042, 0xC000, 0x12), None);
    // The refusals left the subscription alone.
    assert_eq!(
        st.heartbeat_subscription.as_ref().map(|s| s.dst),
        Some(Address(PRIMARY))
    );
}

#[test]
fn heartbeat_subscription_without_run_time_state() {
    // `handle` (no counters, no clock) answers a Set as a node does and reports a
    // subscription that counts nothing afterwards.
    let mut st = state();
    assert_eq!(
        hex::encode(
            run(&mut st, hb_set(0x0042, 0xC000, 4))
                .reply
                .unwrap()
                .emit_params()
        ),
        hb_status(0x0042, 0xC000, 4, 0, 0x7F, 0)
    );
    assert_eq!(
        hex::encode(
            run(&mut st, ConfigMessage::HeartbeatSubscriptionGet)
                .reply
                .unwrap()
                .emit_params()
        ),
        hb_status(0x0042, 0xC000, 0, 0, 0x7F, 0)
    );
}
