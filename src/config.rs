//! The parameters of a schedule, written once: each one's field, name, type, default,
//! meaning and check sit in one list below, from which [`Config`] (one configuration's
//! values), its defaults, its validation and [`parameters()`] (what the Python binding, the
//! console command and the docs read) are all made. Adding a parameter is one entry here
//! (and its use in the formula).

use crate::cycle::{check_pct_start, check_total_steps, Anneal, Key, OneCycle, Values};
use crate::error::Error;

/// The type of a parameter, as Python spells it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Int,
    /// A float; `onecycle.schedule` broadcasts these over a sweep.
    Float,
    /// One of [`Parameter::choices`].
    Text,
    Bool,
}

/// A parameter's value, for defaults.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Value {
    Int(i64),
    Float(f64),
    Text(&'static str),
    Bool(bool),
}

/// A Rust type a parameter can have.
pub trait ParameterType: Copy {
    const KIND: Kind;
    /// The values allowed, for [`Kind::Text`].
    const CHOICES: &'static [&'static str] = &[];
    fn value(self) -> Value;
    /// The value `value` holds, if it is of this type.
    fn from_value(value: Value) -> Option<Self>;
}

/// `ParameterType` for types a [`Value`] variant holds as they are.
macro_rules! plain_parameter_types {
    ($($ty:ty => $kind:ident;)+) => {$(
        impl ParameterType for $ty {
            const KIND: Kind = Kind::$kind;
            fn value(self) -> Value {
                Value::$kind(self)
            }
            fn from_value(value: Value) -> Option<Self> {
                match value {
                    Value::$kind(v) => Some(v),
                    _ => None,
                }
            }
        }
    )+};
}

plain_parameter_types! {
    i64 => Int;
    f64 => Float;
    bool => Bool;
}

impl ParameterType for Anneal {
    const KIND: Kind = Kind::Text;
    const CHOICES: &'static [&'static str] = &Anneal::NAMES;
    fn value(self) -> Value {
        Value::Text(self.name())
    }
    fn from_value(value: Value) -> Option<Self> {
        match value {
            Value::Text(name) => Anneal::from_name(name),
            _ => None,
        }
    }
}

/// One parameter of `onecycle.schedule` (and of torch's `OneCycleLR`, for one group).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Parameter {
    /// The keyword name (torch's).
    pub name: &'static str,
    pub kind: Kind,
    /// The allowed values of a [`Kind::Text`] parameter.
    pub choices: &'static [&'static str],
    /// `None` for a required parameter.
    pub default: Option<Value>,
    /// What it means and what is allowed, one line.
    pub help: &'static str,
}

/// Any value of the type is allowed.
#[allow(clippy::unnecessary_wraps)] // a check, with the signature of the others
fn any<T>(_: &'static str, _: T) -> Result<(), Error> {
    Ok(())
}

/// A float that is finite and greater than zero.
fn positive(name: &'static str, value: f64) -> Result<(), Error> {
    if value.is_finite() && value > 0.0 {
        Ok(())
    } else {
        Err(Error::NotPositive { name, value })
    }
}

/// A finite float.
fn finite(name: &'static str, value: f64) -> Result<(), Error> {
    if value.is_finite() {
        Ok(())
    } else {
        Err(Error::NotFinite { name, value })
    }
}

fn total_steps(_: &'static str, value: i64) -> Result<(), Error> {
    check_total_steps(value)
}

fn pct_start(_: &'static str, value: f64) -> Result<(), Error> {
    check_pct_start(value)
}

/// The parameter list: the required parameters, then the others with their defaults, each
/// as `field as "name": Type [= default], check, "help";`, in the order of
/// `onecycle.schedule`'s signature (which is also the order the checks run in, so the first
/// invalid parameter is the one reported).
macro_rules! parameters {
    (
        required { $( $rfield:ident as $rname:literal: $rty:ty, $rcheck:ident, $rhelp:literal; )+ }
        optional { $( $field:ident as $name:literal: $ty:ty = $default:expr, $check:ident, $help:literal; )+ }
    ) => {
        /// The parameters of one schedule, as `onecycle.schedule()` and torch's constructor
        /// take them (with one parameter group).
        #[derive(Clone, Copy, Debug, PartialEq)]
        // Each field's doc is the parameter's help text, which the console command prints.
        #[allow(clippy::doc_markdown)]
        pub struct Config {
            $( #[doc = $rhelp] pub $rfield: $rty, )+
            $( #[doc = $help] pub $field: $ty, )+
        }

        /// Every parameter, in signature order.
        #[must_use]
        pub fn parameters() -> Vec<Parameter> {
            vec![
                $( Parameter::new::<$rty>($rname, None, $rhelp), )+
                $( Parameter::new::<$ty>($name, Some(ParameterType::value($default)), $help), )+
            ]
        }

        impl Config {
            /// torch's defaults for everything but the required parameters.
            #[must_use]
            pub fn new($( $rfield: $rty ),+) -> Config {
                Config { $( $rfield, )+ $( $field: $default, )+ }
            }

            /// Checks every parameter in signature order.
            ///
            /// # Errors
            /// The first invalid parameter.
            pub fn check(&self) -> Result<(), Error> {
                $( $rcheck($rname, self.$rfield)?; )+
                $( $check($name, self.$field)?; )+
                Ok(())
            }

            /// Sets parameter `index` (its place in [`parameters()`]) to `value`; false,
            /// changing nothing, when `value` is not of the parameter's type.
            pub fn set(&mut self, index: usize, value: Value) -> bool {
                let mut at = 0;
                $(
                    if at == index {
                        return ParameterType::from_value(value).map(|v| self.$rfield = v).is_some();
                    }
                    at += 1;
                )+
                $(
                    if at == index {
                        return ParameterType::from_value(value).map(|v| self.$field = v).is_some();
                    }
                    at += 1;
                )+
                let _ = at;
                false
            }

            /// The value of each parameter, in signature order.
            #[must_use]
            pub fn values(&self) -> Vec<Value> {
                vec![ $( self.$rfield.value(), )+ $( self.$field.value(), )+ ]
            }
        }
    };
}

impl Parameter {
    fn new<T: ParameterType>(
        name: &'static str,
        default: Option<Value>,
        help: &'static str,
    ) -> Self {
        Parameter {
            name,
            kind: T::KIND,
            choices: T::CHOICES,
            default,
            help,
        }
    }
}

parameters! {
    required {
        total_steps as "total_steps": i64, total_steps,
            "steps in the cycle, 1 to 2**63 - 1";
        max_lr as "max_lr": f64, positive,
            "peak learning rate; finite and greater than 0";
    }
    optional {
        pct_start as "pct_start": f64 = 0.3, pct_start,
            "fraction of the cycle spent raising the learning rate, in [0, 1]";
        anneal as "anneal_strategy": Anneal = Anneal::Cos, any,
            "how each phase anneals: 'cos' or 'linear'";
        base_momentum as "base_momentum": f64 = 0.85, finite,
            "momentum at the learning-rate peak; finite";
        max_momentum as "max_momentum": f64 = 0.95, finite,
            "momentum at both ends; finite";
        div_factor as "div_factor": f64 = 25.0, positive,
            "initial_lr = max_lr / div_factor; finite and greater than 0";
        final_div_factor as "final_div_factor": f64 = 1e4, positive,
            "min_lr = initial_lr / final_div_factor; finite and greater than 0";
        three_phase as "three_phase": bool = false, any,
            "use the three-phase layout of the original paper";
    }
}

impl Config {
    /// Checks every parameter and builds the schedule and the values torch's constructor
    /// writes into a group ([`Key::TORCH`]), as torch's constructor computes them.
    ///
    /// # Errors
    /// The first invalid parameter, in signature order.
    pub fn build(&self) -> Result<(OneCycle, Values), Error> {
        self.check()?;
        let cycle = OneCycle::new(
            self.total_steps,
            self.pct_start,
            self.three_phase,
            self.anneal,
        )?;
        // torch's constructor: initial_lr = max_lr / div_factor,
        // min_lr = initial_lr / final_div_factor.
        let initial_lr = self.max_lr / self.div_factor;
        let min_lr = initial_lr / self.final_div_factor;
        let values = [
            initial_lr,
            self.max_lr,
            min_lr,
            self.max_momentum,
            self.base_momentum,
        ];
        Ok((cycle, Key::TORCH.into_iter().zip(values).collect()))
    }
}

impl Config {
    /// Checks `0 <= start <= stop <= total_steps + 1` (torch allows one step past the end).
    ///
    /// # Errors
    /// [`Error::Window`] otherwise.
    pub fn check_window(&self, start: u64, stop: u64) -> Result<(), Error> {
        let end = u64::try_from(self.total_steps).unwrap_or(0) + 1;
        if start <= stop && stop <= end {
            Ok(())
        } else {
            Err(Error::Window {
                start: start.into(),
                stop: stop.into(),
                total_steps: self.total_steps,
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn invalid_parameters() {
        assert!(matches!(
            Config::new(0, 0.1).build(),
            Err(Error::TotalSteps { value: 0 })
        ));
        assert!(matches!(
            Config::new(10, f64::NAN).build(),
            Err(Error::NotPositive { name: "max_lr", .. })
        ));
        let c = Config {
            pct_start: 1.5,
            ..Config::new(10, 0.1)
        };
        assert!(matches!(c.build(), Err(Error::PctStart { .. })));
        let c = Config {
            div_factor: 0.0,
            ..Config::new(10, 0.1)
        };
        assert!(matches!(
            c.build(),
            Err(Error::NotPositive {
                name: "div_factor",
                ..
            })
        ));
        let c = Config::new(10, 0.1);
        assert!(c.check_window(0, 11).is_ok());
        assert!(c.check_window(0, 12).is_err());
        assert!(c.check_window(5, 4).is_err());
        assert!(Config::new(i64::MAX, 0.1)
            .check_window(u64::MAX >> 1, 1 << 63)
            .is_ok());
    }

    #[test]
    fn the_list_gives_defaults_and_checks_in_signature_order() {
        let names: Vec<&str> = parameters().iter().map(|p| p.name).collect();
        assert_eq!(
            names,
            [
                "total_steps",
                "max_lr",
                "pct_start",
                "anneal_strategy",
                "base_momentum",
                "max_momentum",
                "div_factor",
                "final_div_factor",
                "three_phase"
            ]
        );
        let config = Config::new(7, 0.5);
        for (parameter, value) in parameters().iter().zip(config.values()) {
            match parameter.default {
                Some(default) => assert_eq!(default, value, "{}", parameter.name),
                None => assert!(matches!(value, Value::Int(7) | Value::Float(0.5))),
            }
        }
        // Each parameter is set by its place in the list, with a value of its type.
        let mut set = Config::new(1, 1.0);
        for (index, value) in config.values().into_iter().enumerate() {
            assert!(set.set(index, value));
        }
        assert_eq!(set, config);
        assert!(!set.set(0, Value::Float(1.0)));
        assert!(!set.set(3, Value::Text("cosine")));
        assert!(!set.set(parameters().len(), Value::Bool(true)));
        // Several bad values: the first in signature order is reported.
        let bad = Config {
            pct_start: 2.0,
            div_factor: 0.0,
            ..Config::new(0, -1.0)
        };
        assert!(matches!(bad.check(), Err(Error::TotalSteps { value: 0 })));
        let bad = Config {
            total_steps: 10,
            ..bad
        };
        assert!(matches!(
            bad.check(),
            Err(Error::NotPositive { name: "max_lr", .. })
        ));
    }
}
