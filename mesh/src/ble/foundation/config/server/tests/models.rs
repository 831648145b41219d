//! Tests of the Configuration Server: Model App bindings, Model Publication and Subscriptions.

use super::*;

// -------------------------------------------------------------------------------------
// Model App Bind / Unbind / Get
// -------------------------------------------------------------------------------------

#[test]
fn model_app_bind_status_codes() {
    let mut st = state();
    run(&mut st, app_add(0, 1, KEY_A));
    let onoff_id = ModelId::GENERIC_ONOFF_SERVER;
    // Element of another node: 0x01; unknown model: 0x02; unknown AppKey: 0x03.
    assert_eq!(
        status(&run(&mut st, bind(0x0300, 1, onoff_id))),
        StatusCode::InvalidAddress
    );
    assert_eq!(
        status(&run(&mut st, bind(PRIMARY + 1, 1, onoff_id))),
        StatusCode::InvalidModel
    );
    assert_eq!(
        status(&run(&mut st, bind(PRIMARY, 2, onoff_id))),
        StatusCode::InvalidAppKeyIndex
    );
    // The Configuration Server takes only the device key: 0x0D.
    assert_eq!(
        status(&run(&mut st, bind(PRIMARY, 1, ModelId::CONFIG_SERVER))),
        StatusCode::CannotBind
    );
    // A non-unicast element address is prohibited: no answer.
    assert_eq!(run(&mut st, bind(0xC000, 1, onoff_id)).reply, None);

    let out = run(&mut st, bind(PRIMARY, 1, onoff_id));
    // Model App Status: 0x803E, Success, element 0x0100, AppKey 1, model 0x1000.
    assert_eq!(
        out.reply.unwrap().to_access().to_vec(),
        h("803e0000010100 0010".replace(' ', "").as_str())
    );
    assert_eq!(
        out.effects,
        vec![Effect::BindingsChanged {
            element: 0,
            model: onoff_id
        }]
    );
    let again = run(&mut st, bind(PRIMARY, 1, onoff_id));
    assert_eq!(status(&again), StatusCode::Success);
    assert!(again.effects.is_empty());
    assert_eq!(onoff(&st).app_keys, vec![1]);

    // Vendor model on the second element.
    assert_eq!(
        status(&run(&mut st, bind(PRIMARY + 1, 1, VENDOR))),
        StatusCode::Success
    );
    let out = run(
        &mut st,
        ConfigMessage::ModelAppGet {
            element: Address(PRIMARY + 1),
            model: VENDOR,
        },
    );
    assert_eq!(
        out.reply,
        Some(ConfigMessage::ModelAppList {
            status: StatusCode::Success,
            element: Address(PRIMARY + 1),
            model: VENDOR,
            app_key_indexes: vec![ki(1)],
        })
    );
    let out = run(
        &mut st,
        ConfigMessage::ModelAppGet {
            element: Address(PRIMARY + 1),
            model: onoff_id,
        },
    );
    assert_eq!(status(&out), StatusCode::InvalidModel);

    // Capacity.
    for i in 2..=MODEL_KEY_CAPACITY as u16 + 1 {
        run(&mut st, app_add(0, i, KEY_A));
        let s = status(&run(&mut st, bind(PRIMARY, i, onoff_id)));
        // Key 1 and keys 2..=capacity fill the model; the next one does not fit.
        let want = if usize::from(i) <= MODEL_KEY_CAPACITY {
            StatusCode::Success
        } else {
            StatusCode::InsufficientResources
        };
        assert_eq!(s, want, "key {i}");
    }
    assert_eq!(onoff(&st).app_keys.len(), MODEL_KEY_CAPACITY);
    check(&st).unwrap();
}

#[test]
fn model_app_unbind() {
    let mut st = state();
    run(&mut st, app_add(0, 1, KEY_A));
    let onoff_id = ModelId::GENERIC_ONOFF_SERVER;
    run(&mut st, bind(PRIMARY, 1, onoff_id));
    run(&mut st, pub_set(PRIMARY, 0xC000, 1, onoff_id));
    let unbind = |app| ConfigMessage::ModelAppUnbind {
        element: Address(PRIMARY),
        app_key_index: ki(app),
        model: onoff_id,
    };
    assert_eq!(
        status(&run(&mut st, unbind(4))),
        StatusCode::InvalidAppKeyIndex
    );
    let out = run(&mut st, unbind(1));
    assert_eq!(status(&out), StatusCode::Success);
    assert!(onoff(&st).app_keys.is_empty());
    // The publication used the key: it stops.
    assert_eq!(onoff(&st).publication, None);
    assert_eq!(out.effects.len(), 2);
    // Not bound: still Success.
    let out = run(&mut st, unbind(1));
    assert_eq!(status(&out), StatusCode::Success);
    assert!(out.effects.is_empty());
}

// -------------------------------------------------------------------------------------
// Model Publication
// -------------------------------------------------------------------------------------

#[test]
fn model_publication_set_get() {
    let mut st = state();
    run(&mut st, app_add(0, 1, KEY_A));
    let onoff_id = ModelId::GENERIC_ONOFF_SERVER;
    let get = ConfigMessage::ModelPublicationGet {
        element: Address(PRIMARY),
        model: onoff_id,
    };
    // Nothing configured: Success with all zero.
    let out = run(&mut st, get.clone());
    assert_eq!(
        out.reply.unwrap().emit_params(),
        h("000001000000000000000010")
    );

    let out = run(&mut st, pub_set(PRIMARY, 0xC000, 1, onoff_id));
    // Status, element, address, AppKey 1, TTL 5, 10 × 1 s, 2 × 250 ms, model.
    assert_eq!(
        out.reply.unwrap().emit_params(),
        h("00000100c00100054a220010")
    );
    assert_eq!(
        out.effects,
        vec![Effect::PublicationChanged {
            element: 0,
            model: onoff_id
        }]
    );
    let p = onoff(&st).publication.clone().unwrap();
    assert_eq!((p.address, p.label), (Address(0xC000), None));
    assert_eq!(p.params, pub_params(1));
    assert_eq!(
        run(&mut st, get.clone()).reply.unwrap().emit_params(),
        h("00000100c00100054a220010")
    );

    // Unknown AppKey: 0x03 and zeros; the publication stays.
    let out = run(&mut st, pub_set(PRIMARY, 0xC001, 9, onoff_id));
    assert_eq!(
        out.reply.unwrap().emit_params(),
        h("030001000000000000000010")
    );
    assert_eq!(onoff(&st).publication, Some(p));
    // Friendship credentials need the Low Power feature: 0x0A.
    let mut params = pub_params(1);
    params.credential_flag = true;
    let out = run(
        &mut st,
        ConfigMessage::ModelPublicationSet {
            element: Address(PRIMARY),
            address: Address(0xC001),
            publication: params,
            model: onoff_id,
        },
    );
    assert_eq!(status(&out), StatusCode::FeatureNotSupported);
    // The Configuration Server does not publish: 0x07.
    let out = run(&mut st, pub_set(PRIMARY, 0xC001, 1, ModelId::CONFIG_SERVER));
    assert_eq!(status(&out), StatusCode::InvalidPublishParameters);
    let out = run(
        &mut st,
        ConfigMessage::ModelPublicationGet {
            element: Address(PRIMARY),
            model: ModelId::CONFIG_SERVER,
        },
    );
    assert_eq!(status(&out), StatusCode::InvalidPublishParameters);
    // Bad element / model.
    assert_eq!(
        status(&run(&mut st, pub_set(0x0200, 0xC001, 1, onoff_id))),
        StatusCode::InvalidAddress
    );
    assert_eq!(
        status(&run(&mut st, pub_set(PRIMARY + 1, 0xC001, 1, onoff_id))),
        StatusCode::InvalidModel
    );
    // A virtual address in the non-virtual Set is prohibited: no answer.
    assert_eq!(
        run(&mut st, pub_set(PRIMARY, 0x8123, 1, onoff_id)).reply,
        None
    );
    // Unicast destinations are fine.
    assert_eq!(
        status(&run(&mut st, pub_set(PRIMARY, 0x0042, 1, onoff_id))),
        StatusCode::Success
    );

    // The unassigned address stops publishing (the AppKey is not checked).
    let out = run(&mut st, pub_set(PRIMARY, 0x0000, 9, onoff_id));
    assert_eq!(
        out.reply.unwrap().emit_params(),
        h("000001000000000000000010")
    );
    assert_eq!(onoff(&st).publication, None);
    check(&st).unwrap();
}

#[test]
fn model_publication_virtual() {
    let mut st = state();
    run(&mut st, app_add(0, 1, KEY_A));
    // MshPRT §8.3 (sample data, the message to a virtual address): Label UUID 0073e7e4...c0e1 is virtual address 0xb529.
    let label: [u8; 16] = h("0073e7e4d8b9440faf8415df4c56c0e1").try_into().unwrap();
    let va = virtual_address(&label);
    assert_eq!(va, 0xb529);
    let out = run(
        &mut st,
        ConfigMessage::ModelPublicationVirtualAddressSet {
            element: Address(PRIMARY + 1),
            label,
            publication: pub_params(1),
            model: VENDOR,
        },
    );
    let Some(ConfigMessage::ModelPublicationStatus {
        status,
        address,
        model,
        ..
    }) = out.reply
    else {
        panic!()
    };
    assert_eq!(
        (status, address, model),
        (StatusCode::Success, Address(va), VENDOR)
    );
    let p = st.elements[1].models[1].publication.clone().unwrap();
    assert_eq!((p.address, p.label), (Address(va), Some(label)));
    check(&st).unwrap();
}

// -------------------------------------------------------------------------------------
// Subscriptions
// -------------------------------------------------------------------------------------

#[test]
fn subscription_add_delete_overwrite() {
    let mut st = state();
    let onoff_id = ModelId::GENERIC_ONOFF_SERVER;
    let out = run(&mut st, sub_add(PRIMARY, 0xC001, onoff_id));
    // Model Subscription Status: 0x801F, Success, element, address, model.
    assert_eq!(
        out.reply.unwrap().to_access().to_vec(),
        h("801f00000101c00010")
    );
    assert_eq!(
        out.effects,
        vec![Effect::SubscriptionsChanged {
            element: 0,
            model: onoff_id
        }]
    );
    let again = run(&mut st, sub_add(PRIMARY, 0xC001, onoff_id));
    assert_eq!(status(&again), StatusCode::Success);
    assert!(again.effects.is_empty());
    // Fixed groups other than all-nodes are fine.
    assert_eq!(
        status(&run(&mut st, sub_add(PRIMARY, 0xFFFE, onoff_id))),
        StatusCode::Success
    );
    for bad in [0xFFFF, 0x0005, 0x0000, 0x8123] {
        assert_eq!(
            status(&run(&mut st, sub_add(PRIMARY, bad, onoff_id))),
            StatusCode::InvalidAddress,
            "{bad:#x}"
        );
    }
    assert_eq!(
        status(&run(&mut st, sub_add(0x0900, 0xC001, onoff_id))),
        StatusCode::InvalidAddress
    );
    assert_eq!(
        status(&run(&mut st, sub_add(PRIMARY, 0xC001, VENDOR))),
        StatusCode::InvalidModel
    );
    assert_eq!(
        status(&run(
            &mut st,
            sub_add(PRIMARY, 0xC001, ModelId::CONFIG_SERVER)
        )),
        StatusCode::NotASubscribeModel
    );
    assert_eq!(run(&mut st, sub_add(0xFFFF, 0xC001, onoff_id)).reply, None);
    assert_eq!(
        onoff(&st).subscriptions,
        vec![Address(0xC001), Address(0xFFFE)]
    );

    // Capacity.
    for i in 0..SUBSCRIPTION_CAPACITY as u16 {
        run(&mut st, sub_add(PRIMARY, 0xC100 + i, onoff_id));
    }
    assert_eq!(onoff(&st).subscriptions.len(), SUBSCRIPTION_CAPACITY);
    assert_eq!(
        status(&run(&mut st, sub_add(PRIMARY, 0xC200, onoff_id))),
        StatusCode::InsufficientResources
    );

    // Delete: present or not, Success.
    let del = |a| ConfigMessage::ModelSubscriptionDelete {
        element: Address(PRIMARY),
        address: Address(a),
        model: onoff_id,
    };
    assert_eq!(status(&run(&mut st, del(0xC001))), StatusCode::Success);
    assert!(!onoff(&st).subscriptions.contains(&Address(0xC001)));
    let out = run(&mut st, del(0xC001));
    assert_eq!(status(&out), StatusCode::Success);
    assert!(out.effects.is_empty());
    assert_eq!(
        status(&run(&mut st, del(0x0001))),
        StatusCode::InvalidAddress
    );

    // Overwrite replaces the list.
    let out = run(
        &mut st,
        ConfigMessage::ModelSubscriptionOverwrite {
            element: Address(PRIMARY),
            address: Address(0xC00F),
            model: onoff_id,
        },
    );
    assert_eq!(status(&out), StatusCode::Success);
    assert_eq!(onoff(&st).subscriptions, vec![Address(0xC00F)]);
    // An invalid address leaves it alone.
    let out = run(
        &mut st,
        ConfigMessage::ModelSubscriptionOverwrite {
            element: Address(PRIMARY),
            address: Address(0xFFFF),
            model: onoff_id,
        },
    );
    assert_eq!(status(&out), StatusCode::InvalidAddress);
    assert_eq!(onoff(&st).subscriptions, vec![Address(0xC00F)]);
    check(&st).unwrap();
}

#[test]
fn subscription_virtual_and_delete_all() {
    let mut st = state();
    let label: [u8; 16] = h("f4a002c7fb1e4ca0a469a021de0db875").try_into().unwrap();
    let va = Address(virtual_address(&label));
    let m = ModelId::GENERIC_LEVEL_SERVER;
    let el = Address(PRIMARY + 1);
    let vadd = |label| ConfigMessage::ModelSubscriptionVirtualAddressAdd {
        element: el,
        label,
        model: m,
    };
    let out = run(&mut st, vadd(label));
    assert_eq!(
        out.reply,
        Some(ConfigMessage::ModelSubscriptionStatus {
            status: StatusCode::Success,
            element: el,
            address: va,
            model: m,
        })
    );
    run(&mut st, sub_add(PRIMARY + 1, 0xC003, m));
    assert_eq!(
        st.elements[1].models[0].subscriptions,
        vec![va, Address(0xC003)]
    );
    assert_eq!(st.elements[1].models[0].labels, vec![label]);

    // Subscription Get lists group and virtual addresses.
    let out = run(
        &mut st,
        ConfigMessage::ModelSubscriptionGet {
            element: el,
            model: m,
        },
    );
    assert_eq!(
        out.reply,
        Some(ConfigMessage::ModelSubscriptionList {
            status: StatusCode::Success,
            element: el,
            model: m,
            addresses: vec![va, Address(0xC003)],
        })
    );
    let out = run(
        &mut st,
        ConfigMessage::ModelSubscriptionGet {
            element: Address(PRIMARY),
            model: ModelId::CONFIG_SERVER,
        },
    );
    assert_eq!(status(&out), StatusCode::NotASubscribeModel);
    let out = run(
        &mut st,
        ConfigMessage::ModelSubscriptionGet {
            element: el,
            model: VENDOR,
        },
    );
    assert_eq!(
        out.reply.unwrap().to_access().to_vec(),
        h("802c00010 1f1050100".replace(' ', "").as_str())
    );

    // Virtual delete: an unknown label cannot be removed; the known one goes.
    let vdel = |label| ConfigMessage::ModelSubscriptionVirtualAddressDelete {
        element: el,
        label,
        model: m,
    };
    assert_eq!(
        status(&run(&mut st, vdel([9; 16]))),
        StatusCode::CannotRemove
    );
    assert_eq!(status(&run(&mut st, vdel(label))), StatusCode::Success);
    assert_eq!(
        st.elements[1].models[0].subscriptions,
        vec![Address(0xC003)]
    );
    assert!(st.elements[1].models[0].labels.is_empty());

    // Virtual overwrite.
    let out = run(
        &mut st,
        ConfigMessage::ModelSubscriptionVirtualAddressOverwrite {
            element: el,
            label,
            model: m,
        },
    );
    assert_eq!(status(&out), StatusCode::Success);
    assert_eq!(st.elements[1].models[0].subscriptions, vec![va]);
    check(&st).unwrap();

    // Delete All reports the unassigned address.
    let out = run(
        &mut st,
        ConfigMessage::ModelSubscriptionDeleteAll {
            element: el,
            model: m,
        },
    );
    assert_eq!(out.reply.unwrap().emit_params(), h("00010100000210"));
    assert!(st.elements[1].models[0].subscriptions.is_empty());
    assert!(st.elements[1].models[0].labels.is_empty());
    // On a model of another element: Invalid Model, and for a label the address is 0.
    let out = run(
        &mut st,
        ConfigMessage::ModelSubscriptionVirtualAddressAdd {
            element: Address(PRIMARY),
            label,
            model: m,
        },
    );
    assert_eq!(out.reply.unwrap().emit_params(), h("02000100000210"));
    check(&st).unwrap();
}
