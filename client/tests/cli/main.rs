//! The client against real things: a real store (in-process or its own
//! processes) on loopback with a temp SQLite file, and a small HTTP server
//! standing in for the agent, which needs no Docker Engine.

mod credentials;
mod errors;
mod helpers;
mod nodes;
mod one_shot;
mod ping;
mod prompt;
