//! Where the values are wanted, and how each step's pct and phase are found there.
//!
//! A request asks for a [`Window`] of consecutive steps or for a [`List`] of steps in any
//! order. Each group of configurations finds its phases for the whole request once
//! ([`Positions::phases`]); each block of a row is then handed to the loops as a few
//! pieces ([`Positions::pieces`]), each a [`Source`]: where a loop reads its steps, and how
//! it turns one into torch's `pct` and the coefficients of its phase.
//!
//! - A window's pieces are its spans ([`Span`]: the steps of one phase), [`Consecutive`]
//!   steps: a [`Near`] span counts them in `f64` (exact below 2**53, and vectorisable), a
//!   [`Far`] one converts each `u64` step.
//! - A list's pieces are its blocks (`list`).

use std::ops::Range;

use crate::cycle::{Anneal, OneCycle, Span};
use crate::error::Error;
use crate::simd::Level;

/// Each phase's `[start_lr, end_lr, start_momentum, end_momentum]` for one configuration
/// ([`super::Prepared::bounds`]).
pub(super) type Bounds = [[f64; 4]];

/// The steps of a request, in the order of its output rows.
pub(super) trait Positions: Sync {
    /// What one group of configurations knows of its phases for this request.
    type Phases: Sync;
    /// What the loops need to know of one block of values, found once for all groups.
    type Block;

    /// The number of values in each row.
    fn len(&self) -> usize;

    /// The phases of `cycle` for these steps, found once.
    ///
    /// # Errors
    /// [`Error::ZeroWidthPhase`] when a step falls in a phase of zero width.
    fn phases(&self, cycle: &OneCycle) -> Result<Self::Phases, Error>;

    /// The block of values `values` of each row, with loops compiled for `level`.
    fn block(&self, values: Range<usize>, level: Level) -> Self::Block;

    /// Hands a block of a row to `job`, as pieces that each lie in one [`Source`]
    /// (positions counted from the start of the block).
    fn pieces(&self, phases: &Self::Phases, block: &Self::Block, job: &mut impl Job);
}

/// What the loops do with one piece of a block.
pub(super) trait Job {
    /// The values at `at` (counted from the start of the block), whose steps `src` gives.
    fn piece<S: Source>(&mut self, at: Range<usize>, src: S);
}

/// Steps a loop reads, in order: each one's `pct` and the coefficients of its phase.
pub(super) trait Source: Copy {
    /// What the loop reads for one step.
    type Item: Copy;
    /// One configuration's [`Coefficients`] for the phases these steps fall in.
    type Row;
    /// Whether `pct` is monotonic along the steps (it is within one phase of a window).
    const MONOTONIC: bool;

    /// The steps, from the first; the loop's outputs end it.
    fn items(self) -> impl Iterator<Item = Self::Item>;
    /// torch's `pct` at a step.
    fn pct(self, item: Self::Item) -> f64;
    /// The same steps from the `k`-th on.
    #[must_use]
    fn skip(self, k: usize) -> Self;
    /// The coefficients of one configuration (its phases' `bounds`), once per piece.
    fn row(self, anneal: Anneal, bounds: &Bounds) -> Self::Row;
    /// The coefficients of the phase of one step.
    fn coefficients(self, row: &Self::Row, item: Self::Item) -> Coefficients;

    /// Two `pct`s every step's lies between, where they are known without looking at
    /// each (steps in any order, all in one phase).
    fn pct_ends(self) -> Option<(f64, f64)> {
        None
    }

    /// The steps, where a list gives them (`None` for a window's).
    fn listed(&self) -> Option<&[i64]> {
        None
    }

    /// Whether the steps go one way (each at most the next, or each at least it), so
    /// their `pct`s do too within each phase.
    fn in_order(self) -> bool {
        self.listed().map_or(Self::MONOTONIC, |steps| {
            steps.is_sorted() || steps.iter().rev().is_sorted()
        })
    }

    /// The steps the next block will read, where they are known (a list's): worth
    /// fetching into the cache while this block is slow to compute.
    fn ahead(&self) -> &[i64] {
        &[]
    }

    /// `pct` of the `k`-th step (not in a loop).
    fn pct_at(self, k: usize) -> f64 {
        let from = self.skip(k);
        from.items().next().map_or(f64::NAN, |item| from.pct(item))
    }
}

/// One phase's formula for one configuration: torch's [`Anneal::coefficients`] of its lr
/// and its momentum, computed once per phase rather than at every step.
#[derive(Clone, Copy, Debug)]
pub(super) struct Coefficients {
    lr: (f64, f64),
    momentum: (f64, f64),
}

impl Coefficients {
    pub(super) fn of(anneal: Anneal, bounds: [f64; 4]) -> Coefficients {
        let [lr_start, lr_end, m_start, m_end] = bounds;
        Coefficients {
            lr: anneal.coefficients(lr_start, lr_end),
            momentum: anneal.coefficients(m_start, m_end),
        }
    }

    /// `(lr, momentum)` at a step whose factor is `factor` ([`Anneal::apply`]).
    #[inline]
    pub(super) fn apply(self, anneal: Anneal, factor: f64) -> (f64, f64) {
        (
            anneal.apply(self.lr, factor),
            anneal.apply(self.momentum, factor),
        )
    }
}

/// The window of steps `[start, stop)`.
pub(super) struct Window {
    pub start: u64,
    pub stop: u64,
}

impl Positions for Window {
    type Phases = Vec<Span>;
    type Block = Range<usize>;

    fn len(&self) -> usize {
        self.stop.saturating_sub(self.start) as usize
    }

    fn phases(&self, cycle: &OneCycle) -> Result<Vec<Span>, Error> {
        cycle.spans(self.start, self.stop)
    }

    fn block(&self, values: Range<usize>, _: Level) -> Range<usize> {
        values
    }

    fn pieces(&self, spans: &Vec<Span>, block: &Range<usize>, job: &mut impl Job) {
        let first = self.start + block.start as u64;
        let last = self.start + block.end as u64;
        for span in spans {
            let (lo, hi) = (span.steps.start.max(first), span.steps.end.min(last));
            if lo < hi {
                let at = (lo - first) as usize..(hi - first) as usize;
                if hi <= 1 << 53 {
                    job.piece(at, Near::new(span, lo));
                } else {
                    job.piece(at, Far::new(span, lo));
                }
            }
        }
    }
}

/// Consecutive steps of one span, from `first` (a [`Count`]).
#[derive(Clone, Copy)]
pub(super) struct Consecutive<X> {
    phase: usize,
    first: X,
    start_step: f64,
    width: f64,
}

/// Where [`Consecutive`] steps start, and how a loop counts them: in `f64` for steps all
/// below 2**53 (`first as f64 + k` is then the conversion of step `first + k`, the `pct`
/// of [`Span::pct`], in a form that vectorises), as `u64` for the others (each one
/// converted).
pub(super) trait Count: Copy {
    fn from_step(step: u64) -> Self;
    fn items(self) -> impl Iterator<Item = Self>;
    fn to_f64(self) -> f64;
    #[must_use]
    fn plus(self, k: usize) -> Self;
}

/// Steps below 2**53.
pub(super) type Near = Consecutive<f64>;
/// Steps some of which lie beyond 2**53.
pub(super) type Far = Consecutive<u64>;

impl Count for f64 {
    fn from_step(step: u64) -> f64 {
        step as f64
    }

    fn items(self) -> impl Iterator<Item = f64> {
        (0i32..).map(move |k| self + f64::from(k))
    }

    fn to_f64(self) -> f64 {
        self
    }

    fn plus(self, k: usize) -> f64 {
        self + k as f64
    }
}

impl Count for u64 {
    fn from_step(step: u64) -> u64 {
        step
    }

    fn items(self) -> impl Iterator<Item = u64> {
        // The outputs end the loop before this passes the window's last step (below
        // u64::MAX), so it never overflows.
        self..
    }

    fn to_f64(self) -> f64 {
        self as f64
    }

    fn plus(self, k: usize) -> u64 {
        self + k as u64
    }
}

impl<X: Count> Consecutive<X> {
    fn new(span: &Span, first: u64) -> Self {
        Consecutive {
            phase: span.phase,
            first: X::from_step(first),
            start_step: span.start_step,
            width: span.width,
        }
    }
}

impl<X: Count> Source for Consecutive<X> {
    type Item = X;
    type Row = Coefficients;
    const MONOTONIC: bool = true;

    fn items(self) -> impl Iterator<Item = X> {
        self.first.items()
    }

    fn pct(self, step: X) -> f64 {
        (step.to_f64() - self.start_step) / self.width
    }

    fn skip(self, k: usize) -> Self {
        Consecutive {
            first: self.first.plus(k),
            ..self
        }
    }

    fn row(self, anneal: Anneal, bounds: &Bounds) -> Coefficients {
        Coefficients::of(anneal, bounds[self.phase])
    }

    fn coefficients(self, row: &Coefficients, _: X) -> Coefficients {
        *row
    }
}
