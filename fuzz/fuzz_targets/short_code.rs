//! `ShortCode::parse` on arbitrary text. It is the gate in front of every cache and database
//! lookup, so it must never panic and must accept exactly 1 to 32 characters of
//! `[A-Za-z0-9_-]`, keeping them as given.

#![no_main]

use hop_fuzz::domain::ShortCode;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(raw) = std::str::from_utf8(data) else {
        return;
    };

    let valid = (1..=ShortCode::MAX_LEN).contains(&raw.len())
        && raw
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
    match ShortCode::parse(raw) {
        Ok(code) => {
            assert!(valid, "accepted {raw:?}");
            assert_eq!(code.as_str(), raw);
        }
        Err(_) => assert!(!valid, "refused {raw:?}"),
    }
});
