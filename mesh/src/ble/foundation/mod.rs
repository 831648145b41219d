//! The foundation models (Mesh Protocol 1.1 chapter 4): what every node has to be configured and
//! looked after, each model's messages beside the behaviour of its server and client.
//!
//! | module | MshPRT |
//! |--------|--------|
//! | [`composition`] | §4.2.2.1 Composition Data Page 0 |
//! | [`config`] | §4.3.2 Configuration messages, §4.4.1 Configuration Server, §4.4.2 Configuration Client |
//! | [`health`] | §4.3.3 Health messages, §4.4.3 Health Server |
//!
//! The types the foundation models share with the other models (model identifiers, key
//! indexes, the decoder of any model message) are in [`crate::ble::models`].

pub mod composition;
pub mod config;
pub mod health;
