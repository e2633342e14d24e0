//! `cfg_feature!`: emits an item's `#[cfg]` and its docs.rs `doc(cfg)` badge from one place, so
//! the two cannot drift.

/// Items that need the named feature.
macro_rules! cfg_feature {
    ($feature:literal, $($item:item)*) => {
        $(
            #[cfg(feature = $feature)]
            #[cfg_attr(docsrs, doc(cfg(feature = $feature)))]
            $item
        )*
    };
}
