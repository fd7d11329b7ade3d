//! How the annealing factor of one step is computed from its `pct`: the platform cos (as
//! torch), the fast cosine (whole, or one quadrant's kernel), or `pct` itself (linear).

use crate::cycle::Anneal;
use crate::fast_cos;

/// How the annealing factor of one step is computed from its `pct`.
pub(super) trait Factor {
    fn at(pct: f64) -> f64;

    /// Whether [`Factor::at`] is the factor at `pct` (the branch-free fast cosine is only
    /// within its domain).
    fn covers(_pct: f64) -> bool {
        true
    }
}

/// Linear: the factor is `pct` itself.
pub(super) struct Pct;

impl Factor for Pct {
    fn at(pct: f64) -> f64 {
        Anneal::Linear.factor(pct)
    }
}

/// Cos with the platform's `f64::cos`, as torch.
pub(super) struct PlatformCos;

impl Factor for PlatformCos {
    fn at(pct: f64) -> f64 {
        Anneal::Cos.factor(pct)
    }
}

/// Cos with [`fast_cos::cos`]: both of its kernels and a select, so a loop of it
/// vectorises whatever the quadrants of its steps. Right only within its domain.
pub(super) struct FastCos;

impl Factor for FastCos {
    #[inline(always)]
    fn at(pct: f64) -> f64 {
        fast_cos::cos(fast_cos::argument(pct)) + 1.0
    }

    fn covers(pct: f64) -> bool {
        fast_cos::in_domain(pct)
    }
}

/// [`FastCos`] for steps whose argument lies in quadrant `Q`: the one kernel it needs
/// ([`fast_cos::cos_in`], the same value).
pub(super) struct FastIn<const Q: u8>;

impl<const Q: u8> Factor for FastIn<Q> {
    #[inline(always)]
    fn at(pct: f64) -> f64 {
        fast_cos::cos_in(Q, fast_cos::argument(pct)) + 1.0
    }
}

/// [`Accuracy::Fast`]'s factor at any `pct`: the fast cosine within its domain, the
/// platform's outside it (the extra step, where `pct > 1`).
pub(super) struct FastOrPlatform;

impl Factor for FastOrPlatform {
    fn at(pct: f64) -> f64 {
        if fast_cos::in_domain(pct) {
            FastCos::at(pct)
        } else {
            PlatformCos::at(pct)
        }
    }
}
