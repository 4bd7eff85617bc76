use rand::{distr::Alphanumeric, Rng};

use super::Invalid;

/// The path segments hop serves itself. A generated code never equals one of them, in any
/// letter case, so a link can never shadow (or be shadowed by) a route.
const RESERVED: &[&str] = &[
    "health", "ready", "metrics", "users", "urls", "events", "openapi", "docs", "static",
    "favicon", "robots", "admin", "api",
];

/// A short code. Generated ones are 6 characters of `[A-Za-z0-9]`; imported ones may be up to
/// [`ShortCode::MAX_LEN`] characters of `[A-Za-z0-9_-]`, which is also what a lookup accepts
/// before touching any cache or database.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ShortCode(String);

impl ShortCode {
    pub const GENERATED_LEN: usize = 6;
    pub const MAX_LEN: usize = 32;

    /// A fresh code from the thread-local CSPRNG (ChaCha, seeded from the OS).
    pub fn generate() -> Self {
        let mut rng = rand::rng();
        loop {
            let code: String = (&mut rng)
                .sample_iter(Alphanumeric)
                .take(Self::GENERATED_LEN)
                .map(char::from)
                .collect();
            if !Self::is_reserved(&code) {
                return Self(code);
            }
        }
    }

    pub fn parse(raw: &str) -> Result<Self, Invalid> {
        if raw.is_empty() || raw.len() > Self::MAX_LEN {
            return Err(Invalid::new("must be 1 to 32 characters"));
        }
        if !raw
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
        {
            return Err(Invalid::new("may hold only letters, digits, '_' and '-'"));
        }
        Ok(Self(raw.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Whether `code` is a path segment hop serves itself, in any letter case.
    pub fn is_reserved(code: &str) -> bool {
        RESERVED.iter().any(|word| word.eq_ignore_ascii_case(code))
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use super::*;

    #[test]
    fn generated_codes_are_six_alphanumerics() {
        for _ in 0..1000 {
            let code = ShortCode::generate();
            assert_eq!(code.as_str().len(), 6);
            assert!(code.as_str().bytes().all(|b| b.is_ascii_alphanumeric()));
        }
    }

    #[test]
    fn generated_codes_do_not_repeat_in_ten_thousand_draws() {
        let codes: HashSet<_> = (0..10_000).map(|_| ShortCode::generate()).collect();
        assert_eq!(codes.len(), 10_000);
    }

    #[test]
    fn reserved_words_are_recognised_in_any_case() {
        assert!(ShortCode::is_reserved("health"));
        assert!(ShortCode::is_reserved("EVENTS"));
        assert!(!ShortCode::is_reserved("WqxP6K"));
    }

    #[test]
    fn a_lookup_code_with_a_slash_or_dot_is_refused() {
        assert!(ShortCode::parse("ab/cd").is_err());
        assert!(ShortCode::parse("..").is_err());
        assert!(ShortCode::parse("").is_err());
        assert_eq!(ShortCode::parse("WqxP6K").unwrap().as_str(), "WqxP6K");
    }
}
