//! The scope tree: a parent's list of children, entered and left under the parent's lock, and
//! visited without holding it.
//!
//! Lock order: a scope takes only its own `children` lock, and a child takes its parent's to
//! leave the list; nobody holds two (the rule on `Lock`). Visiting the children
//! ([`Header::for_each_child`]) takes a weak unit on each under the lock and calls out after
//! releasing it, so a child that dies meanwhile can still take the lock to leave (invariant 7).

use alloc::vec::Vec;
use core::ptr::{self, NonNull};

use super::header::{Header, ParentLink, Stripe};
use crate::sync::Ordering;
use crate::Phase;

impl Header {
    /// Registers `child` in this scope's list; returns this scope's phase, read under the lock,
    /// for the child to follow.
    ///
    /// Either a propagation that follows a phase change sees the child in the list, or the
    /// phase returned is that change or a later one (the lock orders the two).
    ///
    /// # Safety
    ///
    /// `child` is the first handle of a freshly allocated scope whose `parent` link names
    /// `self`, and the caller holds it for the duration of the call.
    pub(super) unsafe fn adopt(&self, child: NonNull<Stripe>) -> Phase {
        // SAFETY: the caller's handle pins the child; `header` is the pointer `allocate` made
        // from `Box::into_raw`, so the list keeps a pointer that may later free the memory.
        let (child, child_ptr) = unsafe { (Header::of(child), child.as_ref().header) };
        let mut children = self.children.lock();
        if let Some(link) = &child.parent {
            link.slot.store(children.len(), Ordering::Relaxed);
        }
        children.push(child_ptr);
        self.phase()
    }

    /// Takes this scope (a child that is dying) out of its parent's list, if it still holds
    /// its parent handle.
    pub(super) fn leave_parent(&self, link: &ParentLink) {
        // memory ordering: Acquire pairs with the Release in `allocate`'s publication; the
        // pointer was never changed before this point, only taken afterwards (`die`).
        let Some(parent) = NonNull::new(link.handle.load(Ordering::Acquire)) else {
            return;
        };
        // SAFETY: the parent handle we still hold keeps the parent alive.
        let parent = unsafe { Header::of(parent) };
        let mut children = parent.children.lock();
        let slot = link.slot.load(Ordering::Relaxed);
        debug_assert!(ptr::eq(children[slot].as_ptr(), self));
        children.swap_remove(slot);
        if let Some(moved) = children.get(slot) {
            // SAFETY: invariant 7: a child in the list is alive while we hold the lock.
            let moved = unsafe { moved.as_ref() };
            if let Some(moved_link) = &moved.parent {
                moved_link.slot.store(slot, Ordering::Relaxed);
            }
        }
    }

    /// Calls `f` on each child scope, outside our lock: each child is held by a weak unit
    /// taken under the lock (invariant 7), so it may die meanwhile but is not freed. `f` must
    /// be sound on a dead scope (its parent link pointers are null then).
    pub(crate) fn for_each_child(&self, mut f: impl FnMut(&Header)) {
        let children: Vec<NonNull<Header>> = {
            let children = self.children.lock();
            if children.is_empty() {
                return;
            }
            for child in children.iter() {
                // SAFETY: invariant 7: a listed child is alive (its living weak unit is held)
                // while we hold the lock, so adding a unit is no resurrection.
                let child = unsafe { child.as_ref() };
                // memory ordering: Relaxed, as in `Arc::clone`: the lock already orders this
                // with the child's death.
                child.weak.fetch_add(1, Ordering::Relaxed);
            }
            children.clone()
        };
        for child in children {
            // SAFETY: our weak unit keeps the child's memory alive.
            f(unsafe { child.as_ref() });
            // SAFETY: we own the unit added above and do not touch the child afterwards.
            unsafe { Header::release_weak(child) };
        }
    }

    /// Whether this scope (a child) still counts as one in flight in its parent.
    pub(crate) fn holds_parent_guard(&self) -> bool {
        self.parent.as_ref().is_some_and(|link| {
            // memory ordering: Relaxed: a snapshot for a statistic.
            !link.guard.load(Ordering::Relaxed).is_null()
        })
    }
}
