//! Mystikos size strings: bytes, or a number with a `k`, `m` or `g` suffix (base 1024,
//! case-insensitive), rounded up to 4096.

/// Parses a size string.
pub fn parse_size(s: &str) -> Result<u64, String> {
    let t = s.trim();
    let (num, mul) = match t.chars().last() {
        Some('k' | 'K') => (&t[..t.len() - 1], 1u64 << 10),
        Some('m' | 'M') => (&t[..t.len() - 1], 1 << 20),
        Some('g' | 'G') => (&t[..t.len() - 1], 1 << 30),
        _ => (t, 1),
    };
    let n: u64 = num.parse().map_err(|_| format!("invalid size '{s}': expected a number with an optional k, m or g suffix"))?;
    let b = n.checked_mul(mul).ok_or_else(|| format!("size '{s}' is too large"))?;
    b.checked_add(4095).map(|v| v & !4095).ok_or_else(|| format!("size '{s}' is too large"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suffixes_are_base_1024_and_results_round_up_to_pages() {
        assert_eq!(parse_size("512m").unwrap(), 512 << 20);
        assert_eq!(parse_size("2G").unwrap(), 2 << 30);
        assert_eq!(parse_size("1k").unwrap(), 4096);
        assert_eq!(parse_size("8192").unwrap(), 8192);
        assert_eq!(parse_size("1").unwrap(), 4096);
    }

    #[test]
    fn garbage_and_overflow_are_clear_errors() {
        assert!(parse_size("lots").unwrap_err().contains("invalid size"));
        assert!(parse_size("-5m").is_err());
        assert!(parse_size("99999999999999999g").unwrap_err().contains("too large"));
    }
}
