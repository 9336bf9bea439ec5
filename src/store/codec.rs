//! How a datapoint is stored in its series block: the JSON the data API answers with, minus the
//! timestamp (which is the entry's key).
//!
//! The value is `{"dimensions":{…},"value":…}` exactly as `serde_json` writes those two fields
//! of a [`Datapoint`]. A read answers `{"timestamp":<ts>,` followed by the stored bytes after
//! their `{`, which is byte for byte what `serde_json` writes for the whole point: the hot path
//! of the data API copies bytes instead of formatting numbers and escaping strings.

use serde::Deserialize;

use super::StoreError;
use crate::metric::{Datapoint, Dimensions};

#[derive(Deserialize)]
struct Stored {
    dimensions: Dimensions,
    value: f64,
}

/// Encodes a validated datapoint's dimensions and value (the timestamp lives in the key).
pub fn encode(point: &Datapoint) -> Vec<u8> {
    let mut out = Vec::with_capacity(64);
    write_head(&point.dimensions, &mut out);
    write_value(point.value, &mut out);
    out
}

/// What [`encode`] writes before a point's value: `{"dimensions":{…},"value":`.
///
/// The points one event gives (its duration and each custom metric) share their dimensions, so
/// a sync writes this once per event and each point's bytes are a copy of it and the value:
/// serializing the dimensions again for every point was a sixth of converting a page.
#[derive(Debug, Clone)]
pub struct Head(Vec<u8>);

impl Head {
    /// The head of every point with `dimensions`.
    pub fn new(dimensions: &Dimensions) -> Self {
        let mut out = Vec::with_capacity(64);
        write_head(dimensions, &mut out);
        Self(out)
    }

    /// What [`encode`] writes for a point with these dimensions and `value`.
    pub fn with_value(&self, value: f64) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.0.len() + 25);
        out.extend_from_slice(&self.0);
        write_value(value, &mut out);
        out
    }
}

/// The fields in `Datapoint`'s order, as `serde_json` writes them: a map of strings and a
/// finite `f64` cannot fail to serialize into a `Vec`.
fn write_head(dimensions: &Dimensions, out: &mut Vec<u8>) {
    out.extend_from_slice(b"{\"dimensions\":");
    let _ = serde_json::to_writer(&mut *out, dimensions);
    out.extend_from_slice(b",\"value\":");
}

fn write_value(value: f64, out: &mut Vec<u8>) {
    let _ = serde_json::to_writer(&mut *out, &value);
    out.push(b'}');
}

/// Decodes what [`encode`] wrote, with the timestamp taken from the key.
pub fn decode(timestamp: i64, bytes: &[u8]) -> Result<Datapoint, StoreError> {
    let stored: Stored = serde_json::from_slice(bytes)
        .map_err(|e| StoreError::corrupt(format!("datapoint: {e}")))?;
    Ok(Datapoint {
        timestamp,
        dimensions: stored.dimensions,
        value: stored.value,
    })
}

/// A scan of stored points: it calls its argument with each point's timestamp and stored bytes,
/// in order. Each engine has its own; these turn one into an answer.
pub type Each<'a> = &'a mut dyn FnMut(i64, &[u8]) -> Result<(), StoreError>;

/// The points `scan` yields, decoded.
pub fn collect(
    scan: impl FnOnce(Each<'_>) -> Result<(), StoreError>,
) -> Result<Vec<Datapoint>, StoreError> {
    let mut out = Vec::new();
    scan(&mut |ts, bytes| {
        out.push(decode(ts, bytes)?);
        Ok(())
    })?;
    Ok(out)
}

/// The points `scan` yields as the JSON array the data API answers, copied from the stored
/// bytes ([`write_json`]).
pub fn json_array(
    scan: impl FnOnce(Each<'_>) -> Result<(), StoreError>,
) -> Result<Vec<u8>, StoreError> {
    let mut out = Vec::with_capacity(16 * 1024);
    out.push(b'[');
    scan(&mut |ts, bytes| {
        if out.len() > 1 {
            out.push(b',');
        }
        write_json(ts, bytes, &mut out)
    })?;
    out.push(b']');
    Ok(out)
}

/// Appends the JSON of the stored point (`timestamp` from the key, `bytes` as [`encode`] wrote
/// them) to `out`: byte for byte what `serde_json` writes for the decoded [`Datapoint`].
pub fn write_json(timestamp: i64, bytes: &[u8], out: &mut Vec<u8>) -> Result<(), StoreError> {
    let fields = match bytes {
        [b'{', fields @ .., b'}'] if fields.starts_with(b"\"dimensions\":") => fields,
        _ => return Err(StoreError::corrupt("datapoint")),
    };
    out.extend_from_slice(b"{\"timestamp\":");
    out.extend_from_slice(itoa::Buffer::new().format(timestamp).as_bytes());
    out.push(b',');
    out.extend_from_slice(fields);
    out.push(b'}');
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metric::DimensionKey;
    use proptest::prelude::*;

    fn point(ts: i64, value: f64, dims: std::collections::BTreeMap<String, String>) -> Datapoint {
        let dimensions: Dimensions = dims
            .into_iter()
            .map(|(k, v)| (DimensionKey::new(k).unwrap(), v))
            .collect();
        Datapoint {
            timestamp: ts,
            dimensions,
            value,
        }
    }

    proptest! {
        #[test]
        fn round_trips(ts in any::<i64>(), value in -1e300f64..1e300,
                       dims in proptest::collection::btree_map("[a-z_.]{1,10}", ".{0,20}", 0..6)) {
            let p = point(ts, value, dims);
            prop_assert_eq!(decode(ts, &encode(&p)).unwrap(), p);
        }

        #[test]
        fn json_is_what_serde_writes_for_the_point(ts in any::<i64>(), value in -1e300f64..1e300,
                       dims in proptest::collection::btree_map("[a-z_.]{1,10}", ".{0,20}", 0..6)) {
            let p = point(ts, value, dims);
            let mut out = Vec::new();
            write_json(ts, &encode(&p), &mut out).unwrap();
            prop_assert_eq!(String::from_utf8(out).unwrap(), serde_json::to_string(&p).unwrap());
        }

        #[test]
        fn a_shared_head_writes_what_encode_writes(ts in any::<i64>(), values in proptest::collection::vec(-1e300f64..1e300, 1..4),
                       dims in proptest::collection::btree_map("[a-z_.]{1,10}", ".{0,20}", 0..6)) {
            let p = point(ts, 0.0, dims);
            let head = Head::new(&p.dimensions);
            for value in values {
                let p = Datapoint { value, ..p.clone() };
                prop_assert_eq!(head.with_value(value), encode(&p));
            }
        }

        #[test]
        fn garbage_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..64)) {
            let _ = decode(0, &bytes);
            let _ = write_json(0, &bytes, &mut Vec::new());
        }
    }

    #[test]
    fn damage_is_an_error() {
        let p = point(1, 2.0, Default::default());
        let bytes = encode(&p);
        assert!(decode(1, &bytes[..bytes.len() - 1]).is_err());
        assert!(write_json(1, &bytes[..bytes.len() - 1], &mut Vec::new()).is_err());
        assert!(write_json(1, b"{}", &mut Vec::new()).is_err());
    }
}
