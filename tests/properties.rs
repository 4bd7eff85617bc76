//! Properties of the validated values at hop's edge, checked on generated inputs.
//!
//! The unit tests beside `ShortCode` and `TargetUrl` pin chosen examples; these tests state
//! what must hold for every input, and let proptest look for the input where it does not.
//! Run with `cargo test --test properties` (a few seconds). A failing case is shrunk and
//! printed; proptest also saves its seed under `proptest-regressions/` so the next run
//! replays it first.

use hop::domain::{Origin, ShortCode, TargetUrl};
use proptest::prelude::*;

/// Paths hop serves itself. A generated code must never equal one of them in any letter case;
/// the list mirrors the routes of `src/api` and the contract's examples.
const RESERVED: &[&str] = &[
    "health", "ready", "metrics", "users", "urls", "events", "openapi", "docs", "static",
    "favicon", "robots", "admin", "api",
];

fn is_code_byte(byte: u8) -> bool {
    byte.is_ascii_alphanumeric() || byte == b'_' || byte == b'-'
}

/// Inputs near the border of what a short code is: mostly code characters, with some of the
/// characters a path may carry (`/`, `.`, `%`, space, non-ASCII) mixed in.
fn code_like() -> impl Strategy<Value = String> {
    prop_oneof![
        "[A-Za-z0-9_-]{0,40}",
        "[A-Za-z0-9_./% é-]{0,40}",
        any::<String>(),
    ]
}

/// Anything that might be typed or pasted as a link target, most of it starting like one.
fn url_like() -> impl Strategy<Value = String> {
    let scheme = prop_oneof![
        3 => "https?",
        1 => "HTTP|HtTpS|ftp|javascript|file",
    ];
    let host = "[A-Za-z0-9.-]{0,20}|\\[[0-9a-f:]{2,12}\\]|[a-zé]{1,8}\\.[a-z]{2,4}";
    let port = prop_oneof![Just(String::new()), "(:[0-9]{0,6})"];
    let rest = prop_oneof![
        Just(String::new()),
        "[/?#][ -~]{0,60}",
        "[/?#]\\PC{0,30}",
        "[/?#].{0,30}",
        "[/?#][\\x00-\\x1f\\x7fa-z]{0,20}",
    ];
    // Leading and trailing blanks and control characters, as pasted text often has.
    let edge = "[ \\t\\r\\n\\x00\\x0b]{0,2}";
    prop_oneof![
        4 => (edge, scheme, "://|://|:/|:", host, port, rest, edge)
            .prop_map(|(a, s, sep, h, p, r, z)| format!("{a}{s}{sep}{h}{p}{r}{z}")),
        1 => any::<String>(),
    ]
}

/// One path segment of an already valid URL: unreserved and sub-delimiter characters, `+`
/// and `%xx` escapes in either letter case. Dot segments (`.`, `..`, and their `%2e` forms)
/// are left out because the URL standard resolves them, as it should.
fn path_segment() -> impl Strategy<Value = String> {
    proptest::collection::vec(
        prop_oneof![
            3 => "[A-Za-z0-9_~!$&'()*+,;=:@-]",
            1 => "%[0-9A-Fa-f]{2}",
            1 => Just(".".to_owned()),
        ],
        1..8,
    )
    .prop_map(|parts| parts.concat())
    .prop_filter("dot segments are resolved by design", |segment| {
        let decoded = segment.to_ascii_lowercase().replace("%2e", ".");
        decoded != "." && decoded != ".."
    })
}

/// A query key or value: characters a query may carry unescaped, `+`, and `%xx` escapes.
fn query_word() -> impl Strategy<Value = String> {
    proptest::collection::vec(
        prop_oneof![
            3 => "[A-Za-z0-9_.~!$()*+,;:@/?-]",
            1 => "%[0-9A-Fa-f]{2}",
        ],
        0..6,
    )
    .prop_map(|parts| parts.concat())
}

/// A URL that is already in normal form: lower-case scheme and host, no default port,
/// nothing that needs escaping. Keys may repeat, in any order.
fn normal_url() -> impl Strategy<Value = String> {
    let scheme = prop_oneof!["http", "https"];
    // At most one hyphen per label: `xn--` would make it a punycode label, checked by IDNA.
    let host = "[a-z][a-z0-9]{0,8}(-[a-z0-9]{1,4})?(\\.[a-z][a-z0-9]{0,6}){1,3}";
    let port = prop_oneof![
        Just(String::new()),
        (1024u16..65535).prop_map(|p| format!(":{p}"))
    ];
    let path = proptest::collection::vec(path_segment(), 0..5);
    let pairs = proptest::collection::vec((query_word(), query_word()), 0..6);
    let fragment = prop_oneof![Just(None), query_word().prop_map(Some)];
    (scheme, host, port, path, pairs, fragment).prop_map(
        |(scheme, host, port, path, pairs, fragment)| {
            let mut url = format!("{scheme}://{host}{port}/{}", path.join("/"));
            if !pairs.is_empty() {
                let query: Vec<String> = pairs.iter().map(|(k, v)| format!("{k}={v}")).collect();
                url.push('?');
                url.push_str(&query.join("&"));
            }
            if let Some(fragment) = fragment {
                url.push('#');
                url.push_str(&fragment);
            }
            url
        },
    )
}

#[test]
fn generated_codes_are_six_alphanumerics_and_never_a_reserved_word() {
    // A draw equal to a reserved word has odds near 4e-9, so sampling shows the shape and
    // that the rejection never lets a reserved word out, not that the rejection works: the
    // unit test beside `is_reserved` covers that.
    for _ in 0..20_000 {
        let code = ShortCode::generate();
        let text = code.as_str();

        assert_eq!(text.len(), ShortCode::GENERATED_LEN, "{text}");
        assert!(text.bytes().all(|b| b.is_ascii_alphanumeric()), "{text}");
        assert!(
            !RESERVED.iter().any(|w| w.eq_ignore_ascii_case(text)),
            "{text}"
        );
        assert_eq!(ShortCode::parse(text).unwrap(), code);
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1_000))]

    #[test]
    fn every_accepted_code_is_one_to_32_code_characters(raw in code_like()) {
        if let Ok(code) = ShortCode::parse(&raw) {
            let text = code.as_str();
            prop_assert!((1..=ShortCode::MAX_LEN).contains(&text.len()), "{text:?}");
            prop_assert!(text.bytes().all(is_code_byte), "{text:?}");
            prop_assert_eq!(text, raw.as_str());
        }
    }

    #[test]
    fn every_string_of_code_characters_up_to_32_is_accepted_as_is(raw in "[A-Za-z0-9_-]{1,32}") {
        let code = ShortCode::parse(&raw);

        prop_assert_eq!(code.map(|c| c.as_str().to_owned()), Ok(raw));
    }

    #[test]
    fn the_normal_form_is_a_fixed_point_free_of_control_characters(raw in url_like()) {
        let Ok(url) = TargetUrl::parse(&raw, &[]) else {
            return Ok(());
        };
        let text = url.as_str();

        prop_assert!(text.starts_with("http://") || text.starts_with("https://"), "{text:?}");
        prop_assert!(text.len() <= TargetUrl::MAX_BYTES);
        prop_assert!(!text.bytes().any(|b| b.is_ascii_control()), "{text:?}");
        prop_assert!(!text.contains(' '), "{text:?}");
        let again = TargetUrl::parse(text, &[]).map(TargetUrl::into_string);
        prop_assert_eq!(again.as_deref(), Ok(text));
    }

}

proptest! {
    // Building a URL from parts costs more per case; proptest's default 256 cases suffice.

    #[test]
    fn a_url_already_in_normal_form_is_kept_byte_for_byte(raw in normal_url()) {
        // Query order, repeated keys, `+` and `%xx` escapes (either case) are the sender's.
        let kept = TargetUrl::parse(&raw, &[]).map(TargetUrl::into_string);

        prop_assert_eq!(kept, Ok(raw));
    }

    #[test]
    fn letter_case_of_scheme_and_host_and_the_default_port_do_not_matter(
        raw in normal_url(),
        upper in any::<bool>(),
    ) {
        let (scheme, rest) = raw.split_once("://").unwrap();
        let (authority, tail) = rest.split_once('/').unwrap();
        let host = authority.split(':').next().unwrap();
        let port = if scheme == "https" { 443 } else { 80 };
        let shouted = if upper { host.to_uppercase() } else { host.to_owned() };
        let variant = format!("{}://{shouted}:{port}/{tail}", scheme.to_uppercase());

        let kept = TargetUrl::parse(&variant, &[]).map(TargetUrl::into_string);

        prop_assert_eq!(kept, Ok(format!("{scheme}://{host}/{tail}")));
    }

    #[test]
    fn a_target_on_the_requests_own_host_and_port_is_refused(
        raw in normal_url(),
        port in 1024u16..65535,
    ) {
        let (scheme, rest) = raw.split_once("://").unwrap();
        let (authority, tail) = rest.split_once('/').unwrap();
        let host = authority.split(':').next().unwrap();
        let own = [Origin::from_host_header(&format!("{host}:{port}")).unwrap()];
        let pointing_home = format!("{scheme}://{}:{port}/{tail}", host.to_uppercase());

        prop_assert!(TargetUrl::parse(&pointing_home, &own).is_err());
    }
}
