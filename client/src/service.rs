//! The two services the client talks to, and what a person sets to point the
//! client at each. Depends on nothing else in the crate, so that errors,
//! discovery and requests can all name a service.

use std::fmt;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Service {
    Store,
    Agent,
}

impl Service {
    pub(crate) fn port(self) -> u16 {
        match self {
            Self::Store => 5001,
            Self::Agent => 5002,
        }
    }

    /// What a person sets to point the client elsewhere.
    pub(crate) fn setting(self) -> &'static str {
        match self {
            Self::Store => "--server URL or CONTAINER_INFO_SERVER",
            Self::Agent => "--agent URL or CONTAINER_INFO_AGENT",
        }
    }
}

impl fmt::Display for Service {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Store => "store",
            Self::Agent => "agent",
        })
    }
}
