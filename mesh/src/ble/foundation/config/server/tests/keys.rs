//! Tests of the Configuration Server: NetKeys, AppKeys and Key Refresh.

use super::*;

// -------------------------------------------------------------------------------------
// AppKeys
// -------------------------------------------------------------------------------------

// MshPRT §8.3.6 and §8.3.16 (sample data, messages #6 and #16): the node at 0x1201 with
// NetKey index 0x456 gets Config AppKey Add (NetKey 0x456, AppKey 0x123) and answers
// Config AppKey Status 80 03 00 56 34 12.
#[test]
fn sample_appkey_add_status() {
    let mut st = state();
    st.net_keys[0].index = 0x456;
    st.net_keys[0].key = h("7dd7364cd842ad18c17c2b820c84c3d6").try_into().unwrap();
    let msg = ConfigMessage::parse(
        cfg::APPKEY_ADD,
        &h("56341263964771734fbd76e3b40519d1d94a48"),
    )
    .unwrap();
    let out = run(&mut st, msg.clone());
    let reply = out.reply.clone().unwrap();
    assert_eq!(reply.to_access().to_vec(), h("800300563412"));
    assert_eq!(out.effects, vec![Effect::KeysChanged]);
    assert!(out.state_changed());
    assert_eq!(st.app_keys.len(), 1);
    assert_eq!(st.app_keys[0].index, 0x123);
    assert_eq!(st.app_keys[0].net_index, 0x456);
    // The same request again (its status was lost): Success, nothing changes.
    let again = run(&mut st, msg);
    assert_eq!(again.reply, Some(reply));
    assert!(again.effects.is_empty());
}

#[test]
fn appkey_add_status_codes() {
    let mut st = state();
    assert_eq!(
        status(&run(&mut st, app_add(0, 1, KEY_A))),
        StatusCode::Success
    );
    // Same index, another key: 0x06.
    let out = run(&mut st, app_add(0, 1, KEY_B));
    assert_eq!(status(&out), StatusCode::KeyIndexAlreadyStored);
    assert_eq!(out.reply.unwrap().emit_params()[0], 0x06);
    assert_eq!(st.app_keys[0].key, KEY_A);
    // Unknown NetKey: 0x04.
    assert_eq!(
        status(&run(&mut st, app_add(7, 2, KEY_A))),
        StatusCode::InvalidNetKeyIndex
    );
    // Same index bound to another NetKey.
    run(
        &mut st,
        ConfigMessage::NetKeyAdd {
            net_key_index: ki(1),
            key: KEY_B,
        },
    );
    assert_eq!(
        status(&run(&mut st, app_add(1, 1, KEY_A))),
        StatusCode::InvalidNetKeyIndex
    );
    // Capacity.
    for i in st.app_keys.len()..APP_KEY_CAPACITY {
        assert_eq!(
            status(&run(&mut st, app_add(0, 0x100 + i as u16, KEY_A))),
            StatusCode::Success
        );
    }
    assert_eq!(
        status(&run(&mut st, app_add(0, 0xFFF, KEY_A))),
        StatusCode::InsufficientResources
    );
    assert_eq!(st.app_keys.len(), APP_KEY_CAPACITY);
    check(&st).unwrap();
}

#[test]
fn appkey_get_lists_keys_of_a_netkey() {
    let mut st = state();
    run(
        &mut st,
        ConfigMessage::NetKeyAdd {
            net_key_index: ki(1),
            key: KEY_B,
        },
    );
    run(&mut st, app_add(0, 3, KEY_A));
    run(&mut st, app_add(1, 4, KEY_A));
    run(&mut st, app_add(0, 5, KEY_A));
    let out = run(
        &mut st,
        ConfigMessage::AppKeyGet {
            net_key_index: ki(0),
        },
    );
    assert_eq!(
        out.reply,
        Some(ConfigMessage::AppKeyList {
            status: StatusCode::Success,
            net_key_index: ki(0),
            app_key_indexes: vec![ki(3), ki(5)],
        })
    );
    let out = run(
        &mut st,
        ConfigMessage::AppKeyGet {
            net_key_index: ki(9),
        },
    );
    assert_eq!(
        out.reply,
        Some(ConfigMessage::AppKeyList {
            status: StatusCode::InvalidNetKeyIndex,
            net_key_index: ki(9),
            app_key_indexes: vec![],
        })
    );
}

#[test]
fn appkey_delete_unbinds_and_stops_publications() {
    let mut st = state();
    run(&mut st, app_add(0, 1, KEY_A));
    run(&mut st, app_add(0, 2, KEY_B));
    run(&mut st, bind(PRIMARY, 1, ModelId::GENERIC_ONOFF_SERVER));
    run(&mut st, bind(PRIMARY, 2, ModelId::GENERIC_ONOFF_SERVER));
    run(&mut st, bind(PRIMARY + 1, 1, VENDOR));
    run(
        &mut st,
        pub_set(PRIMARY, 0xC000, 1, ModelId::GENERIC_ONOFF_SERVER),
    );
    assert!(onoff(&st).publication.is_some());

    let del = |net, app| ConfigMessage::AppKeyDelete {
        net_key_index: ki(net),
        app_key_index: ki(app),
    };
    assert_eq!(
        status(&run(&mut st, del(3, 1))),
        StatusCode::InvalidNetKeyIndex
    );
    run(
        &mut st,
        ConfigMessage::NetKeyAdd {
            net_key_index: ki(3),
            key: KEY_B,
        },
    );
    assert_eq!(status(&run(&mut st, del(3, 1))), StatusCode::InvalidBinding);

    let out = run(&mut st, del(0, 1));
    assert_eq!(status(&out), StatusCode::Success);
    assert_eq!(out.reply.unwrap().emit_params(), h("00001000"));
    assert!(out.effects.contains(&Effect::KeysChanged));
    assert!(out.effects.contains(&Effect::PublicationChanged {
        element: 0,
        model: ModelId::GENERIC_ONOFF_SERVER
    }));
    assert_eq!(onoff(&st).app_keys, vec![2]);
    assert_eq!(onoff(&st).publication, None);
    assert!(st.elements[1].models[1].app_keys.is_empty());
    assert_eq!(st.app_keys.len(), 1);
    // Deleting it again: Success (a retry).
    let out = run(&mut st, del(0, 1));
    assert_eq!(status(&out), StatusCode::Success);
    assert!(out.effects.is_empty());
    check(&st).unwrap();
}

#[test]
fn appkey_update_only_in_phase_1() {
    let mut st = state();
    run(&mut st, app_add(0, 1, KEY_A));
    run(
        &mut st,
        ConfigMessage::NetKeyAdd {
            net_key_index: ki(1),
            key: KEY_B,
        },
    );
    run(&mut st, app_add(1, 2, KEY_A));
    let upd = |net, app, key| ConfigMessage::AppKeyUpdate {
        net_key_index: ki(net),
        app_key_index: ki(app),
        key,
    };
    // Normal operation: 0x0B Cannot Update.
    assert_eq!(
        status(&run(&mut st, upd(0, 1, KEY_B))),
        StatusCode::CannotUpdate
    );
    assert_eq!(
        status(&run(&mut st, upd(5, 1, KEY_B))),
        StatusCode::InvalidNetKeyIndex
    );
    assert_eq!(
        status(&run(&mut st, upd(0, 9, KEY_B))),
        StatusCode::InvalidAppKeyIndex
    );
    // AppKey 2 is bound to NetKey 1: 0x11 Invalid Binding.
    assert_eq!(
        status(&run(&mut st, upd(0, 2, KEY_B))),
        StatusCode::InvalidBinding
    );

    // NetKey Update starts phase 1.
    let new_net = [0x33; 16];
    let out = run(
        &mut st,
        ConfigMessage::NetKeyUpdate {
            net_key_index: ki(0),
            key: new_net,
        },
    );
    assert_eq!(status(&out), StatusCode::Success);
    assert!(out.effects.contains(&Effect::KeyRefresh {
        net_index: 0,
        phase: KeyRefreshPhase::First
    }));
    assert_eq!(st.net_keys[0].phase, KeyRefreshPhase::First);
    assert_eq!(st.net_keys[0].new_key, Some(new_net));

    let out = run(&mut st, upd(0, 1, KEY_B));
    assert_eq!(status(&out), StatusCode::Success);
    assert_eq!(out.effects, vec![Effect::KeysChanged]);
    assert_eq!(st.app_keys[0].new_key, Some(KEY_B));
    assert_eq!(status(&run(&mut st, upd(0, 1, KEY_B))), StatusCode::Success);
    assert_eq!(
        status(&run(&mut st, upd(0, 1, [0x44; 16]))),
        StatusCode::CannotUpdate
    );
    // The other subnet is still in Normal operation.
    assert_eq!(
        status(&run(&mut st, upd(1, 2, KEY_B))),
        StatusCode::CannotUpdate
    );

    // Phase 2: no more updates.
    let krp = |t| ConfigMessage::KeyRefreshPhaseSet {
        net_key_index: ki(0),
        transition: t,
    };
    run(&mut st, krp(2));
    assert_eq!(st.net_keys[0].phase, KeyRefreshPhase::Second);
    assert_eq!(
        status(&run(&mut st, upd(0, 1, KEY_B))),
        StatusCode::CannotUpdate
    );
    // Phase 3: the new keys replace the old ones.
    run(&mut st, krp(3));
    assert_eq!(st.net_keys[0].phase, KeyRefreshPhase::Normal);
    assert_eq!(st.net_keys[0].key, new_net);
    assert_eq!(st.net_keys[0].new_key, None);
    assert_eq!(st.app_keys[0].key, KEY_B);
    assert_eq!(st.app_keys[0].new_key, None);
    assert_eq!(st.app_keys[1].key, KEY_A);
    check(&st).unwrap();
}

// -------------------------------------------------------------------------------------
// NetKeys and Key Refresh
// -------------------------------------------------------------------------------------

#[test]
fn netkey_add_update_delete() {
    let mut st = state();
    let add = |i, key| ConfigMessage::NetKeyAdd {
        net_key_index: ki(i),
        key,
    };
    assert_eq!(status(&run(&mut st, add(0, NET0))), StatusCode::Success);
    assert_eq!(
        status(&run(&mut st, add(0, KEY_A))),
        StatusCode::KeyIndexAlreadyStored
    );
    let out = run(&mut st, add(0x123, KEY_A));
    assert_eq!(out.reply.unwrap().to_access().to_vec(), h("8044002301"));
    assert_eq!(out.effects, vec![Effect::KeysChanged]);
    for i in st.net_keys.len()..NET_KEY_CAPACITY {
        assert_eq!(
            status(&run(&mut st, add(0x200 + i as u16, KEY_B))),
            StatusCode::Success
        );
    }
    assert_eq!(
        status(&run(&mut st, add(0xFFF, KEY_B))),
        StatusCode::InsufficientResources
    );

    let out = run(&mut st, ConfigMessage::NetKeyGet);
    let Some(ConfigMessage::NetKeyList { net_key_indexes }) = out.reply else {
        panic!()
    };
    assert_eq!(net_key_indexes.len(), NET_KEY_CAPACITY);
    assert_eq!(net_key_indexes[..2], [ki(0), ki(0x123)]);

    // Update: unknown index, then phase 1, the same key again, another key.
    let upd = |i, key| ConfigMessage::NetKeyUpdate {
        net_key_index: ki(i),
        key,
    };
    assert_eq!(
        status(&run(&mut st, upd(0x999, KEY_B))),
        StatusCode::InvalidNetKeyIndex
    );
    assert_eq!(
        status(&run(&mut st, upd(0x123, KEY_B))),
        StatusCode::Success
    );
    let again = run(&mut st, upd(0x123, KEY_B));
    assert_eq!(status(&again), StatusCode::Success);
    assert!(again.effects.is_empty());
    assert_eq!(
        status(&run(&mut st, upd(0x123, NET0))),
        StatusCode::CannotUpdate
    );

    // Delete: with its AppKeys and a Heartbeat Publication on it.
    run(&mut st, app_add(0x123, 7, KEY_A));
    run(&mut st, bind(PRIMARY, 7, ModelId::GENERIC_ONOFF_SERVER));
    run(
        &mut st,
        ConfigMessage::HeartbeatPublicationSet(HeartbeatPublicationParams {
            destination: Address(0xC000),
            count_log: 2,
            period_log: 2,
            ttl: 5,
            features: Features(0),
            net_key_index: ki(0x123),
        }),
    );
    let del = |i| ConfigMessage::NetKeyDelete {
        net_key_index: ki(i),
    };
    let out = run(&mut st, del(0x123));
    assert_eq!(status(&out), StatusCode::Success);
    assert!(out.effects.contains(&Effect::HeartbeatPublicationChanged));
    assert!(st.app_keys.is_empty());
    assert!(onoff(&st).app_keys.is_empty());
    assert_eq!(st.heartbeat_publication, None);
    assert_eq!(status(&run(&mut st, del(0x123))), StatusCode::Success);
    check(&st).unwrap();
    // Down to the last NetKey, which cannot go: 0x0C.
    let rest: Vec<u16> = st.net_keys.iter().skip(1).map(|k| k.index).collect();
    for i in rest {
        assert_eq!(status(&run(&mut st, del(i))), StatusCode::Success);
    }
    let out = run(&mut st, del(0));
    assert_eq!(out.reply.unwrap().to_access().to_vec(), h("80440c0000"));
    assert_eq!(st.net_keys.len(), 1);
}

#[test]
fn key_refresh_phase_transitions() {
    let mut st = state();
    let get = ConfigMessage::KeyRefreshPhaseGet {
        net_key_index: ki(0),
    };
    let set = |t| ConfigMessage::KeyRefreshPhaseSet {
        net_key_index: ki(0),
        transition: t,
    };
    let phase = |out: &ConfigOutcome| match out.reply {
        Some(ConfigMessage::KeyRefreshPhaseStatus { phase, .. }) => phase,
        ref r => panic!("{r:?}"),
    };
    assert_eq!(
        run(&mut st, get.clone()).reply.unwrap().emit_params(),
        h("00000000")
    );
    // Phase 0: transitions 2 and 3 change nothing.
    for t in [2, 3] {
        let out = run(&mut st, set(t));
        assert_eq!((status(&out), phase(&out)), (StatusCode::Success, 0));
        assert!(out.effects.is_empty());
    }
    // Unknown subnet: 0x04, phase 0.
    let out = run(
        &mut st,
        ConfigMessage::KeyRefreshPhaseSet {
            net_key_index: ki(5),
            transition: 2,
        },
    );
    assert_eq!(
        (status(&out), phase(&out)),
        (StatusCode::InvalidNetKeyIndex, 0)
    );
    // A transition the codec rejects: no answer.
    assert_eq!(run(&mut st, set(1)).reply, None);

    run(
        &mut st,
        ConfigMessage::NetKeyUpdate {
            net_key_index: ki(0),
            key: KEY_A,
        },
    );
    assert_eq!(phase(&run(&mut st, get.clone())), 1);
    let out = run(&mut st, set(2));
    assert_eq!(phase(&out), 2);
    assert_eq!(
        out.effects,
        vec![Effect::KeyRefresh {
            net_index: 0,
            phase: KeyRefreshPhase::Second
        }]
    );
    // Phase 2 with transition 2: stays.
    let out = run(&mut st, set(2));
    assert_eq!(phase(&out), 2);
    assert!(out.effects.is_empty());
    let out = run(&mut st, set(3));
    assert_eq!(phase(&out), 0);
    assert_eq!(st.net_keys[0].key, KEY_A);
    // Phase 1 straight to Normal with transition 3.
    run(
        &mut st,
        ConfigMessage::NetKeyUpdate {
            net_key_index: ki(0),
            key: KEY_B,
        },
    );
    let out = run(&mut st, set(3));
    assert_eq!(phase(&out), 0);
    assert_eq!(st.net_keys[0].key, KEY_B);
    assert_eq!(st.net_keys[0].phase, KeyRefreshPhase::Normal);
}

#[test]
fn handle_leaves_the_phase_to_the_node() {
    let mut st = state();
    let out = handle(
        &mut st,
        &ConfigMessage::NetKeyUpdate {
            net_key_index: ki(0),
            key: KEY_A,
        },
    );
    assert_eq!(st.net_keys[0].phase, KeyRefreshPhase::Normal);
    assert_eq!(st.net_keys[0].new_key, Some(KEY_A));
    assert_eq!(
        out.effects,
        vec![
            Effect::KeysChanged,
            Effect::KeyRefresh {
                net_index: 0,
                phase: KeyRefreshPhase::First
            }
        ]
    );
    assert!(apply_key_refresh(&mut st, 0, KeyRefreshPhase::First));
    assert!(!apply_key_refresh(&mut st, 0, KeyRefreshPhase::First));
    assert!(!apply_key_refresh(&mut st, 9, KeyRefreshPhase::Second));
}
