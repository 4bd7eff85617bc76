use url::Url;

use super::Invalid;

/// A link target: an absolute `http`/`https` URL with a host, kept in the WHATWG normal form
/// (lower-case scheme and host, punycode host, default port dropped, stray characters
/// percent-encoded, everything else as sent). The `url` crate implements that standard, so
/// the normal form is its serialization.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TargetUrl(String);

impl TargetUrl {
    pub const MAX_BYTES: usize = 2048;

    /// Parses and normalizes `raw`, refusing targets on any of hop's own `origins`.
    pub fn parse(raw: &str, origins: &[Origin]) -> Result<Self, Invalid> {
        let trimmed = raw.trim();
        if trimmed.is_empty() {
            return Err(Invalid::new("is required"));
        }
        if trimmed.len() > Self::MAX_BYTES {
            return Err(Invalid::new("must be at most 2048 bytes"));
        }
        let url = Url::parse(trimmed)
            .map_err(|_| Invalid::new("must be an absolute http or https URL"))?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err(Invalid::new("must use http or https"));
        }
        let Some(host) = url.host_str().filter(|host| !host.is_empty()) else {
            return Err(Invalid::new("must have a host"));
        };
        if origins
            .iter()
            .any(|origin| origin.matches(host, url.port_or_known_default()))
        {
            return Err(Invalid::new(
                "must not point at this service's own short links",
            ));
        }
        let normal = String::from(url);
        if normal.len() > Self::MAX_BYTES {
            return Err(Invalid::new("must be at most 2048 bytes once normalized"));
        }
        Ok(Self(normal))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn into_string(self) -> String {
        self.0
    }
}

/// One host (and maybe port) that hop answers on: its configured public URL, or the `Host`
/// header of the request at hand.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Origin {
    host: String,
    /// `None` when the origin came without a port (a `Host` header behind a proxy): then any
    /// default port of the host is hop's.
    port: Option<u16>,
}

impl Origin {
    /// From a `Host` header value such as `hop.example:8080` or `[::1]:8080`.
    pub fn from_host_header(value: &str) -> Option<Self> {
        let url = Url::parse(&format!("http://{}/", value.trim())).ok()?;
        let host = url.host_str()?.to_owned();
        Some(Self {
            host,
            port: url.port(),
        })
    }

    /// From the configured public base URL.
    pub fn from_url(url: &Url) -> Option<Self> {
        let host = url.host_str()?.to_owned();
        Some(Self {
            host,
            port: url.port_or_known_default(),
        })
    }

    fn matches(&self, host: &str, port: Option<u16>) -> bool {
        if !self.host.eq_ignore_ascii_case(host) {
            return false;
        }
        match self.port {
            Some(own) => port == Some(own),
            None => matches!(port, Some(80) | Some(443)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn normal(raw: &str) -> String {
        TargetUrl::parse(raw, &[]).unwrap().into_string()
    }

    #[test]
    fn scheme_and_host_are_lower_cased_and_the_default_port_dropped() {
        assert_eq!(
            normal("HTTPS://Example.COM:443/A/b"),
            "https://example.com/A/b"
        );
    }

    #[test]
    fn an_international_host_becomes_punycode() {
        assert_eq!(normal("https://bücher.de/x"), "https://xn--bcher-kva.de/x");
    }

    #[test]
    fn spaces_and_non_ascii_are_percent_encoded_and_the_rest_kept() {
        assert_eq!(
            normal("https://x.io/a b/é?q=1+2&q=%41#frag"),
            "https://x.io/a%20b/%C3%A9?q=1+2&q=%41#frag"
        );
    }

    #[test]
    fn non_web_and_relative_targets_are_refused() {
        for bad in [
            "hello",
            "example.com",
            "ftp://x",
            "javascript:alert(1)",
            "http://",
            "",
        ] {
            assert!(
                TargetUrl::parse(bad, &[]).is_err(),
                "{bad} should be refused"
            );
        }
    }

    #[test]
    fn a_target_longer_than_2048_bytes_is_refused() {
        let long = format!("https://x.io/{}", "a".repeat(2048));
        assert!(TargetUrl::parse(&long, &[]).is_err());
    }

    #[test]
    fn control_characters_never_survive_into_the_target() {
        let url = normal("https://x.io/a\r\nSet-Cookie:x");
        assert!(!url.bytes().any(|b| b.is_ascii_control()));
    }

    #[test]
    fn a_target_on_the_request_host_is_refused() {
        let own = [Origin::from_host_header("127.0.0.1:8080").unwrap()];
        assert!(TargetUrl::parse("http://127.0.0.1:8080/WqxP6K", &own).is_err());
        assert!(TargetUrl::parse("http://127.0.0.1:9999/WqxP6K", &own).is_ok());
    }

    #[test]
    fn a_target_on_the_public_url_is_refused_on_its_default_port() {
        let public = Url::parse("https://hop.example").unwrap();
        let own = [Origin::from_url(&public).unwrap()];
        assert!(TargetUrl::parse("https://HOP.example/abc", &own).is_err());
        assert!(TargetUrl::parse("https://other.example/abc", &own).is_ok());
    }
}
