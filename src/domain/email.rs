use super::Invalid;

/// An email address of the `local@domain.tld` shape. Uniqueness ignores letter case, so
/// [`Email::key`] is what the store compares; the address itself is kept as written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Email(String);

impl Email {
    pub const MAX_BYTES: usize = 254;

    pub fn parse(raw: &str) -> Result<Self, Invalid> {
        let trimmed = raw.trim();
        if trimmed.is_empty() {
            return Err(Invalid::new("is required"));
        }
        if trimmed.len() > Self::MAX_BYTES || !has_address_shape(trimmed) {
            return Err(Invalid::new("must look like local@domain.tld"));
        }
        Ok(Self(trimmed.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The form uniqueness is decided on.
    pub fn key(&self) -> String {
        self.0.to_lowercase()
    }
}

/// One `@`, a non-empty local part, and a domain of at least two non-empty labels: the
/// contract's `local@domain.tld`, read literally, so `x@y.z` passes. Whether a top-level
/// domain exists, or the address receives mail, is not this type's business.
fn has_address_shape(address: &str) -> bool {
    if address.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return false;
    }
    let Some((local, domain)) = address.split_once('@') else {
        return false;
    };
    if local.is_empty() || domain.contains('@') {
        return false;
    }
    let labels: Vec<&str> = domain.split('.').collect();
    labels.len() >= 2 && labels.iter().all(|label| !label.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_plain_address_is_accepted_as_written() {
        assert_eq!(
            Email::parse(" Ada@Example.com ").unwrap().as_str(),
            "Ada@Example.com"
        );
    }

    #[test]
    fn the_shortest_local_at_domain_dot_tld_is_accepted() {
        assert_eq!(Email::parse("x@y.z").unwrap().as_str(), "x@y.z");
    }

    #[test]
    fn the_key_ignores_case() {
        assert_eq!(
            Email::parse("Ada@Example.COM").unwrap().key(),
            "ada@example.com"
        );
    }

    #[test]
    fn shapes_without_a_domain_dot_or_local_part_are_refused() {
        for bad in [
            "ada",
            "ada@",
            "@example.com",
            "ada@example",
            "ada@example.",
            "a b@x.io",
            "ada@@x.io",
            "ada@.x.io",
        ] {
            assert!(Email::parse(bad).is_err(), "{bad} should be refused");
        }
    }
}
