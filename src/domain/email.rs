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

/// The contract's `local@domain.tld`, read literally (so `x@y.z` passes), in the unquoted
/// form mail addresses take in practice:
/// - one `@`;
/// - a local part of letters, digits and ``!#$%&'*+-/=?^_`{|}~``, in dot-separated runs
///   (no leading, trailing or doubled dot);
/// - a domain of at least two labels of letters and digits (any script) and inner hyphens.
///
/// Quoted local parts, address literals (`a@[127.0.0.1]`), and characters that change
/// how text reads (zero-width, direction marks) are refused. Whether a top-level domain exists,
/// or the address receives mail, is not this type's business.
fn has_address_shape(address: &str) -> bool {
    let Some((local, domain)) = address.split_once('@') else {
        return false;
    };
    let local_char = |c: char| c.is_alphanumeric() || "!#$%&'*+-/=?^_`{|}~".contains(c);
    let local_ok = local
        .split('.')
        .all(|run| !run.is_empty() && run.chars().all(local_char));
    let labels: Vec<&str> = domain.split('.').collect();
    let label_ok = |label: &&str| {
        !label.is_empty()
            && !label.starts_with('-')
            && !label.ends_with('-')
            && label.chars().all(|c| c.is_alphanumeric() || c == '-')
    };
    local_ok && labels.len() >= 2 && labels.iter().all(label_ok)
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
    fn tags_dots_hyphens_digits_and_other_scripts_are_accepted() {
        for good in [
            "a.b+tag@sub.example.co.uk",
            "o'neil@x-y.io",
            "ä@ü.de",
            "user@127.0.0.1",
            "a%b@c.d",
        ] {
            assert!(Email::parse(good).is_ok(), "{good} should be accepted");
        }
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
            "a@b.c/x",
            "a@b.c:80",
            "<a@b.c>",
            "a@-b.c",
            "a@b-.c",
            "a@b_c.d",
            "a@[127.0.0.1]",
            ".a@b.c",
            "a.@b.c",
            "a..b@c.d",
            "a@\u{200b}b.c",
            "a@b.c\u{202e}",
            "\"a b\"@c.d",
        ] {
            assert!(Email::parse(bad).is_err(), "{bad} should be refused");
        }
    }
}
