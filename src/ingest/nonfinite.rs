//! Non-finite numbers written into JSON.
//!
//! JSON has no NaN or infinity, so serde_json refuses `NaN`, `Infinity` and numbers that
//! overflow a double (`1e999`) as syntax errors. Devices do send them, and they mean "a
//! non-finite value", which the pipeline counts as `non_finite`, not `malformed`. When a
//! payload fails to parse, [`quote_non_finite`] re-spells such tokens (outside strings) as
//! the strings `"NaN"`, `"Infinity"` or `"-Infinity"`; the decoders read those as the
//! values they name, and the record holding one is rejected as `non_finite` while the
//! other records of the message still count.

/// A copy of `payload` with non-finite number tokens quoted, or `None` if there are none
/// (then the parse error stands).
pub(crate) fn quote_non_finite(payload: &[u8]) -> Option<Vec<u8>> {
    let mut out: Option<Vec<u8>> = None;
    let mut copied = 0; // payload[..copied] is already in `out`
    let mut i = 0;
    while i < payload.len() {
        match payload[i] {
            b'"' => i = skip_string(payload, i + 1),
            b if b == b'-' || b == b'+' || b.is_ascii_alphanumeric() || b == b'.' => {
                let end = token_end(payload, i);
                if let Some(spelled) = classify(&payload[i..end]) {
                    let buf = out.get_or_insert_with(|| Vec::with_capacity(payload.len() + 16));
                    buf.extend_from_slice(&payload[copied..i]);
                    buf.push(b'"');
                    buf.extend_from_slice(spelled.as_bytes());
                    buf.push(b'"');
                    copied = end;
                }
                i = end;
            }
            _ => i += 1,
        }
    }
    let mut buf = out?;
    buf.extend_from_slice(&payload[copied..]);
    Some(buf)
}

/// Index just past the closing quote of a string whose body starts at `i`.
fn skip_string(p: &[u8], mut i: usize) -> usize {
    while i < p.len() {
        match p[i] {
            b'\\' => i += 2,
            b'"' => return i + 1,
            _ => i += 1,
        }
    }
    p.len()
}

fn token_end(p: &[u8], mut i: usize) -> usize {
    while i < p.len()
        && !matches!(p[i], b',' | b']' | b'}' | b':' | b'"' | b'[' | b'{')
        && !p[i].is_ascii_whitespace()
    {
        i += 1;
    }
    i
}

fn classify(token: &[u8]) -> Option<&'static str> {
    let (negative, body) = match token.first() {
        Some(b'-') => (true, &token[1..]),
        Some(b'+') => (false, &token[1..]),
        _ => (false, token),
    };
    let word = |w: &str| body.eq_ignore_ascii_case(w.as_bytes());
    let infinite = || Some(if negative { "-Infinity" } else { "Infinity" });
    if word("nan") {
        return Some("NaN");
    }
    if word("infinity") || word("inf") {
        return infinite();
    }
    // A number too large for a double: serde_json says "number out of range".
    if body.first().is_some_and(u8::is_ascii_digit) {
        let x: f64 = std::str::from_utf8(token).ok()?.parse().ok()?;
        if x.is_infinite() {
            return infinite();
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::quote_non_finite;

    fn q(s: &str) -> Option<String> {
        quote_non_finite(s.as_bytes()).map(|v| String::from_utf8_lossy(&v).into_owned())
    }

    #[test]
    fn quotes_tokens_outside_strings_only() {
        assert_eq!(q(r#"[{"v":NaN}]"#).as_deref(), Some(r#"[{"v":"NaN"}]"#));
        assert_eq!(
            q(r#"{"v": -Infinity, "t":1}"#).as_deref(),
            Some(r#"{"v": "-Infinity", "t":1}"#)
        );
        assert_eq!(
            q(r#"[1e999,-1E400,inf]"#).as_deref(),
            Some(r#"["Infinity","-Infinity","Infinity"]"#)
        );
        assert_eq!(q(r#"{"n":"NaN \" Infinity","v":1.5}"#), None);
        assert_eq!(q(r#"[true,false,null,1e308]"#), None);
        assert_eq!(q(r#"{"v":nan}"#).as_deref(), Some(r#"{"v":"NaN"}"#));
    }
}
