//! The number syntax of custom metric lines (`distance=10000`).
//!
//! Accepted: an optional sign, digits with an optional decimal point (`10`, `-3`, `+2.5`, `.5`,
//! `5.`) and an optional exponent (`1e3`, `1.5E-2`). Refused, so the line is ignored: words such
//! as `NaN` or `inf` (Rust's float parser would take them), hex (`0x10`), decimal commas (`1,5`),
//! digit separators and units. The grammar is checked first because `f64::from_str` alone is
//! more permissive than what a person means by "a number".

/// Whether `text` is exactly one number of the grammar above.
pub fn is_number(text: &str) -> bool {
    let b = text.as_bytes();
    let mut i = 0;
    if matches!(b.first(), Some(b'+' | b'-')) {
        i = 1;
    }
    let int_digits = count_digits(&b[i..]);
    i += int_digits;
    let mut frac_digits = 0;
    if b.get(i) == Some(&b'.') {
        i += 1;
        frac_digits = count_digits(&b[i..]);
        i += frac_digits;
    }
    if int_digits + frac_digits == 0 {
        return false;
    }
    if matches!(b.get(i), Some(b'e' | b'E')) {
        i += 1;
        if matches!(b.get(i), Some(b'+' | b'-')) {
            i += 1;
        }
        let exp_digits = count_digits(&b[i..]);
        if exp_digits == 0 {
            return false;
        }
        i += exp_digits;
    }
    i == b.len()
}

fn count_digits(b: &[u8]) -> usize {
    b.iter().take_while(|c| c.is_ascii_digit()).count()
}

/// Parses a number of the grammar above; `None` for anything else. The result may be infinite
/// when the exponent overflows (`1e400`): the caller decides what that means.
pub fn parse_number(text: &str) -> Option<f64> {
    if is_number(text) {
        text.parse::<f64>().ok()
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_in_every_accepted_form() {
        let cases: &[(&str, f64)] = &[
            ("10", 10.0),
            ("0", 0.0),
            ("-3", -3.0),
            ("+2.5", 2.5),
            (".5", 0.5),
            ("5.", 5.0),
            ("-.5", -0.5),
            ("1e3", 1000.0),
            ("1.5E-2", 0.015),
            ("2e+2", 200.0),
            ("007", 7.0),
            ("10000", 10000.0),
            ("123456789.125", 123_456_789.125),
        ];
        for (text, expected) in cases {
            assert_eq!(parse_number(text), Some(*expected), "{text:?}");
        }
        assert_eq!(parse_number("1e400"), Some(f64::INFINITY));
    }

    #[test]
    fn everything_else_is_refused() {
        let cases = [
            "", "+", "-", ".", "+.", "e3", ".e3", "1e", "1e+", "1.5.2", "NaN", "nan", "inf",
            "-inf", "infinity", "0x10", "1,5", "1_000", "10km", " 10", "10 ", "1 000", "--1",
            "+-1", "١٢", "1e3.5", "5..",
        ];
        for text in cases {
            assert_eq!(parse_number(text), None, "{text:?}");
        }
    }
}
