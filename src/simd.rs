//! Which vector instructions the fill loops are compiled for, chosen once at run time.
//!
//! The loops of [`crate::fill`] are written once, in plain Rust that LLVM vectorises. The
//! wheel is built for the baseline of its target (SSE2 on x86-64), so `per_level!`
//! compiles them a second and a third time with AVX2 and with AVX-512F enabled: each loop
//! lies whole inside one function per level, and only the arithmetic of one step is
//! inlined into it, so no level can silently lose its instructions to a helper that was
//! not inlined. The widest level this CPU (and its operating system) supports is used. The
//! arithmetic is the same in all of them: additions, multiplications, divisions and
//! conversions, each rounded as IEEE 754 says whatever the vector width, no fused
//! multiply-add (Rust never contracts `a * b + c`, and FMA is not enabled), and the same
//! platform `cos`. So every level gives the same bits, which `fill`'s tests check for each
//! level this CPU has.

/// The environment variable that caps the level: one of [`NAMES`]. For comparing the
/// levels, or for a CPU that reports instructions it does not run well.
pub const ENV: &str = "ONECYCLE_SIMD";

/// The names of the levels, narrowest first (not all exist on every target).
pub const NAMES: [&str; 3] = ["baseline", "avx2", "avx512f"];

/// A set of vector instructions the fill loops can use. Only levels this CPU supports can
/// be obtained ([`Level::detect`], [`Level::available`]), which is what makes running
/// code compiled for them sound.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Level(Isa);

/// The instruction sets of the levels. Crate-visible only for [`per_level!`], which runs
/// a level's copy of the loops only for a [`Level`] holding it ([`Level::isa`]).
#[doc(hidden)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Isa {
    Baseline,
    #[cfg(target_arch = "x86_64")]
    Avx2,
    #[cfg(target_arch = "x86_64")]
    Avx512,
}

impl Level {
    /// The target's baseline: always available.
    pub const BASELINE: Level = Level(Isa::Baseline);

    /// The level the fill loops use: the widest this CPU supports, capped by the
    /// environment variable [`ENV`] when it names a level (read once).
    #[must_use]
    pub fn detect() -> Level {
        static DETECTED: std::sync::OnceLock<Level> = std::sync::OnceLock::new();
        *DETECTED.get_or_init(|| {
            Level::from_env()
                .unwrap_or(None)
                .unwrap_or_else(Level::widest)
        })
    }

    /// The widest level this CPU supports.
    #[must_use]
    pub fn widest() -> Level {
        *Level::available().last().unwrap_or(&Level::BASELINE)
    }

    /// The widest level this CPU supports that is not wider than the one [`ENV`] names;
    /// `None` when it is not set.
    ///
    /// # Errors
    /// A message naming the variable, its value and the allowed names, when it is set
    /// to anything else.
    pub fn from_env() -> Result<Option<Level>, String> {
        let Some(value) = std::env::var_os(ENV) else {
            return Ok(None);
        };
        let rank = value
            .to_str()
            .and_then(|v| NAMES.iter().position(|name| *name == v))
            .ok_or_else(|| {
                format!(
                    "{ENV}='{}': must be one of {} (the widest vector instructions \
                     onecycle may use)",
                    value.to_string_lossy(),
                    NAMES.join(", ")
                )
            })?;
        let levels = Level::available();
        Ok(levels.into_iter().rev().find(|l| l.rank() <= rank))
    }

    fn rank(self) -> usize {
        NAMES
            .iter()
            .position(|name| *name == self.name())
            .unwrap_or(0)
    }

    /// Every level this CPU supports, narrowest first.
    #[must_use]
    pub fn available() -> Vec<Level> {
        #[allow(unused_mut)]
        let mut levels = vec![Level::BASELINE];
        #[cfg(target_arch = "x86_64")]
        {
            if std::arch::is_x86_feature_detected!("avx2") {
                levels.push(Level(Isa::Avx2));
                if std::arch::is_x86_feature_detected!("avx512f") {
                    levels.push(Level(Isa::Avx512));
                }
            }
        }
        levels
    }

    /// `"baseline"`, `"avx2"` or `"avx512f"`.
    #[must_use]
    pub fn name(self) -> &'static str {
        match self.0 {
            Isa::Baseline => "baseline",
            #[cfg(target_arch = "x86_64")]
            Isa::Avx2 => "avx2",
            #[cfg(target_arch = "x86_64")]
            Isa::Avx512 => "avx512f",
        }
    }

    /// The instruction set of this level, for [`per_level!`]'s dispatch.
    #[doc(hidden)]
    pub(crate) fn isa(self) -> Isa {
        self.0
    }
}

/// Compiles each of the given loop functions once per level, in the modules `baseline`,
/// `avx2` and `avx512` (the last two on x86-64 only, with those target features enabled),
/// and defines next to them a function of the same name that takes the [`Level`] first and
/// runs that level's copy. The functions take no explicit lifetimes, and each generic
/// parameter has one bound.
///
/// The loops must lie in the bodies given here: a function they call is compiled for the
/// level only where LLVM inlines it (small per-step arithmetic always is). No closures in
/// the bodies: a closure takes the level's target features, and a library function that
/// calls it (`fold`, `map`), compiled without them, cannot inline it, so each step becomes
/// a call; a `for` loop over the slices has nothing to inline but the arithmetic.
macro_rules! per_level {
    ($(
        $(#[$meta:meta])*
        fn $name:ident<$($param:ident: $bound:path),*>($($arg:ident: $ty:ty),* $(,)?)
            $(-> $ret:ty)? $body:block
    )*) => {
        #[allow(clippy::wildcard_imports, unused_imports)]
        mod baseline {
            use super::*;
            $(pub(super) fn $name<$($param: $bound),*>($($arg: $ty),*) $(-> $ret)? $body)*
        }

        #[cfg(target_arch = "x86_64")]
        #[allow(clippy::wildcard_imports, unused_imports)]
        mod avx2 {
            use super::*;
            $(
                #[target_feature(enable = "avx2")]
                pub(super) fn $name<$($param: $bound),*>($($arg: $ty),*) $(-> $ret)? $body
            )*
        }

        #[cfg(target_arch = "x86_64")]
        #[allow(clippy::wildcard_imports, unused_imports)]
        mod avx512 {
            use super::*;
            $(
                #[target_feature(enable = "avx2,avx512f")]
                pub(super) fn $name<$($param: $bound),*>($($arg: $ty),*) $(-> $ret)? $body
            )*
        }

        $(
            $(#[$meta])*
            fn $name<$($param: $bound),*>(
                level: $crate::simd::Level,
                $($arg: $ty),*
            ) $(-> $ret)? {
                match level.isa() {
                    $crate::simd::Isa::Baseline => baseline::$name::<$($param),*>($($arg),*),
                    #[cfg(target_arch = "x86_64")]
                    $crate::simd::Isa::Avx2 => {
                        // SAFETY: a `Level` holding `Avx2` is only made after
                        // `is_x86_feature_detected!("avx2")` returned true.
                        #[allow(unsafe_code)]
                        unsafe {
                            avx2::$name::<$($param),*>($($arg),*)
                        }
                    }
                    #[cfg(target_arch = "x86_64")]
                    $crate::simd::Isa::Avx512 => {
                        // SAFETY: a `Level` holding `Avx512` is only made after
                        // `is_x86_feature_detected!("avx512f")` (and "avx2") returned true.
                        #[allow(unsafe_code)]
                        unsafe {
                            avx512::$name::<$($param),*>($($arg),*)
                        }
                    }
                }
            }
        )*
    };
}

pub(crate) use per_level;
