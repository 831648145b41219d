mod address;
mod backoff;
mod lifecycle;
mod medium;
mod network;
mod security;
mod state;
