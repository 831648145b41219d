mod medium;
mod network;
mod state;
