//! `TargetUrl::parse` on arbitrary text. It must never panic, and whatever it accepts must be
//! a safe `Location` header: `http(s)://`, at most 2048 bytes, no control characters (no
//! CR/LF to split a response), and already in normal form (parsing it again changes nothing).
//! A target refused only because of hop's own origin must really be on that origin.

#![no_main]

use hop_fuzz::domain::{Origin, TargetUrl};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(raw) = std::str::from_utf8(data) else {
        return;
    };

    let Ok(url) = TargetUrl::parse(raw, &[]) else {
        return;
    };
    let text = url.as_str();
    assert!(
        text.starts_with("http://") || text.starts_with("https://"),
        "{text:?}"
    );
    assert!(text.len() <= TargetUrl::MAX_BYTES, "{} bytes", text.len());
    assert!(
        !text.bytes().any(|b| b.is_ascii_control() || b == b' '),
        "{text:?}"
    );
    let again = TargetUrl::parse(text, &[]).map(TargetUrl::into_string);
    assert_eq!(
        again.as_deref(),
        Ok(text),
        "normal form is not a fixed point"
    );

    let own = Origin::from_host_header("hop.example:8080").unwrap();
    if TargetUrl::parse(raw, &[own]).is_err() {
        let parsed = url::Url::parse(text).unwrap();
        assert_eq!(parsed.host_str(), Some("hop.example"), "{text:?}");
        assert_eq!(parsed.port_or_known_default(), Some(8080), "{text:?}");
    }
});
