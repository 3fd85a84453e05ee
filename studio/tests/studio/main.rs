//! Tests of the studio: every route through the router without a socket, on every backend
//! (the `tests` crate's harness), and a real headless Chromium for the browser flows.

mod browser;
mod common;
mod http;
