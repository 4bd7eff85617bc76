//! Stamps the git commit into the binary for `hop_build_info`: `HOP_BUILD_COMMIT` when set,
//! else `git rev-parse`, else "unknown".

use std::process::Command;

fn main() {
    println!("cargo:rerun-if-env-changed=HOP_BUILD_COMMIT");
    // Image builds have no .git: they pass the commit in instead.
    if let Some(commit) = std::env::var("HOP_BUILD_COMMIT")
        .ok()
        .filter(|c| !c.is_empty())
    {
        println!("cargo:rustc-env=HOP_BUILD_COMMIT={commit}");
        return;
    }
    let commit = Command::new("git")
        .args(["rev-parse", "--short=12", "HEAD"])
        .output()
        .ok()
        .filter(|out| out.status.success())
        .and_then(|out| String::from_utf8(out.stdout).ok())
        .map(|text| text.trim().to_owned())
        .filter(|text| !text.is_empty())
        .unwrap_or_else(|| "unknown".into());
    println!("cargo:rustc-env=HOP_BUILD_COMMIT={commit}");
    println!("cargo:rerun-if-changed=.git/HEAD");
    // On a branch HEAD names a ref and stays the same across commits: the ref file (or, once
    // git has packed it, packed-refs) is what moves.
    if let Some(branch) = std::fs::read_to_string(".git/HEAD").ok().and_then(|head| {
        head.strip_prefix("ref: ")
            .map(|name| name.trim().to_owned())
    }) {
        // A path that does not exist would make cargo run this script on every build.
        for path in [format!(".git/{branch}"), ".git/packed-refs".to_owned()] {
            if std::path::Path::new(&path).exists() {
                println!("cargo:rerun-if-changed={path}");
            }
        }
    }
    println!("cargo:rerun-if-changed=migrations");
}
