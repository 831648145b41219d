mod address;
mod lifecycle;
mod medium;
mod network;
mod security;
mod state;
