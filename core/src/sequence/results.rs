//! [`Results`]: where the closers' tasks leave their results for the sequence.

use alloc::string::String;
use alloc::sync::Arc;

use crate::raw::Lock;

/// Where each blocking closer's task leaves its result: one slot for the whole run (the closers
/// run one at a time), with a ticket per closer so that a closer abandoned at its deadline (it
/// runs on, detached) cannot leave its result for the next one.
#[derive(Clone, Default)]
pub(super) struct Results(Arc<Lock<Slot>>);

/// The slot [`Results`] shares: whose result it waits for, and the result once left.
#[derive(Default)]
struct Slot {
    ticket: u64,
    result: Option<Result<(), String>>,
}

impl Results {
    /// The ticket of the next closer; the slot now waits for its result only.
    pub(super) fn next(&self) -> u64 {
        let mut slot = self.0.lock();
        slot.ticket += 1;
        slot.result = None;
        slot.ticket
    }

    /// Leaves the result of the closer with `ticket`, unless another closer has begun since.
    pub(super) fn put(&self, ticket: u64, result: Result<(), String>) {
        let stale = {
            let mut slot = self.0.lock();
            if slot.ticket == ticket {
                slot.result = Some(result);
                None
            } else {
                Some(result)
            }
        };
        // A stale result (its error text) is dropped outside the lock.
        drop(stale);
    }

    /// The result the closer with `ticket` left, if it left one.
    pub(super) fn take(&self, ticket: u64) -> Option<Result<(), String>> {
        let mut slot = self.0.lock();
        if slot.ticket == ticket {
            slot.result.take()
        } else {
            None
        }
    }
}
