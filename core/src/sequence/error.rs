//! Why a plan refused a registration: [`Refused`] (holding the resource) and
//! [`RegisterError`].

use alloc::boxed::Box;
use alloc::string::String;
use core::fmt;

use crate::raw::Exclusive;
use crate::Resource;

/// A refused registration: why, and the resource, handed back unrun so the caller can close
/// it itself.
///
/// # Examples
///
/// ```
/// # use winddown_core as winddown;
/// use winddown::{Config, Plan, RegisterError, Resource, Shutdown};
/// use std::time::Duration;
///
/// let plan = Plan::new(Shutdown::new(), Config::default());
/// let db = Resource::blocking("db", || Ok(())).deadline(Duration::ZERO);
/// let refused = plan.register(db).unwrap_err();
/// assert_eq!(refused.error(), &RegisterError::ZeroDeadline { name: "db".into() });
/// assert_eq!(refused.to_string(), "cannot register \"db\": its deadline is zero");
/// let db = refused.into_resource(); // still ours to close
/// assert_eq!(db.name(), "db");
/// ```
pub struct Refused {
    /// Boxed: the error path should not make every `Result` of `register` large.
    inner: Box<RefusedInner>,
}

struct RefusedInner {
    error: RegisterError,
    resource: Exclusive<Resource>,
}

impl Refused {
    pub(super) fn new(error: RegisterError, resource: Resource) -> Self {
        Refused {
            inner: Box::new(RefusedInner {
                error,
                resource: Exclusive::new(resource),
            }),
        }
    }

    /// Why it was refused.
    pub fn error(&self) -> &RegisterError {
        &self.inner.error
    }

    /// The resource, unrun: close it yourself.
    pub fn into_resource(self) -> Resource {
        self.inner.resource.into_inner()
    }

    /// Both parts.
    pub fn into_parts(self) -> (RegisterError, Resource) {
        let inner = *self.inner;
        (inner.error, inner.resource.into_inner())
    }
}

impl fmt::Debug for Refused {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Refused")
            .field("error", self.error())
            .finish_non_exhaustive()
    }
}

impl fmt::Display for Refused {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self.error(), f)
    }
}

impl core::error::Error for Refused {
    fn source(&self) -> Option<&(dyn core::error::Error + 'static)> {
        Some(self.error())
    }
}

impl From<Refused> for RegisterError {
    fn from(refused: Refused) -> Self {
        refused.inner.error
    }
}

/// Why a registration was refused ([`Refused::error`]).
///
/// # Examples
///
/// ```
/// # use winddown_core as winddown;
/// use winddown::{Config, Plan, Reason, RegisterError, Resource, Shutdown};
/// use winddown::testing::VirtualRuntime;
///
/// let shutdown = Shutdown::new();
/// let plan = Plan::new(shutdown.clone(), Config::default());
/// shutdown.trigger(Reason::requested());
/// // Triggered, but not closing yet: still accepted.
/// plan.register(Resource::blocking("db", || Ok(())))?;
///
/// let runtime = VirtualRuntime::new();
/// runtime.block_on(plan.run(&runtime));
/// let refused = plan.register(Resource::blocking("cache", || Ok(()))).unwrap_err();
/// assert_eq!(refused.error(), &RegisterError::Closing { name: "cache".into() });
/// # Ok::<(), Box<dyn std::error::Error + Send + Sync>>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum RegisterError {
    /// The sequence has started closing resources (or its run was abandoned): the resource
    /// would never be closed by it.
    Closing {
        /// The resource's name.
        name: String,
    },
    /// The resource's own deadline is zero.
    ZeroDeadline {
        /// The resource's name.
        name: String,
    },
    /// The resource's own deadline is larger than [`Config::MAX_DEADLINE`](crate::Config::MAX_DEADLINE).
    DeadlineTooLarge {
        /// The resource's name.
        name: String,
    },
}

impl fmt::Display for RegisterError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RegisterError::Closing { name } => write!(
                f,
                "cannot register {name:?}: the shutdown sequence has already started closing \
                 resources; close it directly"
            ),
            RegisterError::ZeroDeadline { name } => {
                write!(f, "cannot register {name:?}: its deadline is zero")
            }
            RegisterError::DeadlineTooLarge { name } => write!(
                f,
                "cannot register {name:?}: its deadline is larger than {} seconds",
                crate::Config::MAX_DEADLINE.as_secs()
            ),
        }
    }
}

impl core::error::Error for RegisterError {}
