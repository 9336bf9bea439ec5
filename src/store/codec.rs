//! The binary encoding of a datapoint's value and dimensions in the `datapoints` tree.
//!
//! `value: f64 BE | count: u16 | (key_len: u16, key, value_len: u32, value)*`. Compact and
//! allocation-light to decode, which matters when a read returns 100,000 points.

use crate::metric::{Datapoint, DimensionKey, Dimensions};

use super::StoreError;

/// Encodes a validated datapoint's value and dimensions (the timestamp lives in the key).
pub fn encode(point: &Datapoint) -> Vec<u8> {
    let size = 10
        + point
            .dimensions
            .iter()
            .map(|(k, v)| 6 + k.as_str().len() + v.len())
            .sum::<usize>();
    let mut out = Vec::with_capacity(size);
    out.extend_from_slice(&point.value.to_be_bytes());
    out.extend_from_slice(&(point.dimensions.len() as u16).to_be_bytes());
    for (k, v) in &point.dimensions {
        out.extend_from_slice(&(k.as_str().len() as u16).to_be_bytes());
        out.extend_from_slice(k.as_str().as_bytes());
        out.extend_from_slice(&(v.len() as u32).to_be_bytes());
        out.extend_from_slice(v.as_bytes());
    }
    out
}

struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], StoreError> {
        if self.0.len() < n {
            return Err(StoreError::corrupt("truncated datapoint"));
        }
        let (head, tail) = self.0.split_at(n);
        self.0 = tail;
        Ok(head)
    }

    fn array<const N: usize>(&mut self) -> Result<[u8; N], StoreError> {
        self.take(N)?
            .try_into()
            .map_err(|_| StoreError::corrupt("truncated datapoint"))
    }

    fn str(&mut self, len: usize) -> Result<&'a str, StoreError> {
        std::str::from_utf8(self.take(len)?)
            .map_err(|_| StoreError::corrupt("datapoint text is not UTF-8"))
    }
}

/// Decodes what [`encode`] wrote, with the timestamp taken from the key.
pub fn decode(timestamp: i64, bytes: &[u8]) -> Result<Datapoint, StoreError> {
    let mut r = Reader(bytes);
    let value = f64::from_be_bytes(r.array()?);
    let count = u16::from_be_bytes(r.array()?);
    let mut dimensions = Dimensions::new();
    for _ in 0..count {
        let klen = u16::from_be_bytes(r.array()?) as usize;
        let key = DimensionKey::new(r.str(klen)?)
            .map_err(|_| StoreError::corrupt("invalid dimension key"))?;
        let vlen = u32::from_be_bytes(r.array()?) as usize;
        dimensions.insert(key, r.str(vlen)?.to_string());
    }
    if !r.0.is_empty() {
        return Err(StoreError::corrupt("trailing bytes after datapoint"));
    }
    Ok(Datapoint {
        timestamp,
        dimensions,
        value,
    })
}

/// Appends the JSON of the stored point (`timestamp` from the key, `bytes` as [`encode`] wrote
/// them) to `out`: byte for byte what `serde_json` writes for the decoded [`Datapoint`], with the
/// same checks as [`decode`], but without building the point. A 100,000-point read no longer
/// allocates a map and six strings per point.
pub fn write_json(timestamp: i64, bytes: &[u8], out: &mut Vec<u8>) -> Result<(), StoreError> {
    let json = |out: &mut Vec<u8>, v: &dyn erased::Json| v.write(out);
    let mut r = Reader(bytes);
    let value = f64::from_be_bytes(r.array()?);
    let count = u16::from_be_bytes(r.array()?);
    out.extend_from_slice(b"{\"timestamp\":");
    json(out, &timestamp)?;
    out.extend_from_slice(b",\"dimensions\":{");
    for i in 0..count {
        if i > 0 {
            out.push(b',');
        }
        let klen = u16::from_be_bytes(r.array()?) as usize;
        let key = r.str(klen)?;
        if !crate::metric::is_valid_name(key) {
            return Err(StoreError::corrupt("invalid dimension key"));
        }
        json(out, &key)?;
        out.push(b':');
        let vlen = u32::from_be_bytes(r.array()?) as usize;
        json(out, &r.str(vlen)?)?;
    }
    if !r.0.is_empty() {
        return Err(StoreError::corrupt("trailing bytes after datapoint"));
    }
    out.extend_from_slice(b"},\"value\":");
    json(out, &value)?;
    out.push(b'}');
    Ok(())
}

/// The scalar pieces [`write_json`] hands to `serde_json`, so each is formatted exactly as the
/// derived `Serialize` of [`Datapoint`] formats it.
mod erased {
    use super::StoreError;

    pub trait Json {
        fn write(&self, out: &mut Vec<u8>) -> Result<(), StoreError>;
    }

    impl<T: serde::Serialize> Json for T {
        fn write(&self, out: &mut Vec<u8>) -> Result<(), StoreError> {
            serde_json::to_writer(out, self).map_err(|e| StoreError::corrupt(e.to_string()))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn round_trips(ts in any::<i64>(), value in -1e300f64..1e300,
                       dims in proptest::collection::btree_map("[a-z_.]{1,10}", ".{0,20}", 0..6)) {
            let dimensions: Dimensions = dims.into_iter().map(|(k, v)| (DimensionKey::new(k).unwrap(), v)).collect();
            let p = Datapoint { timestamp: ts, dimensions, value };
            prop_assert_eq!(decode(ts, &encode(&p)).unwrap(), p);
        }

        #[test]
        fn json_is_what_serde_writes_for_the_decoded_point(ts in any::<i64>(), value in -1e300f64..1e300,
                       dims in proptest::collection::btree_map("[a-z_.]{1,10}", ".{0,20}", 0..6)) {
            let dimensions: Dimensions = dims.into_iter().map(|(k, v)| (DimensionKey::new(k).unwrap(), v)).collect();
            let p = Datapoint { timestamp: ts, dimensions, value };
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
    fn truncation_is_an_error() {
        let p = Datapoint {
            timestamp: 1,
            dimensions: Dimensions::new(),
            value: 2.0,
        };
        let bytes = encode(&p);
        assert!(decode(1, &bytes[..bytes.len() - 1]).is_err());
        let mut longer = bytes.clone();
        longer.push(0);
        assert!(decode(1, &longer).is_err());
    }
}
