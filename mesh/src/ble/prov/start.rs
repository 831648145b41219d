//! Choosing the Start of a provisioning session (Mesh Protocol 1.1 §5.4.1.3, §5.4.2.3): the
//! algorithm, the public key type and the authentication method a Provisioner sends for a
//! device's Capabilities, and whether a device accepts the Start it receives.

use super::session::{AuthPolicy, ProvisionerConfig};
use crate::ble::wire::prov::{
    Algorithm, AuthMethod, Capabilities, InputOobAction, OutputOobAction, Start,
};

/// Whether a device with `caps` accepts `start` (§5.4.1.3, §5.4.2.3): the algorithm, the
/// public key type and the authentication method with its action and size must all be
/// offered, and a device supporting only OOB-authenticated provisioning refuses
/// BTM_ECDH_P256_CMAC_AES128_AES_CCM and No OOB.
pub fn start_allowed(
    caps: &Capabilities,
    start: &Start,
    has_static: bool,
    has_oob_key: bool,
) -> bool {
    if !caps.algorithms.supports(start.algorithm) {
        return false;
    }
    if start.public_key_oob && !(caps.public_key_oob && has_oob_key) {
        return false;
    }
    if caps.only_oob_authenticated
        && (start.algorithm == Algorithm::P256CmacAes128
            || start.authentication == AuthMethod::NoOob)
    {
        return false;
    }
    match start.authentication {
        AuthMethod::NoOob => true,
        AuthMethod::StaticOob => caps.static_oob && has_static,
        AuthMethod::OutputOob { action, size } => {
            caps.output_oob_actions.supports(action) && size <= caps.output_oob_size
        }
        AuthMethod::InputOob { action, size } => {
            caps.input_oob_actions.supports(action) && size <= caps.input_oob_size
        }
    }
}

/// The Start a Provisioner sends for `caps` under `config` (§5.4.2.3), or why there is none.
pub fn choose_start(
    config: &ProvisionerConfig,
    caps: &Capabilities,
) -> Result<Start, &'static str> {
    let last =
        u32::from(config.data.unicast_address.get()) + u32::from(caps.number_of_elements) - 1;
    if last > 0x7FFF {
        return Err("the device's elements do not fit the unicast address range");
    }
    // §5.4.2.3: the strongest algorithm; CMAC-AES128 only when nothing else is offered.
    let algorithm = match config.algorithm {
        Some(a) if caps.algorithms.supports(a) => a,
        Some(_) => return Err("the device does not support the configured algorithm"),
        None if caps.algorithms.supports(Algorithm::P256HmacSha256) => Algorithm::P256HmacSha256,
        None if caps.algorithms.supports(Algorithm::P256CmacAes128) => Algorithm::P256CmacAes128,
        None => return Err("the device supports no known algorithm"),
    };
    let public_key_oob = caps.public_key_oob && config.device_public_key.is_some();
    let has_static = config.static_oob.is_some();
    let authentication = match config.auth {
        AuthPolicy::Fixed(m) => m,
        AuthPolicy::Auto => auto_method(caps, has_static),
    };
    let start = Start {
        algorithm,
        public_key_oob,
        authentication,
    };
    if start_allowed(caps, &start, has_static, public_key_oob) {
        Ok(start)
    } else {
        Err("the device does not offer the authentication method")
    }
}

fn auto_method(caps: &Capabilities, has_static: bool) -> AuthMethod {
    if caps.static_oob && has_static {
        return AuthMethod::StaticOob;
    }
    let outputs = [
        OutputOobAction::OutputNumeric,
        OutputOobAction::OutputAlphanumeric,
        OutputOobAction::Blink,
        OutputOobAction::Beep,
        OutputOobAction::Vibrate,
    ];
    if caps.output_oob_size > 0 {
        if let Some(&action) = outputs
            .iter()
            .find(|a| caps.output_oob_actions.supports(**a))
        {
            return AuthMethod::OutputOob {
                action,
                size: caps.output_oob_size,
            };
        }
    }
    let inputs = [
        InputOobAction::InputNumeric,
        InputOobAction::InputAlphanumeric,
        InputOobAction::Push,
        InputOobAction::Twist,
    ];
    if caps.input_oob_size > 0 {
        if let Some(&action) = inputs.iter().find(|a| caps.input_oob_actions.supports(**a)) {
            return AuthMethod::InputOob {
                action,
                size: caps.input_oob_size,
            };
        }
    }
    AuthMethod::NoOob
}
