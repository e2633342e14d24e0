//! Panic payloads, where unwinding can be caught (`std`).

use alloc::string::String;

/// The message of a panic payload, when it is a string.
pub(crate) fn message(payload: &(dyn core::any::Any + Send)) -> Option<String> {
    if let Some(message) = payload.downcast_ref::<&str>() {
        Some(String::from(*message))
    } else {
        payload.downcast_ref::<String>().cloned()
    }
}
