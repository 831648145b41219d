//! Tests of the Mesh Configuration Database, a file a concern.

mod addresses;
mod convert;
mod read;
mod record;
mod roundtrip;
