//! The receive path under arbitrary bytes, for `mesh/fuzz` and the tests.

pub(super) fn receive(_data: &[u8]) {}
