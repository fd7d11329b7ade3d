//! The order in which the platform's `cos` is called on steps in any order.
//!
//! glibc's `cos` takes a different path for arguments below 0.855469, up to 2.426265 and
//! beyond (and, between the first two, on either side of pi/2). Along a window the
//! arguments grow, so every branch is predicted; steps in random order make those branches
//! a coin toss, and the same calls then take about 1.6 times as long. So a block of listed
//! steps whose `pct`s lie in more than one [`class`] has its factors computed class by
//! class: each step's `pct` into a buffer, the indices of each class packed together
//! ([`ClassOrder::by_class`], an O(n) pass, where a sort is not), then `cos` at those
//! indices, in that order. Every factor is the same `f64` as in any other order: only the
//! time differs.

use std::cell::RefCell;

use super::base::BLOCK;
use super::factor::{Factor, PlatformCos};
use crate::simd::{per_level, Level};

/// Where the classes of `pct` begin: the arguments of glibc's branches (0.855469, pi/2,
/// 2.426265), divided by pi. A `pct` at or above the last (the extra step's included) is
/// in the last class. Rounding here only moves a step to the neighbouring class: the order
/// of the calls changes, never their values.
const BOUNDS: [f64; 3] = [
    0.855_469 / std::f64::consts::PI,
    0.5,
    2.426_265 / std::f64::consts::PI,
];

/// The number of classes.
const CLASSES: u8 = BOUNDS.len() as u8 + 1;

/// Below this many steps, ordering them costs more than it saves.
pub(super) const MIN_STEPS: usize = 64;

/// The class of `pct`: the number of [`BOUNDS`] at or below it (0 for NaN).
#[inline]
pub(super) fn class(pct: f64) -> u8 {
    u8::from(pct >= BOUNDS[0]) + u8::from(pct >= BOUNDS[1]) + u8::from(pct >= BOUNDS[2])
}

/// Whether the `pct`s between `lowest` and `highest` all lie in one class.
pub(super) fn one_class(lowest: f64, highest: f64) -> bool {
    class(lowest) == class(highest)
}

/// A thread's buffers for ordering the calls of one block ([`ClassOrder::with`]).
pub(super) struct ClassOrder {
    /// Each step's `pct` (`BLOCK` of them).
    pub pct: Vec<f64>,
    /// Each step's factor (`BLOCK`).
    factor: Vec<f64>,
    /// Each step's class, then [`PAD`] past the block's steps (`BLOCK + PAD`).
    class: Vec<u8>,
    /// The indices of the steps, class by class (the packing writes [`PAD`] past them:
    /// `BLOCK + PAD`).
    order: Vec<u32>,
    /// Each class's indices, for the packing in plain Rust.
    lists: Vec<[u32; BLOCK]>,
}

/// The lanes the packing reads and writes beyond the steps of a block.
const PAD: usize = 8;

thread_local! {
    static BUFFERS: RefCell<Option<ClassOrder>> = const { RefCell::new(None) };
}

impl ClassOrder {
    /// Runs `job` with this thread's buffers, made at its first call (74 KiB a thread,
    /// kept while the thread lives: made and zeroed for each block, they would cost a
    /// tenth of the block's time).
    pub(super) fn with<R>(job: impl FnOnce(&mut ClassOrder) -> R) -> R {
        #[cfg(test)]
        tests::BLOCKS.with(|blocks| blocks.set(blocks.get() + 1));
        BUFFERS.with(|buffers| {
            let mut buffers = buffers.borrow_mut();
            job(buffers.get_or_insert_with(ClassOrder::new))
        })
    }

    fn new() -> ClassOrder {
        ClassOrder {
            pct: vec![0.0; BLOCK],
            factor: vec![0.0; BLOCK],
            class: vec![0; BLOCK + PAD],
            order: vec![0; BLOCK + PAD],
            lists: vec![[0; BLOCK]; usize::from(CLASSES)],
        }
    }

    /// The platform cos factors at `self.pct[..n]`, with `cos` called class by class,
    /// into `self.factor[..n]`. Meanwhile `ahead` (the next block's steps) is fetched
    /// into the cache, a line every 8 calls: the next block's first pass then finds them
    /// there, where it would wait for memory.
    pub(super) fn factors_by_class(&mut self, level: Level, n: usize, ahead: &[i64]) -> &[f64] {
        classes(level, &self.pct[..n], &mut self.class[..n]);
        self.by_class(level, n);
        let lines = ahead.chunks(8).map(<[i64]>::as_ptr);
        for (calls, line) in self.order[..n]
            .chunks(8)
            .zip(lines.chain(std::iter::repeat(std::ptr::null())))
        {
            fetch(line);
            for &k in calls {
                let k = k as usize;
                self.factor[k] = PlatformCos::at(self.pct[k]);
            }
        }
        &self.factor[..n]
    }

    /// `self.order[..n]`: the indices `0..n`, those of class 0 first, then those of class
    /// 1, and so on (each class's in increasing order), from `self.class`.
    fn by_class(&mut self, level: Level, n: usize) {
        self.class[n..n + PAD].fill(u8::MAX);
        #[cfg(target_arch = "x86_64")]
        if level != Level::BASELINE {
            // SAFETY: every level above the baseline is made only after
            // `is_x86_feature_detected!("avx2")` returned true; `class` has PAD entries
            // of no class past n, and `order` room for n + PAD indices.
            #[allow(unsafe_code)]
            unsafe {
                packing::pack(&self.class, &mut self.order, n);
            }
            return;
        }
        let _ = level;
        pack(&self.class[..n], &mut self.order, &mut self.lists);
    }
}

/// Asks the CPU to bring the cache line of `line` in (a hint: nothing happens for null
/// or on other targets).
#[inline]
fn fetch(line: *const i64) {
    #[cfg(target_arch = "x86_64")]
    if !line.is_null() {
        use std::arch::x86_64::{_mm_prefetch, _MM_HINT_T0};
        // SAFETY: a prefetch never faults, whatever the address; SSE is in the x86-64
        // baseline.
        #[allow(unsafe_code)]
        unsafe {
            _mm_prefetch::<_MM_HINT_T0>(line.cast::<i8>());
        }
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = line;
}

per_level! {
    /// `class[k]` = [`class`]`(pct[k])`.
    fn classes<>(pct: &[f64], class: &mut [u8]) {
        for (c, &p) in class.iter_mut().zip(pct) {
            *c = u8::from(p >= BOUNDS[0]) + u8::from(p >= BOUNDS[1]) + u8::from(p >= BOUNDS[2]);
        }
    }
}

/// [`ClassOrder::by_class`] in plain Rust: each index is written to every class's list
/// and the counter of its own class moves on, so no step waits for a branch or for the
/// store of the step before.
fn pack(class: &[u8], order: &mut [u32], lists: &mut [[u32; BLOCK]]) {
    let mut counts = [0usize; CLASSES as usize];
    let lists = &mut lists[..counts.len()];
    for (k, &c) in class.iter().enumerate() {
        for (j, list) in lists.iter_mut().enumerate() {
            list[counts[j]] = k as u32;
        }
        for (j, count) in counts.iter_mut().enumerate() {
            *count += usize::from(usize::from(c) == j);
        }
    }
    let mut at = 0;
    for (list, count) in lists.iter().zip(counts) {
        order[at..at + count].copy_from_slice(&list[..count]);
        at += count;
    }
    debug_assert_eq!(at, class.len());
}

#[cfg(target_arch = "x86_64")]
mod packing {
    use super::{CLASSES, PAD};
    use std::arch::x86_64::{
        __m128i, __m256, __m256i, _mm256_add_epi32, _mm256_castsi256_ps, _mm256_cmpeq_epi32,
        _mm256_cvtepu8_epi32, _mm256_movemask_ps, _mm256_permutevar8x32_epi32, _mm256_set1_epi32,
        _mm256_setr_epi32, _mm256_storeu_si256, _mm_loadl_epi64,
    };

    /// For each 8-bit mask, the positions of its set bits, in order (the rest 0).
    static LEFT: [[u8; 8]; 256] = {
        let mut table = [[0u8; 8]; 256];
        let mut mask = 0;
        while mask < 256 {
            let (mut bit, mut n) = (0, 0);
            while bit < 8 {
                if mask & (1 << bit) != 0 {
                    table[mask][n] = bit as u8;
                    n += 1;
                }
                bit += 1;
            }
            mask += 1;
        }
        table
    };

    /// [`super::pack`] with AVX2: per class, 8 steps at a time, the indices of those in
    /// the class are moved to the front of a vector (by [`LEFT`]'s permutation for the
    /// mask of the comparison) and stored, and the end moves on by their number.
    ///
    /// # Safety
    /// The CPU must support AVX2. `class` must hold [`PAD`] entries past the first `n`
    /// that are in no class, and `order` room for `n + PAD` indices.
    #[target_feature(enable = "avx2")]
    #[allow(unsafe_code)]
    // The loads and the store are the unaligned ones (`loadl`, `storeu`).
    #[allow(clippy::cast_ptr_alignment)]
    pub(super) unsafe fn pack(class: &[u8], order: &mut [u32], n: usize) {
        assert!(class.len() >= n + PAD && order.len() >= n + PAD);
        let chunks = n.div_ceil(8);
        let mut end = 0usize;
        for j in 0..CLASSES {
            let wanted: __m256i = _mm256_set1_epi32(i32::from(j));
            let mut index: __m256i = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
            let eight: __m256i = _mm256_set1_epi32(8);
            for chunk in 0..chunks {
                // SAFETY: chunk * 8 + 8 <= n + PAD <= class.len(); AVX2 by the contract.
                let classes = _mm256_cvtepu8_epi32(_mm_loadl_epi64(
                    class.as_ptr().add(chunk * 8).cast::<__m128i>(),
                ));
                let hit: __m256 = _mm256_castsi256_ps(_mm256_cmpeq_epi32(classes, wanted));
                let mask = _mm256_movemask_ps(hit) as usize;
                let lanes =
                    _mm256_cvtepu8_epi32(_mm_loadl_epi64(LEFT[mask].as_ptr().cast::<__m128i>()));
                // SAFETY: end <= n (each index is in one class), so end + 8 <= order.len().
                _mm256_storeu_si256(
                    order.as_mut_ptr().add(end).cast::<__m256i>(),
                    _mm256_permutevar8x32_epi32(index, lanes),
                );
                end += mask.count_ones() as usize;
                index = _mm256_add_epi32(index, eight);
            }
        }
        debug_assert_eq!(end, n);
    }
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;
    use std::cell::Cell;

    thread_local! {
        /// The blocks this thread has called cos class by class for.
        pub(in crate::fill) static BLOCKS: Cell<usize> = const { Cell::new(0) };
    }

    #[test]
    fn every_level_orders_each_index_once_class_by_class() {
        let mut state = 0x2545_f491_4f6c_dd1d_u64;
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        for n in [0, 1, 7, 8, 9, 63, 64, 1000, BLOCK] {
            let pct: Vec<f64> = (0..n)
                .map(|k| match k % 5 {
                    0 => BOUNDS[(next() % 3) as usize],
                    1 => f64::NAN,
                    _ => (next() % 1_000_001) as f64 / 1e6 * 1.01,
                })
                .collect();
            for level in Level::available() {
                let mut order = ClassOrder::new();
                order.pct[..n].copy_from_slice(&pct);
                classes(level, &pct, &mut order.class[..n]);
                order.by_class(level, n);
                let got = order.order[..n].to_vec();
                let mut want: Vec<u32> = (0..n as u32).collect();
                want.sort_by_key(|&k| class(pct[k as usize]));
                assert_eq!(got, want, "{n} steps, {level:?}");

                let out = order.factors_by_class(level, n, &[]);
                for (f, p) in out.iter().zip(&pct) {
                    let want = PlatformCos::at(*p);
                    assert!(f.to_bits() == want.to_bits() || f.is_nan() && want.is_nan());
                }
            }
        }
    }
}
