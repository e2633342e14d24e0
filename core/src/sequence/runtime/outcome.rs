//! How a task the sequence started ended: [`TaskOutcome`].

use alloc::string::String;
use core::fmt;

/// How a spawned task ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TaskOutcome {
    /// It ran to completion.
    Finished,
    /// It panicked; the panic message when it was a string.
    Panicked(Option<String>),
    /// The runtime stopped it before it finished (for example, it is shutting down).
    Cancelled,
}

impl fmt::Display for TaskOutcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TaskOutcome::Finished => f.write_str("finished"),
            TaskOutcome::Panicked(Some(message)) => write!(f, "panicked: {message}"),
            TaskOutcome::Panicked(None) => f.write_str("panicked"),
            TaskOutcome::Cancelled => f.write_str("cancelled"),
        }
    }
}
