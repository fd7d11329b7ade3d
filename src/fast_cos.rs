//! A cosine for `schedule(..., exact=False)`: branch-free, so the compiler vectorises it,
//! and without a libm call.
//!
//! The domain is `[0, pi]`, what `pi * pct` covers for every step inside a phase. The
//! argument is reduced to `y` in `[-pi/4, pi/4]` around the nearest multiple `q` of
//! `pi/2` (`q` is 0, 1 or 2; the subtraction of `q * pi/2`'s leading part is exact), and
//! `cos(x)` is `cos(y)`, `-sin(y)` or `-cos(y)`, from the minimax polynomials of fdlibm's
//! `__kernel_cos` and `__kernel_sin` (the ones musl and glibc's generic code use). Both
//! polynomials are evaluated and the right one selected, so there is no branch per value.
//!
//! The largest difference from `f64::cos` over `[0, pi]` is [`MAX_ULP`] ulp (of the
//! result of `f64::cos`), measured by this module's tests over every `pi * k / 2**24` and
//! a few million random arguments.

// The polynomial coefficients are quoted digit for digit as fdlibm publishes them, and the
// short names follow its kernels.
#![allow(clippy::excessive_precision, clippy::many_single_char_names)]

use std::f64::consts::{FRAC_2_PI, FRAC_PI_2, PI};

/// The documented bound: `|cos(x) - f64::cos(x)| <= MAX_ULP * ulp(f64::cos(x))` for every
/// `x` in `[0, pi]`.
pub const MAX_ULP: f64 = 2.0;

/// `pi/2 - FRAC_PI_2` (the part of `pi/2` a double cannot hold).
const PIO2_LO: f64 = 6.123_233_995_736_766e-17;

const C1: f64 = 4.166_666_666_666_660_190_37e-02;
const C2: f64 = -1.388_888_888_887_410_957_49e-03;
const C3: f64 = 2.480_158_728_947_672_941_78e-05;
const C4: f64 = -2.755_731_435_139_066_330_35e-07;
const C5: f64 = 2.087_572_321_298_174_827_90e-09;
const C6: f64 = -1.135_964_755_778_819_482_65e-11;

const S1: f64 = -1.666_666_666_666_663_243_48e-01;
const S2: f64 = 8.333_333_333_322_489_461_24e-03;
const S3: f64 = -1.984_126_982_985_794_931_34e-04;
const S4: f64 = 2.755_731_370_707_006_767_89e-06;
const S5: f64 = -2.505_076_025_340_686_341_95e-08;
const S6: f64 = 1.589_690_995_211_550_102_21e-10;

/// Adding and subtracting this rounds a double below 2**51 to the nearest integer
/// (branch-free, and vectorisable without SSE4.1's `roundpd`).
const ROUND: f64 = 6_755_399_441_055_744.0; // 1.5 * 2**52

/// `round(x / (pi/2))`, the multiple of `pi/2` the argument is reduced around: 0, 1 or 2
/// on `[0, pi]`. Monotonic in `x`, so a run of increasing arguments whose ends share it all
/// share it.
#[inline]
#[must_use]
pub fn quadrant(x: f64) -> f64 {
    (x * FRAC_2_PI + ROUND) - ROUND
}

/// `x - q * pi/2`: the leading part exactly (Sterbenz: `x` lies within a factor 2 of
/// `q * FRAC_PI_2` whenever `q > 0`), then the low part.
#[inline]
fn reduce(x: f64, q: f64) -> f64 {
    (x - q * FRAC_PI_2) - q * PIO2_LO
}

/// fdlibm's `__kernel_cos(y, 0)`, in musl's form, for `|y| <= pi/4`.
#[inline(always)]
fn kernel_cos(y: f64) -> f64 {
    let z = y * y;
    let w = z * z;
    let r = z * (C1 + z * (C2 + z * C3)) + w * w * (C4 + z * (C5 + z * C6));
    let hz = 0.5 * z;
    let one_minus_hz = 1.0 - hz;
    one_minus_hz + (((1.0 - one_minus_hz) - hz) + z * r)
}

/// fdlibm's `__kernel_sin(y, 0, 0)`, for `|y| <= pi/4`.
#[inline(always)]
fn kernel_sin(y: f64) -> f64 {
    let z = y * y;
    let w = z * z;
    let r = S2 + z * (S3 + z * S4) + z * w * (S5 + z * S6);
    y + z * y * (S1 + z * r)
}

/// `cos(x)` for `x` in `[0, pi]`, within [`MAX_ULP`] ulp of `f64::cos(x)`. Outside that
/// domain the result is meaningless (not unsafe): callers check the domain.
#[inline(always)]
#[must_use]
pub fn cos(x: f64) -> f64 {
    let q = quadrant(x);
    let y = reduce(x, q);
    // Both kernels, then a select: no branch, so a loop of these vectorises.
    let (c, s) = (kernel_cos(y), kernel_sin(y));
    // q = 0: cos(y); q = 1: -sin(y); q = 2: -cos(y).
    let v = if q == 1.0 { s } else { c };
    if q == 0.0 {
        v
    } else {
        -v
    }
}

/// [`cos`] for an `x` known to have [`quadrant`] `q`: the same value, from the one kernel
/// that quadrant needs. `q` is a constant at each call site.
#[inline(always)]
#[must_use]
pub fn cos_in(q: u8, x: f64) -> f64 {
    match q {
        0 => kernel_cos(x),
        1 => -kernel_sin(reduce(x, 1.0)),
        _ => -kernel_cos(reduce(x, 2.0)),
    }
}

/// The distance from `a` to `b` in units of the last place of `b`.
#[must_use]
pub fn ulp_distance(a: f64, b: f64) -> f64 {
    if a == b {
        return 0.0;
    }
    let ulp = if b == 0.0 {
        f64::from_bits(1)
    } else {
        let next = f64::from_bits(b.abs().to_bits() + 1);
        next - b.abs()
    };
    (a - b).abs() / ulp
}

/// The domain of [`cos`], as `pct` (`x = pi * pct`).
#[inline]
#[must_use]
pub fn in_domain(pct: f64) -> bool {
    (0.0..=1.0).contains(&pct)
}

/// `PI * pct`, as torch computes the argument.
#[inline]
#[must_use]
pub fn argument(pct: f64) -> f64 {
    PI * pct
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A small deterministic generator (xorshift64*), so the sample is the same each run.
    fn uniforms(n: usize, mut state: u64) -> impl Iterator<Item = f64> {
        (0..n).map(move |_| {
            state ^= state >> 12;
            state ^= state << 25;
            state ^= state >> 27;
            (state.wrapping_mul(0x2545_f491_4f6c_dd1d) >> 11) as f64 / (1u64 << 53) as f64
        })
    }

    fn worst(xs: impl Iterator<Item = f64>) -> (f64, f64) {
        xs.map(|x| (ulp_distance(cos(x), x.cos()), x))
            .fold((0.0, 0.0), |a, b| if b.0 > a.0 { b } else { a })
    }

    #[test]
    fn within_the_bound_on_a_grid_of_pi_times_pct() {
        // x = pi * k / 2**24 for every k: the arguments a schedule's pct produces, densely.
        let n = 1u32 << 24;
        let (err, at) = worst((0..=n).map(|k| argument(f64::from(k) / f64::from(n))));
        assert!(err <= MAX_ULP, "{err} ulp at x = {at:e}");
    }

    #[test]
    fn within_the_bound_on_random_arguments() {
        let (err, at) = worst(uniforms(4_000_000, 0x9e37_79b9_7f4a_7c15).map(argument));
        assert!(err <= MAX_ULP, "{err} ulp at x = {at:e}");
        // Near the points where the reduction switches branch, and near the zero at pi/2.
        let near = [0.0, PI / 4.0, FRAC_PI_2, 3.0 * PI / 4.0, PI];
        for centre in near {
            let mut x = centre;
            for _ in 0..20_000 {
                if (0.0..=PI).contains(&x) {
                    let err = ulp_distance(cos(x), x.cos());
                    assert!(err <= MAX_ULP, "{err} ulp at x = {x:e}");
                }
                x = f64::from_bits(x.to_bits() + 1);
            }
            let mut x = centre;
            for _ in 0..20_000 {
                if (0.0..=PI).contains(&x) && x > 0.0 {
                    let err = ulp_distance(cos(x), x.cos());
                    assert!(err <= MAX_ULP, "{err} ulp at x = {x:e}");
                    x = f64::from_bits(x.to_bits() - 1);
                }
            }
        }
    }

    #[test]
    fn one_kernel_per_quadrant_gives_the_same_bits() {
        for x in uniforms(1_000_000, 7).map(argument) {
            let q = quadrant(x);
            assert_eq!(cos_in(q as u8, x).to_bits(), cos(x).to_bits(), "x = {x:e}");
        }
    }

    #[test]
    fn exact_at_the_ends() {
        assert_eq!(cos(0.0), 1.0);
        assert_eq!(cos(PI), PI.cos());
        assert_eq!(ulp_distance(1.0, 1.0), 0.0);
        assert_eq!(ulp_distance(1.0 + f64::EPSILON, 1.0), 1.0);
    }
}
