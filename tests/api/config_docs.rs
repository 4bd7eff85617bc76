//! Every variable the code reads is documented in `docs/configuration.md`.

use std::{fs, path::Path};

use hop::config::Config;

/// Quoted upper-case names that start like a variable hop reads, found in the sources.
fn variables_named_in(dir: &Path, found: &mut Vec<String>) {
    for entry in fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            variables_named_in(&path, found);
            continue;
        }
        let text = fs::read_to_string(&path).unwrap();
        for piece in text.split('"').skip(1).step_by(2) {
            let is_name = piece.len() > 4
                && piece
                    .bytes()
                    .all(|b| b.is_ascii_uppercase() || b == b'_' || b.is_ascii_digit());
            if is_name
                && (piece.starts_with("HOP_") || piece.ends_with("_URL") || piece == "RUST_LOG")
            {
                found.push(piece.to_owned());
            }
        }
    }
}

#[test]
fn every_variable_the_code_reads_is_in_the_configuration_document() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let document = fs::read_to_string(root.join("docs/configuration.md")).unwrap();
    let mut names = Config::variable_names();
    variables_named_in(&root.join("src"), &mut names);
    names.push("RUST_LOG".into());

    let missing: Vec<&String> = names
        .iter()
        .filter(|name| !document.contains(&format!("`{name}`")))
        .collect();

    assert!(
        missing.is_empty(),
        "not in docs/configuration.md: {missing:?}"
    );
    assert!(
        names.contains(&"HOP_CONFIG".to_string()),
        "the scan finds quoted names"
    );
}

#[test]
fn the_example_configuration_file_parses() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let config = Config::from_toml_file(&root.join("docs/hop.example.toml")).unwrap();
    assert_eq!(config.listen.to_string(), "0.0.0.0:8080");
    assert_eq!(config.click_queue, 10_000);
}
