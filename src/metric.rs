//! The data model shared by the data API, the store and the calendar conversion.
//!
//! Names are validated once, at the boundary, into newtypes: code that holds a [`MetricName`] or a
//! [`DimensionKey`] never has to ask again whether it is one the Impulses server would accept.

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Deserializer, Serialize};

/// Longest metric name or dimension key the Impulses data API accepts, in characters.
pub const MAX_NAME_LEN: usize = 99;

/// Longest dimension value we store, in bytes. The Impulses API sets no limit; this one keeps a
/// single hostile datapoint from bloating the store.
pub const MAX_DIMENSION_VALUE_LEN: usize = 4096;

/// Most dimensions one datapoint may carry, for the same reason.
pub const MAX_DIMENSIONS: usize = 64;

/// The prefix of metric names that belong to the calendar sync; clients may read but not write them.
pub const RESERVED_PREFIX: &str = "imp.";

/// Why a name or datapoint was refused; the message is shown to API clients as it is.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ModelError {
    /// A metric name or dimension key outside the allowed length or alphabet.
    #[error(
        "{what} {name:?} must be 1-99 characters of letters, digits and !$%&*+,-.:;<=>?@_()[]{{}}"
    )]
    InvalidName {
        /// "metric name" or "dimension key".
        what: &'static str,
        /// The offending name, cut to a readable length.
        name: String,
    },
    /// A dimension value longer than [`MAX_DIMENSION_VALUE_LEN`].
    #[error("dimension {key:?} has a value longer than {MAX_DIMENSION_VALUE_LEN} bytes")]
    ValueTooLong {
        /// The dimension whose value is too long.
        key: String,
    },
    /// More than [`MAX_DIMENSIONS`] dimensions on one datapoint.
    #[error("a datapoint may carry at most {MAX_DIMENSIONS} dimensions")]
    TooManyDimensions,
    /// NaN or an infinity, which JSON cannot carry back to the client.
    #[error("value must be a finite number")]
    NonFinite,
}

fn is_name_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || "!$%&*+,-.:;<=>?@_()[]{}".contains(c)
}

/// Checks the Impulses naming rule shared by metric names and dimension keys.
pub fn is_valid_name(name: &str) -> bool {
    // All allowed characters are ASCII, so the byte length is the character count.
    (1..=MAX_NAME_LEN).contains(&name.len()) && name.chars().all(is_name_char)
}

fn shorten(name: &str) -> String {
    name.chars().take(120).collect()
}

macro_rules! name_type {
    ($(#[$doc:meta])* $ty:ident, $what:literal) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, utoipa::ToSchema)]
        #[serde(transparent)]
        #[schema(pattern = r"^[A-Za-z0-9!$%&*+,\-.:;<=>?@_()\[\]{}]{1,99}$", example = "imp.events.duration")]
        pub struct $ty(String);

        impl $ty {
            /// Validates `name` against the Impulses naming rule.
            pub fn new(name: impl Into<String>) -> Result<Self, ModelError> {
                let name = name.into();
                if is_valid_name(&name) {
                    Ok(Self(name))
                } else {
                    Err(ModelError::InvalidName { what: $what, name: shorten(&name) })
                }
            }

            /// The name as text.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $ty {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl AsRef<str> for $ty {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }

        impl<'de> Deserialize<'de> for $ty {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let s = String::deserialize(d)?;
                Self::new(s).map_err(serde::de::Error::custom)
            }
        }
    };
}

name_type!(
    /// A metric name such as `imp.events.duration`: 1–99 characters of the Impulses alphabet.
    MetricName,
    "metric name"
);

name_type!(
    /// A dimension key such as `activity`: the same rule as metric names.
    DimensionKey,
    "dimension key"
);

impl MetricName {
    /// Whether the name belongs to the calendar sync (`imp.`), which data API clients may not write.
    pub fn is_reserved(&self) -> bool {
        self.0.starts_with(RESERVED_PREFIX)
    }
}

/// A datapoint's dimensions, kept sorted so that equal sets encode to equal bytes.
pub type Dimensions = BTreeMap<DimensionKey, String>;

/// One datapoint of a metric, in the shape the Impulses data API reads and writes.
///
/// Its identity within a metric is `(timestamp, dimensions)`: writing a point with the same
/// identity replaces the value.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[schema(example = json!({"timestamp": 1_764_313_200_000_i64, "dimensions": {"activity": "Running", "where": "park"}, "value": 2_700_000.0}))]
pub struct Datapoint {
    /// Milliseconds since the Unix epoch.
    #[serde(deserialize_with = "integral")]
    pub timestamp: i64,
    /// Sorted key/value labels: at most 64, keys named like metrics, values of at most 4096 bytes.
    #[serde(default)]
    #[schema(value_type = BTreeMap<String, String>)]
    pub dimensions: Dimensions,
    /// The measured value; a finite number.
    pub value: f64,
}

/// Reads an integer, also when it comes written as a number with a zero fraction (`1.7e12`,
/// `29412.0`): JSON does not tell the two apart, and clients that hold times as floats (Python,
/// pandas) send them so. A fraction or a value outside `i64` is refused.
fn integral<'de, D: Deserializer<'de>>(d: D) -> Result<i64, D::Error> {
    struct Integral;
    impl serde::de::Visitor<'_> for Integral {
        type Value = i64;
        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            f.write_str("an integer number of milliseconds")
        }
        fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<i64, E> {
            Ok(v)
        }
        fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<i64, E> {
            i64::try_from(v).map_err(|_| E::custom("timestamp out of range"))
        }
        fn visit_f64<E: serde::de::Error>(self, v: f64) -> Result<i64, E> {
            // Only where every integer is exact (|v| <= 2^53, ±285,000 years of milliseconds):
            // beyond, `-9223372036854775809` would round into range and pass for another number.
            const EXACT: f64 = 9_007_199_254_740_992.0;
            if v.fract() == 0.0 && (-EXACT..=EXACT).contains(&v) {
                Ok(v as i64)
            } else {
                Err(E::custom(
                    "timestamp must be a whole number of milliseconds within range",
                ))
            }
        }
    }
    d.deserialize_any(Integral)
}

impl Datapoint {
    /// Checks what serde cannot: a finite value and bounded dimensions.
    pub fn validate(&self) -> Result<(), ModelError> {
        if !self.value.is_finite() {
            return Err(ModelError::NonFinite);
        }
        if self.dimensions.len() > MAX_DIMENSIONS {
            return Err(ModelError::TooManyDimensions);
        }
        for (key, value) in &self.dimensions {
            if value.len() > MAX_DIMENSION_VALUE_LEN {
                return Err(ModelError::ValueTooLong {
                    key: shorten(key.as_str()),
                });
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_may_come_as_whole_floats_but_not_fractions() {
        let read = |json: &str| serde_json::from_str::<Datapoint>(json).map(|p| p.timestamp);
        assert_eq!(
            read(r#"{"timestamp": 29412, "value": 1}"#).ok(),
            Some(29412)
        );
        assert_eq!(
            read(r#"{"timestamp": 29412.0, "value": 1}"#).ok(),
            Some(29412)
        );
        assert_eq!(
            read(r#"{"timestamp": 1.7e12, "value": 1}"#).ok(),
            Some(1_700_000_000_000)
        );
        assert_eq!(read(r#"{"timestamp": -5.0, "value": 1}"#).ok(), Some(-5));
        assert!(read(r#"{"timestamp": 1.5, "value": 1}"#).is_err());
        assert!(read(r#"{"timestamp": 1e19, "value": 1}"#).is_err());
        assert!(read(r#"{"timestamp": -9223372036854775809, "value": 1}"#).is_err());
        assert_eq!(
            read(r#"{"timestamp": -9223372036854775808, "value": 1}"#).ok(),
            Some(i64::MIN)
        );
        assert!(read(r#"{"timestamp": 9223372036854775808, "value": 1}"#).is_err());
        assert!(read(r#"{"timestamp": "5", "value": 1}"#).is_err());
        assert!(read(r#"{"timestamp": null, "value": 1}"#).is_err());
    }

    #[test]
    fn names_follow_the_impulses_alphabet() {
        let cases: &[(&str, bool)] = &[
            ("imp.events.duration", true),
            ("a", true),
            ("x!$%&*+,-.:;<=>?@_()[]{}", true),
            (&"a".repeat(99), true),
            (&"a".repeat(100), false),
            ("", false),
            ("has space", false),
            ("slash/", false),
            ("quote\"", false),
            ("ümlaut", false),
            ("tab\t", false),
            ("hash#", false),
        ];
        for (name, ok) in cases {
            assert_eq!(MetricName::new(*name).is_ok(), *ok, "{name:?}");
            assert_eq!(DimensionKey::new(*name).is_ok(), *ok, "{name:?}");
        }
    }

    #[test]
    fn reserved_prefix_is_detected() {
        assert!(MetricName::new("imp.events.duration")
            .map(|m| m.is_reserved())
            .unwrap_or(false));
        assert!(!MetricName::new("impulse")
            .map(|m| m.is_reserved())
            .unwrap_or(true));
    }

    #[test]
    fn datapoint_json_round_trips_and_validates() {
        let json = r#"{"timestamp": 5, "dimensions": {"b": "2", "a": "1"}, "value": 1.5}"#;
        let dp: Datapoint = serde_json::from_str(json).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(dp.timestamp, 5);
        assert_eq!(dp.dimensions.len(), 2);
        assert!(dp.validate().is_ok());
        let out = serde_json::to_string(&dp).unwrap_or_default();
        assert_eq!(
            out,
            r#"{"timestamp":5,"dimensions":{"a":"1","b":"2"},"value":1.5}"#
        );
    }

    #[test]
    fn bad_datapoints_are_refused() {
        assert!(serde_json::from_str::<Datapoint>(
            r#"{"timestamp":1,"dimensions":{"bad key":"x"},"value":1}"#
        )
        .is_err());
        assert!(serde_json::from_str::<Datapoint>(r#"{"timestamp":1.5,"value":1}"#).is_err());
        assert!(serde_json::from_str::<Datapoint>(r#"{"timestamp":1,"value":"1"}"#).is_err());
        let dp = Datapoint {
            timestamp: 0,
            dimensions: Dimensions::new(),
            value: f64::NAN,
        };
        assert_eq!(dp.validate(), Err(ModelError::NonFinite));
    }
}
