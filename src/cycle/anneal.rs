//! How a phase moves from its start value to its end value: torch's `anneal_strategy`.
//! A new strategy is one variant here (its name, its factor and its formula) and one arm
//! of the fill's dispatch (`fill::kernel::dispatch`).

use std::f64::consts::PI;

/// torch's annealing strategies.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Anneal {
    Cos,
    Linear,
}

impl Anneal {
    /// Every strategy, in the order their names are listed to users.
    pub const ALL: [Anneal; 2] = [Anneal::Cos, Anneal::Linear];
    /// Their `anneal_strategy` names, in that order.
    pub const NAMES: [&'static str; 2] = [Anneal::Cos.name(), Anneal::Linear.name()];

    /// The `anneal_strategy` name.
    #[must_use]
    pub const fn name(self) -> &'static str {
        match self {
            Anneal::Cos => "cos",
            Anneal::Linear => "linear",
        }
    }

    /// The strategy of an `anneal_strategy` name.
    #[must_use]
    pub fn from_name(name: &str) -> Option<Anneal> {
        Anneal::ALL.into_iter().find(|a| a.name() == name)
    }

    /// The names as a message lists them: `'cos' or 'linear'`.
    #[must_use]
    pub fn choices() -> String {
        let quoted: Vec<String> = Anneal::NAMES.iter().map(|n| format!("'{n}'")).collect();
        match quoted.split_last() {
            Some((last, [])) => last.clone(),
            Some((last, rest)) => format!("{} or {last}", rest.join(", ")),
            None => String::new(),
        }
    }

    /// The part of the formula shared by lr and momentum at one step: `cos(pi * pct) + 1`
    /// for cos (torch's `cos_out`), `pct` itself for linear.
    #[inline]
    #[must_use]
    pub fn factor(self, pct: f64) -> f64 {
        match self {
            Anneal::Cos => (PI * pct).cos() + 1.0,
            Anneal::Linear => pct,
        }
    }

    /// torch's `_annealing_cos` / `_annealing_linear`, given [`Anneal::factor`].
    #[inline]
    #[must_use]
    pub fn interpolate(self, start: f64, end: f64, factor: f64) -> f64 {
        self.apply(self.coefficients(start, end), factor)
    }

    /// The part of the formula that depends only on the phase's two values, computed as
    /// torch computes it at every step: `((start - end) / 2.0, end)` for cos,
    /// `(end - start, start)` for linear. A whole window computes it once per phase.
    #[inline]
    #[must_use]
    pub fn coefficients(self, start: f64, end: f64) -> (f64, f64) {
        match self {
            Anneal::Cos => ((start - end) / 2.0, end),
            Anneal::Linear => (end - start, start),
        }
    }

    /// torch's formula for one phase's lr and momentum as a function of the factor, for a
    /// phase annealing between `[start_lr, end_lr, start_momentum, end_momentum]`
    /// ([`crate::Phase::bounds`]); the [`Anneal::coefficients`] are computed once.
    #[inline]
    pub fn formula(self, bounds: [f64; 4]) -> impl Fn(f64) -> (f64, f64) {
        let [lr_start, lr_end, m_start, m_end] = bounds;
        let (lr, momentum) = (
            self.coefficients(lr_start, lr_end),
            self.coefficients(m_start, m_end),
        );
        move |factor| (self.apply(lr, factor), self.apply(momentum, factor))
    }

    /// The rest of the formula: `end + (start - end) / 2.0 * factor` for cos,
    /// `(end - start) * factor + start` for linear, in torch's order of operations.
    #[inline]
    #[must_use]
    // The arms give the same value (IEEE addition commutes exactly); each is written as
    // torch writes its formula.
    #[allow(clippy::match_same_arms)]
    pub fn apply(self, (scale, offset): (f64, f64), factor: f64) -> f64 {
        match self {
            Anneal::Cos => offset + scale * factor,
            Anneal::Linear => scale * factor + offset,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_list() {
        for anneal in Anneal::ALL {
            assert_eq!(Anneal::from_name(anneal.name()), Some(anneal));
        }
        assert_eq!(Anneal::from_name("cosine"), None);
        assert_eq!(Anneal::choices(), "'cos' or 'linear'");
    }
}
