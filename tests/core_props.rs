//! Robustness of the public Rust API: every bad input is an `Err` whose message names the
//! argument, the value and what is allowed, and no input at all (NaN, infinities, garbage
//! phase lists, windows anywhere in `u64`, outputs of the wrong length) makes the core
//! panic. The property tests compare the window filling and the phase lookup with a
//! step-by-step oracle written independently of the core, after torch's `get_lr`.
//!
//! Cases per property: 2,000 (a few seconds in all), or `PROPTEST_CASES=N` to run longer.

use std::f64::consts::PI;

use onecycle::error::Size;
use onecycle::fill::{
    alloc_len, fill_window, prepare, prepare_steps, try_zeroed, Prepared, Request,
    PARALLEL_MIN_STEPS,
};
use onecycle::{schedule, Accuracy, Anneal, Config, Error, Key, OneCycle, Phase, Values};

/// torch's five group keys and two of another name (a phase list may name any key).
fn all_keys() -> Vec<Key> {
    let mut keys = Key::TORCH.to_vec();
    keys.extend([Key::new("lr_at_replan"), Key::new("momentum_at_replan")]);
    keys
}

/// Steps `[start, start + lr.len())` of `cycle` for a group holding `values`, as
/// `onecycle::fill::fill_window` fills them.
fn fill(
    cycle: &OneCycle,
    values: &Values,
    start: u64,
    (lr, momentum): (&mut [f64], &mut [f64]),
    threads: bool,
) -> Result<(), Error> {
    let prepared = Prepared::new(cycle.clone(), values)?;
    fill_window(&prepared, start, (lr, momentum), threads)
}
use proptest::prelude::*;

// --- the oracle: torch's `get_lr`, one step at a time ------------------------------------

/// Python's `s <= x` for an int `s` and a float `x`, decided without the core's helper:
/// rounding `s` to the nearest float is monotone and leaves floats fixed, so the rounded
/// value is on the same side of `x` as `s` unless it equals `x`; then `x` is an integer.
fn py_le(s: i128, x: f64) -> bool {
    if x.is_nan() {
        return false;
    }
    let rounded = s as f64;
    if rounded != x {
        return rounded < x;
    }
    // x == round(s) is an integer no larger than 2**64 in magnitude.
    s <= x as i128
}

/// `(phase, pct)` at `step` as torch finds them, or `None` where torch divides by zero.
fn torch_locate(phases: &[Phase], step: i128) -> Option<(usize, f64)> {
    let mut start_step = 0.0;
    for (i, phase) in phases.iter().enumerate() {
        if py_le(step, phase.end_step) || i == phases.len() - 1 {
            let width = phase.end_step - start_step;
            if width == 0.0 {
                return None;
            }
            return Some((i, (step as f64 - start_step) / width));
        }
        start_step = phase.end_step;
    }
    unreachable!("the last phase always matches")
}

/// A float's bits, with every NaN the same: IEEE 754 leaves the sign and payload of a NaN
/// result unspecified, and the optimiser may swap the operands of `+` and `*` (which picks
/// the NaN that propagates). Every other value is compared bit for bit.
fn bits_of(v: f64) -> u64 {
    if v.is_nan() {
        f64::NAN.to_bits()
    } else {
        v.to_bits()
    }
}

/// torch's `_annealing_cos` / `_annealing_linear`, written out.
fn torch_anneal(anneal: Anneal, start: f64, end: f64, pct: f64) -> f64 {
    match anneal {
        Anneal::Cos => {
            let cos_out = (PI * pct).cos() + 1.0;
            end + (start - end) / 2.0 * cos_out
        }
        Anneal::Linear => (end - start) * pct + start,
    }
}

/// The bits of `(lr, momentum)` at each step of `[start, start + len)`, or the first step
/// torch fails at.
fn torch_window(
    phases: &[Phase],
    anneal: Anneal,
    values: &Values,
    start: u64,
    len: usize,
) -> Result<Vec<(u64, u64)>, u64> {
    (start..start + len as u64)
        .map(|s| {
            let (i, pct) = torch_locate(phases, i128::from(s)).ok_or(s)?;
            let p = &phases[i];
            let [lr0, lr1, m0, m1] = p.keys().map(|k| values.get(k).unwrap());
            let lr = torch_anneal(anneal, lr0, lr1, pct);
            let m = torch_anneal(anneal, m0, m1, pct);
            Ok((bits_of(lr), bits_of(m)))
        })
        .collect()
}

fn bits<T: Copy + Into<f64>>(lr: &[T], momentum: &[T]) -> Vec<(u64, u64)> {
    lr.iter()
        .zip(momentum)
        .map(|(l, m)| (bits_of((*l).into()), bits_of((*m).into())))
        .collect()
}

/// Errors compared by kind and message (their float fields may be NaN).
fn same_error(a: &Error, b: &Error) -> bool {
    std::mem::discriminant(a) == std::mem::discriminant(b) && a.to_string() == b.to_string()
}

// --- strategies ---------------------------------------------------------------------------

/// Any float, with the awkward ones often.
fn garbage_f64() -> impl Strategy<Value = f64> {
    prop_oneof![
        any::<f64>(),
        prop::sample::select(vec![
            0.0,
            -0.0,
            1.0,
            -1.0,
            0.5,
            f64::NAN,
            -f64::NAN,
            f64::INFINITY,
            f64::NEG_INFINITY,
            f64::MIN_POSITIVE,
            5e-324,
            f64::MAX,
            f64::MIN,
            9_007_199_254_740_993.0,
            9.223_372_036_854_776e18,
            1.844_674_407_370_955_2e19,
        ]),
        -1e3..1e3f64,
    ]
}

fn pct_start() -> impl Strategy<Value = f64> {
    prop_oneof![
        0.0..=1.0f64,
        prop::sample::select(vec![0.0, 0.1, 0.25, 0.3, 0.5, 1.0]),
        garbage_f64(),
    ]
}

fn total_steps() -> impl Strategy<Value = i64> {
    prop_oneof![
        1..300i64,
        any::<i64>(),
        (i64::MAX - 300)..=i64::MAX,
        prop::sample::select(vec![0, -1, i64::MIN, 1, 2, 10, 1 << 53, (1 << 53) + 1]),
    ]
}

fn anneal() -> impl Strategy<Value = Anneal> {
    prop::sample::select(vec![Anneal::Cos, Anneal::Linear])
}

fn key() -> impl Strategy<Value = Key> {
    prop::sample::select(all_keys())
}

prop_compose! {
    fn config()(
        total_steps in total_steps(),
        max_lr in prop_oneof![1e-6..10.0f64, garbage_f64()],
        pct_start in pct_start(),
        anneal in anneal(),
        div_factor in prop_oneof![Just(25.0), 1e-3..1e3f64, garbage_f64()],
        final_div_factor in prop_oneof![Just(1e4), 1e-3..1e5f64, garbage_f64()],
        base_momentum in prop_oneof![0.0..1.0f64, garbage_f64()],
        max_momentum in prop_oneof![0.0..1.0f64, garbage_f64()],
        three_phase in any::<bool>(),
    ) -> Config {
        Config {
            total_steps, max_lr, pct_start, anneal, div_factor, final_div_factor,
            base_momentum, max_momentum, three_phase,
        }
    }
}

prop_compose! {
    /// A small window somewhere in `u64`: near the start, at the end of the schedule, or
    /// anywhere (valid or not); sometimes with start > stop.
    fn window(total: i64)(
        anchor in prop_oneof![
            0..400u64,
            Just(u64::try_from(total).unwrap_or(0).saturating_sub(100)),
            Just(u64::try_from(total).unwrap_or(0) / 2),
            any::<u64>(),
            (u64::MAX - 400)..=u64::MAX,
        ],
        offset in 0..200u64,
        len in 0..200u64,
        backwards in prop::bool::weighted(0.05),
    ) -> (u64, u64) {
        let start = anchor.saturating_add(offset);
        let stop = start.saturating_add(len);
        if backwards && start != stop { (stop, start) } else { (start, stop) }
    }
}

prop_compose! {
    /// A sweep: one configuration and up to three more with its `total_steps` (and so the
    /// same phases as it, or as each other, often), each with other values.
    fn sweep()(
        first in prop_oneof![4 => valid_config(), 1 => config()],
        others in prop::collection::vec(
            (
                prop::sample::select(vec![0.1, 0.25, 0.3, 0.5, 1.0]),
                any::<bool>(),
                anneal(),
                1e-6..10.0f64,
            ),
            0..4,
        ),
    ) -> Vec<Config> {
        let mut configs = vec![first];
        configs.extend(others.into_iter().map(|(pct_start, three_phase, anneal, max_lr)| {
            Config { pct_start, three_phase, anneal, max_lr, ..first }
        }));
        configs
    }
}

prop_compose! {
    /// A configuration with valid parameters (a zero-width phase now and then).
    fn valid_config()(
        total_steps in prop_oneof![
            1..300i64,
            1..100_000i64,
            (i64::MAX - 300)..=i64::MAX,
            ((1i64 << 53) - 300)..((1 << 53) + 300),
        ],
        max_lr in 1e-6..10.0f64,
        pct_start in prop_oneof![0.0..=1.0f64, prop::sample::select(vec![0.0, 0.1, 0.5, 1.0])],
        anneal in anneal(),
        three_phase in any::<bool>(),
    ) -> Config {
        Config { pct_start, anneal, three_phase, ..Config::new(total_steps, max_lr) }
    }
}

prop_compose! {
    /// Up to 60 steps of a schedule of `total` steps, in any order: near its start, its
    /// middle and its end (the extra step too); now and then one out of range.
    fn steps_of(total: i64)(
        near in prop::collection::vec((0..3u8, 0..300i64), 0..60),
        bad in prop::option::weighted(
            0.1,
            (any::<usize>(), prop_oneof![any::<i64>(), Just(-1), Just(total.saturating_add(1))]),
        ),
    ) -> Vec<i64> {
        let span = total.max(0).saturating_add(1);
        let mut steps: Vec<i64> = near
            .into_iter()
            .map(|(at, d)| match at {
                0 => d % span,
                1 => total - d % span,
                _ => total / 2 + d % (total / 2).max(1),
            })
            .collect();
        if let Some((index, step)) = bad {
            steps.insert(index % (steps.len() + 1), step);
        }
        steps
    }
}

prop_compose! {
    fn phase()(
        end_step in prop_oneof![garbage_f64(), -2.0..400.0f64, (0..400i32).prop_map(f64::from)],
        keys in [key(), key(), key(), key()],
    ) -> Phase {
        Phase::new(end_step, keys)
    }
}

/// A value for each of [`all_keys`].
fn values() -> impl Strategy<Value = Values> {
    prop::collection::vec(garbage_f64(), all_keys().len())
        .prop_map(|v| all_keys().into_iter().zip(v).collect())
}

// --- bad inputs of the Rust API, one table ------------------------------------------------

fn with(change: impl Fn(&mut Config)) -> Config {
    let mut config = Config::new(100, 0.1);
    change(&mut config);
    config
}

#[test]
#[allow(clippy::too_many_lines)] // one row per bad input
fn every_bad_parameter_is_an_error_naming_it() {
    let nan = f64::NAN;
    let inf = f64::INFINITY;
    // (configuration, words the message must hold: the argument, the value, what is allowed)
    let table: Vec<(Config, &[&str])> = vec![
        (
            with(|c| c.total_steps = 0),
            &["total_steps", "got 0", "positive integer (1 to 2**63 - 1)"],
        ),
        (
            with(|c| c.total_steps = -5),
            &["total_steps", "got -5", "positive integer"],
        ),
        (
            with(|c| c.total_steps = i64::MIN),
            &["total_steps", "got -9223372036854775808", "positive"],
        ),
        (
            with(|c| c.max_lr = 0.0),
            &["max_lr", "got 0.0", "finite number greater than 0"],
        ),
        (
            with(|c| c.max_lr = -0.0),
            &["max_lr", "got -0.0", "greater than 0"],
        ),
        (
            with(|c| c.max_lr = -0.1),
            &["max_lr", "got -0.1", "greater than 0"],
        ),
        (with(|c| c.max_lr = nan), &["max_lr", "got NaN", "finite"]),
        (with(|c| c.max_lr = inf), &["max_lr", "got inf", "finite"]),
        (with(|c| c.max_lr = -inf), &["max_lr", "got -inf", "finite"]),
        (
            with(|c| c.pct_start = -0.1),
            &["pct_start", "got -0.1", "between 0.0 and 1.0 inclusive"],
        ),
        (
            with(|c| c.pct_start = 1.5),
            &["pct_start", "got 1.5", "between 0.0 and 1.0"],
        ),
        (
            with(|c| c.pct_start = nan),
            &["pct_start", "got NaN", "between 0.0 and 1.0"],
        ),
        (
            with(|c| c.pct_start = inf),
            &["pct_start", "got inf", "between 0.0 and 1.0"],
        ),
        (
            with(|c| c.base_momentum = nan),
            &["base_momentum", "got NaN", "finite number"],
        ),
        (
            with(|c| c.base_momentum = -inf),
            &["base_momentum", "got -inf", "finite number"],
        ),
        (
            with(|c| c.max_momentum = inf),
            &["max_momentum", "got inf", "finite number"],
        ),
        (
            with(|c| c.div_factor = 0.0),
            &["div_factor", "got 0.0", "finite number greater than 0"],
        ),
        (
            with(|c| c.div_factor = -2.0),
            &["div_factor", "got -2.0", "greater than 0"],
        ),
        (
            with(|c| c.div_factor = nan),
            &["div_factor", "got NaN", "finite"],
        ),
        (
            with(|c| c.div_factor = inf),
            &["div_factor", "got inf", "finite"],
        ),
        (
            with(|c| c.final_div_factor = 0.0),
            &["final_div_factor", "got 0.0", "greater than 0"],
        ),
        (
            with(|c| c.final_div_factor = -0.0),
            &["final_div_factor", "got -0.0", "greater than 0"],
        ),
        (
            with(|c| c.final_div_factor = nan),
            &["final_div_factor", "got NaN", "finite"],
        ),
    ];
    for (config, words) in &table {
        for result in [
            config.build().map(|_| ()),
            schedule::<f64>(config, 0, 10).map(|_| ()),
            prepare(std::slice::from_ref(config), 0, 10).map(|_| ()),
        ] {
            let message = result
                .expect_err(&format!("{config:?} was accepted"))
                .to_string();
            for word in *words {
                assert!(message.contains(word), "{message:?} lacks {word:?}");
            }
        }
    }
    // In a sweep, the message says which configuration is at fault.
    let configs = [Config::new(10, 0.1), with(|c| c.div_factor = 0.0)];
    let message = prepare(&configs, 0, 5).unwrap_err().to_string();
    assert!(
        message.contains("div_factor") && message.contains("configuration 1"),
        "{message}"
    );
}

#[test]
fn every_bad_window_is_an_error_naming_it() {
    let config = Config::new(100, 0.1);
    let huge = Config::new(i64::MAX, 0.1);
    let table: Vec<(&Config, u64, u64, &[&str])> = vec![
        (
            &config,
            5,
            4,
            &[
                "0 <= start <= stop <= total_steps + 1 = 101",
                "start=5, stop=4",
            ],
        ),
        (&config, 0, 102, &["total_steps + 1 = 101", "stop=102"]),
        (&config, 200, 300, &["start=200, stop=300"]),
        (&config, u64::MAX, u64::MAX, &["start=18446744073709551615"]),
        (
            &huge,
            1 << 63,
            (1 << 63) + 1,
            &["total_steps + 1 = 9223372036854775808"],
        ),
    ];
    for (config, start, stop, words) in table {
        let message = schedule::<f32>(config, start, stop)
            .unwrap_err()
            .to_string();
        for word in words {
            assert!(message.contains(word), "{message:?} lacks {word:?}");
        }
        assert!(config.check_window(start, stop).is_err());
    }
    // Zero-width phases: torch's ZeroDivisionError, explained.
    let zero_width = with(|c| {
        c.total_steps = 10;
        c.pct_start = 0.1;
    });
    let message = schedule::<f64>(&zero_width, 0, 3).unwrap_err().to_string();
    assert!(message.contains("step 0 falls in phase 1") && message.contains("ZeroDivisionError"));
    assert!(
        message.contains("pct_start * total_steps == 1"),
        "{message}"
    );
}

#[test]
fn outputs_of_the_wrong_length_and_overflowing_windows_are_errors() {
    let (cycle, values) = Config::new(100, 0.1).build().unwrap();
    let (mut lr5, mut m6) = (vec![0.0f64; 5], vec![0.0f64; 6]);
    let message = fill(&cycle, &values, 0, (&mut lr5, &mut m6), false)
        .unwrap_err()
        .to_string();
    assert!(message.contains("same length, got 5 and 6"), "{message}");
    let message = fill(&cycle, &values, 0, (&mut lr5, &mut m6), true)
        .unwrap_err()
        .to_string();
    assert!(message.contains("same length"), "{message}");
    let (mut lr, mut m) = (vec![0.0f64; 5], vec![0.0f64; 5]);
    let message = fill(&cycle, &values, u64::MAX - 2, (&mut lr, &mut m), false)
        .unwrap_err()
        .to_string();
    assert!(
        message.contains("5 steps from step 18446744073709551613"),
        "{message}"
    );
    // Request::window: one row per prepared configuration, or an error.
    let prepared = prepare(&[Config::new(100, 0.1), Config::new(100, 0.2)], 0, 3).unwrap();
    let request = Request::new(&prepared, Accuracy::Exact);
    assert!(request.window(0, 3, &mut lr, &mut m).is_err());
    let (mut lr6, mut m6b) = (vec![0.0f64; 6], vec![0.0f64; 6]);
    assert!(request.window(0, 3, &mut lr6, &mut m6b).is_ok());
    assert!(request.window(3, 0, &mut lr6, &mut m6b).is_err());
    // An empty phase list cannot make a schedule.
    let message = OneCycle::from_phases(Vec::new(), Anneal::Cos)
        .unwrap_err()
        .to_string();
    assert!(message.contains("at least one phase"), "{message}");
}

#[test]
fn outputs_too_large_are_memory_errors_naming_the_size() {
    // Sizes beyond isize::MAX bytes are refused before asking the allocator, whatever the
    // kernel's overcommit policy (smaller ones are the allocator's to refuse).
    let huge = Config::new(i64::MAX, 0.1);
    let err = schedule::<f64>(&huge, 0, 1 << 62).unwrap_err();
    assert!(err.is_memory());
    let message = err.to_string();
    let want = format!("lr needs {} values ({})", 1u64 << 62, Size(8 << 62));
    assert!(message.contains(&want), "{message}");
    assert!(message.contains("(32.0 EiB)"), "{message}");
    let err = schedule::<f32>(&huge, 0, 1 << 63).unwrap_err();
    assert!(err.is_memory(), "{err}");
    assert!(err.to_string().contains("(32.0 EiB)"), "{err}");
    assert!(alloc_len::<f64>("lr", u128::MAX).is_err());
    assert!(try_zeroed::<f64>("lr", 1 << 60).unwrap_err().is_memory());
}

/// The rows `Request::steps` fills at `steps` against one-step windows of the same
/// request at each of them.
fn check_steps<T: Copy + Into<f64> + onecycle::Sample>(
    prepared: &[Prepared],
    steps: &[i64],
    accuracy: Accuracy,
) -> Result<(), TestCaseError> {
    let request = Request::new(prepared, accuracy);
    let n = steps.len() * prepared.len();
    let (mut lr, mut m) = (vec![T::ZERO; n], vec![T::ZERO; n]);
    request.steps(steps, &mut lr, &mut m).unwrap();
    let got = bits(&lr, &m);
    for (i, p) in prepared.iter().enumerate() {
        let one = Request::new(std::slice::from_ref(p), accuracy);
        for (k, &s) in steps.iter().enumerate() {
            let (mut l, mut mo) = ([T::ZERO], [T::ZERO]);
            one.window(s as u64, s as u64 + 1, &mut l, &mut mo).unwrap();
            prop_assert_eq!(
                got[i * steps.len() + k],
                bits(&l, &mo)[0],
                "row {} step {}",
                i,
                s
            );
        }
    }
    Ok(())
}

// --- properties: no input panics; the only outcomes are the right values or an Err --------

/// 2,000 cases per property unless `PROPTEST_CASES` says otherwise; nothing written to
/// disk on failure (the failing input is printed).
fn cases() -> ProptestConfig {
    let cases = if std::env::var_os("PROPTEST_CASES").is_some() {
        ProptestConfig::default().cases
    } else {
        2_000
    };
    ProptestConfig {
        cases,
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

proptest! {
    #![proptest_config(cases())]

    /// The phase lookup equals torch's loop for any phase list and any step.
    #[test]
    fn locate_is_torchs_loop(
        phases in prop::collection::vec(phase(), 1..6),
        anneal in anneal(),
        step in prop_oneof![-5..500i64, any::<i64>(), (i64::MAX - 500)..=i64::MAX],
    ) {
        let cycle = OneCycle::from_phases(phases.clone(), anneal).unwrap();
        match (cycle.locate(step), torch_locate(&phases, i128::from(step))) {
            (Ok((i, pct)), Some((j, expected))) => {
                prop_assert_eq!(i, j);
                prop_assert_eq!(bits_of(pct), bits_of(expected));
            }
            (Err(e), None) => prop_assert!(
                matches!(e, Error::ZeroWidthPhase { step: s, .. } if s == i128::from(step)),
                "{}", e
            ),
            (got, want) => prop_assert!(false, "{:?} vs torch {:?}", got, want),
        }
    }

    /// Filling a window equals torch step by step, or fails exactly where torch would,
    /// writing nothing; mismatched or overflowing outputs are errors.
    #[test]
    fn fill_is_torch_step_by_step(
        phases in prop::collection::vec(phase(), 0..6),
        anneal in anneal(),
        values in values(),
        start in prop_oneof![
            0..500u64,
            any::<u64>(),
            (i64::MAX as u64 - 300)..=(i64::MAX as u64 + 300),
            (u64::MAX - 400)..=u64::MAX,
        ],
        len in 0..300usize,
        momentum_len in prop_oneof![Just(None), (0..300usize).prop_map(Some)],
        parallel in any::<bool>(),
    ) {
        let Ok(cycle) = OneCycle::from_phases(phases.clone(), anneal) else {
            prop_assert!(phases.is_empty());
            return Ok(());
        };
        let m_len = momentum_len.unwrap_or(len);
        let (mut lr, mut m) = (vec![-7.0f64; len], vec![-7.0f64; m_len]);
        let result = fill(&cycle, &values, start, (&mut lr, &mut m), parallel);
        if m_len != len {
            prop_assert!(matches!(result, Err(Error::LengthMismatch { .. })), "{:?}", result);
        } else if start.checked_add(len as u64).is_none() {
            prop_assert!(matches!(result, Err(Error::WindowOverflow { .. })), "{:?}", result);
        } else {
            match (result, torch_window(&phases, anneal, &values, start, len)) {
                (Ok(()), Ok(want)) => prop_assert_eq!(bits(&lr, &m), want),
                (Err(Error::ZeroWidthPhase { step, .. }), Err(at)) => {
                    prop_assert_eq!(step, i128::from(at));
                    prop_assert!(lr.iter().chain(&m).all(|v| *v == -7.0), "written before failing");
                }
                (got, want) => prop_assert!(false, "{:?} vs torch failing at {:?}", got, want.err()),
            }
        }
    }

    /// `schedule()` for any configuration and any window: torch's values, or the error the
    /// checks give (parameters first, then the window, then a zero-width phase).
    #[test]
    fn schedule_is_torch_or_an_error(
        (config, (start, stop)) in config().prop_flat_map(|c| (Just(c), window(c.total_steps))),
        float32 in any::<bool>(),
    ) {
        let got = if float32 {
            schedule::<f32>(&config, start, stop).map(|(l, m)| bits(&l, &m))
        } else {
            schedule::<f64>(&config, start, stop).map(|(l, m)| bits(&l, &m))
        };
        let want = config.build().and_then(|(cycle, values)| {
            config.check_window(start, stop)?;
            let len = (stop - start) as usize;
            torch_window(cycle.phases(), config.anneal, &values, start, len).map_err(|step| {
                cycle.locate(step as i64).unwrap_err()
            })
        });
        match (got, want) {
            (Ok(got), Ok(want)) => {
                let want: Vec<(u64, u64)> = if float32 {
                    want.iter()
                        .map(|&(l, m)| {
                            let round = |b: u64| bits_of(f64::from(f64::from_bits(b) as f32));
                            (round(l), round(m))
                        })
                        .collect()
                } else {
                    want
                };
                prop_assert_eq!(got, want);
            }
            (Err(e), Err(w)) => prop_assert!(same_error(&e, &w), "{} vs {}", e, w),
            (got, want) => prop_assert!(false, "{:?} vs {:?}", got, want),
        }
    }

    /// Any invalid parameter is an error naming one of the invalid parameters; a valid set
    /// builds.
    #[test]
    fn build_refuses_exactly_the_invalid(config in config()) {
        let positive = |v: f64| v.is_finite() && v > 0.0;
        let mut invalid = Vec::new();
        if config.total_steps < 1 { invalid.push("total_steps"); }
        if !positive(config.max_lr) { invalid.push("max_lr"); }
        if !(0.0..=1.0).contains(&config.pct_start) { invalid.push("pct_start"); }
        if !config.base_momentum.is_finite() { invalid.push("base_momentum"); }
        if !config.max_momentum.is_finite() { invalid.push("max_momentum"); }
        if !positive(config.div_factor) { invalid.push("div_factor"); }
        if !positive(config.final_div_factor) { invalid.push("final_div_factor"); }
        match config.build() {
            Ok(_) => prop_assert!(invalid.is_empty(), "accepted despite {:?}", invalid),
            Err(e) => {
                let message = e.to_string();
                prop_assert!(
                    invalid.iter().any(|name| message.starts_with(&format!("{name} must"))),
                    "{} for {:?}", message, invalid
                );
            }
        }
    }

    /// A sweep: each row equals its own schedule; a bad configuration is named by index.
    #[test]
    fn sweeps_are_rows_of_schedules(
        configs in prop::collection::vec(config(), 0..4),
        start in 0..50u64,
        len in 0..60u64,
    ) {
        let stop = start + len;
        let Ok(prepared) = prepare(&configs, start, stop) else {
            let err = prepare(&configs, start, stop).unwrap_err();
            let first_bad = configs
                .iter()
                .position(|c| schedule::<f64>(c, start, stop).is_err())
                .expect("a configuration fails alone");
            if configs.len() > 1 {
                prop_assert!(
                    matches!(err, Error::InConfig { index, .. } if index == first_bad),
                    "{}", err
                );
            }
            return Ok(());
        };
        let n = len as usize * configs.len();
        let (mut lr, mut m) = (vec![0.0f64; n], vec![0.0f64; n]);
        let request = Request::new(&prepared, Accuracy::Exact);
        request.window(start, stop, &mut lr, &mut m).unwrap();
        for (i, config) in configs.iter().enumerate() {
            let (l, mo) = schedule::<f64>(config, start, stop).unwrap();
            let row = i * len as usize..(i + 1) * len as usize;
            prop_assert_eq!(bits(&lr[row.clone()], &m[row]), bits(&l, &mo));
        }
    }

    /// Values at any steps: `prepare_steps` refuses exactly what a step-by-step check
    /// refuses (parameters, then steps out of range, then a zero-width phase, each
    /// configuration in turn, the first step in the order given), and the values at each
    /// step are the bits of a window holding it, for either accuracy and output type.
    #[test]
    fn steps_are_windows_at_those_steps(
        (configs, steps) in sweep().prop_flat_map(|c| {
            let total = c[0].total_steps;
            (Just(c), steps_of(total))
        }),
        fast in any::<bool>(),
        float32 in any::<bool>(),
    ) {
        let accuracy = if fast { Accuracy::Fast } else { Accuracy::Exact };
        let result = prepare_steps(&configs, &steps);
        let want = configs.iter().enumerate().find_map(|(i, config)| {
            let check = config.build().and_then(|(cycle, _)| {
                let total_steps = config.total_steps;
                if let Some(index) = steps.iter().position(|s| !(0..=total_steps).contains(s)) {
                    return Err(Error::Step { index, step: steps[index], total_steps });
                }
                steps.iter().try_for_each(|&s| cycle.locate(s).map(|_| ()))
            });
            check.err().map(|e| (i, e))
        });
        match (result, want) {
            (Ok(prepared), None) => {
                if float32 {
                    check_steps::<f32>(&prepared, &steps, accuracy)?;
                } else {
                    check_steps::<f64>(&prepared, &steps, accuracy)?;
                }
            }
            (Err(got), Some((i, e))) => {
                let e = if configs.len() > 1 {
                    Error::InConfig { index: i, source: Box::new(e) }
                } else {
                    e
                };
                prop_assert!(same_error(&got, &e), "{} vs {}", got, e);
            }
            (got, want) => prop_assert!(false, "{:?} vs {:?}", got, want),
        }
    }

    /// Request::window given any window, any output lengths and either accuracy: a result
    /// or an error, never a panic.
    #[test]
    fn request_window_takes_any_window(
        configs in prop::collection::vec(config(), 1..3),
        (start, stop) in window(1000),
        extra in 0..3usize,
        fast in any::<bool>(),
    ) {
        let accuracy = if fast { Accuracy::Fast } else { Accuracy::Exact };
        let Ok(prepared) = prepare(&configs, 0, 0) else { return Ok(()); };
        let row = stop.saturating_sub(start).min(1000) as usize;
        let n = row * prepared.len() + extra;
        let (mut lr, mut m) = (vec![0.0f32; n], vec![0.0f32; n]);
        let result = Request::new(&prepared, accuracy).window(start, stop, &mut lr, &mut m);
        if extra > 0 {
            prop_assert!(result.is_err());
        }
        if let Err(e) = result {
            let _ = e.to_string();
        }
    }

    /// Allocation sizes: a length, or a memory error; never an abort.
    #[test]
    fn allocation_sizes_are_checked(n in prop_oneof![0..1000u128, any::<u128>(), Just(1 << 60)]) {
        let fits = n.checked_mul(8).is_some_and(|b| b <= isize::MAX as u128);
        prop_assert_eq!(alloc_len::<f64>("lr", n).is_ok(), fits);
        if n < 1000 {
            prop_assert_eq!(try_zeroed::<f64>("lr", n).unwrap().len() as u128, n);
        } else if !fits {
            // Refused up front, without asking the allocator.
            prop_assert!(try_zeroed::<f64>("lr", n).unwrap_err().is_memory());
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 12,
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    /// Windows large enough for threads give the same bits (or the same error) as the
    /// serial fill.
    #[test]
    fn parallel_fill_equals_serial_fill(
        config in config(),
        start in prop_oneof![0..100_000u64, (i64::MAX as u64 - 200_000)..=(i64::MAX as u64)],
        len in PARALLEL_MIN_STEPS..3 * PARALLEL_MIN_STEPS,
    ) {
        let Ok((cycle, values)) = config.build() else { return Ok(()); };
        let (mut a, mut am) = (vec![0.0f64; len], vec![0.0f64; len]);
        let (mut b, mut bm) = (vec![0.0f64; len], vec![0.0f64; len]);
        let serial = fill(&cycle, &values, start, (&mut a, &mut am), false);
        let parallel = fill(&cycle, &values, start, (&mut b, &mut bm), true);
        match (serial, parallel) {
            (Ok(()), Ok(())) => prop_assert_eq!(bits(&a, &am), bits(&b, &bm)),
            (Err(x), Err(y)) => prop_assert!(same_error(&x, &y), "{} vs {}", x, y),
            (x, y) => prop_assert!(false, "{:?} vs {:?}", x, y),
        }
    }
}
