use super::Invalid;

/// A username: trimmed, 1 to 64 characters, no control characters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Username(String);

impl Username {
    pub const MAX_CHARS: usize = 64;

    pub fn parse(raw: &str) -> Result<Self, Invalid> {
        let trimmed = raw.trim();
        if trimmed.is_empty() {
            return Err(Invalid::new("is required"));
        }
        if trimmed.chars().count() > Self::MAX_CHARS {
            return Err(Invalid::new("must be at most 64 characters"));
        }
        if trimmed.chars().any(char::is_control) {
            return Err(Invalid::new("must not contain control characters"));
        }
        Ok(Self(trimmed.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_username_is_trimmed() {
        assert_eq!(Username::parse("  ada  ").unwrap().as_str(), "ada");
    }

    #[test]
    fn a_blank_username_is_missing() {
        assert_eq!(
            Username::parse("   ").unwrap_err(),
            Invalid::new("is required")
        );
    }

    #[test]
    fn a_username_with_a_newline_is_refused() {
        assert!(Username::parse("a\u{7}b").is_err());
    }
}
