//! How a datapoint is stored in its series block: the JSON the data API answers with, minus the
//! timestamp (which is the entry's key).
//!
//! The value is `{"dimensions":{…},"value":…}` exactly as `serde_json` writes those two fields
//! of a [`Datapoint`]. A read answers `{"timestamp":<ts>,` followed by the stored bytes after
//! their `{`, which is byte for byte what `serde_json` writes for the whole point: the hot path
//! of the data API copies bytes instead of formatting numbers and escaping strings.

use serde::{Deserialize, Serialize};

use super::StoreError;
use crate::metric::{Datapoint, Dimensions};

/// The stored fields, in `Datapoint`'s order.
#[derive(Serialize)]
struct StoredRef<'a> {
    dimensions: &'a Dimensions,
    value: f64,
}

#[derive(Deserialize)]
struct Stored {
    dimensions: Dimensions,
    value: f64,
}

/// Encodes a validated datapoint's dimensions and value (the timestamp lives in the key).
pub fn encode(point: &Datapoint) -> Vec<u8> {
    let stored = StoredRef {
        dimensions: &point.dimensions,
        value: point.value,
    };
    // Serializing a map of strings and a finite f64 into a Vec cannot fail.
    serde_json::to_vec(&stored).unwrap_or_else(|_| b"{}".to_vec())
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
