//! The `hop` command run as a child process, the way operators and containers run it: settings
//! that stop it, `migrate`, `import` with rejected rows, `serve` with its health check, and a
//! clean stop on SIGTERM.
//!
//! Every child keeps the test's `LLVM_PROFILE_FILE` and ends on its own or on SIGTERM, never
//! SIGKILL, so that `scripts/ci/coverage` counts the code it ran (a killed process writes no
//! profile).

use std::{
    io::{BufRead, BufReader},
    net::TcpListener,
    path::Path,
    process::{Child, Command, Output, Stdio},
    sync::mpsc,
    thread,
    time::{Duration, Instant},
};

use serde_json::Value;

/// The `hop` binary with an empty environment but for the coverage profile path.
fn hop() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_hop"));
    command.env_clear();
    if let Some(profile) = std::env::var_os("LLVM_PROFILE_FILE") {
        command.env("LLVM_PROFILE_FILE", profile);
    }
    command.env("HOP_LOG", "warn");
    command
}

fn run(command: &mut Command) -> Output {
    command.output().expect("hop runs")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// `url` for a fresh SQLite file in `dir`.
/// A folder `export` in `dir` holding the named CSV files.
fn export(dir: &Path, files: &[(&str, &str)]) -> std::path::PathBuf {
    let data = dir.join("export");
    std::fs::create_dir(&data).unwrap();
    for (name, body) in files {
        std::fs::write(data.join(name), body).unwrap();
    }
    data
}

fn sqlite(dir: &Path) -> String {
    format!("sqlite://{}", dir.join("hop.db").display())
}

/// Each line of `stdout` with its runs of spaces folded into one.
fn folded_lines(stdout: &[u8]) -> Vec<String> {
    text(stdout)
        .lines()
        .map(|line| line.split_whitespace().collect::<Vec<_>>().join(" "))
        .collect()
}

#[test]
fn a_setting_that_does_not_parse_stops_hop_with_exit_code_2() {
    let out = run(hop().arg("migrate").env("HOP_LISTEN", "not-an-address"));

    assert_eq!(out.status.code(), Some(2));
    let stderr = text(&out.stderr);
    assert!(
        stderr.starts_with("hop: invalid configuration:"),
        "{stderr}"
    );
    assert!(
        stderr.contains("invalid socket address syntax for key \"LISTEN\""),
        "{stderr}"
    );
}

#[test]
fn a_misspelled_setting_stops_hop_with_exit_code_2() {
    let out = run(hop().arg("migrate").env("HOP_LISTEN_PORT", "8080"));

    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("listen_port"), "{out:?}");
}

#[test]
fn a_missing_configuration_file_stops_hop_with_exit_code_2() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("absent.toml");

    let out = run(hop().arg("migrate").env("HOP_CONFIG", &missing));

    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("absent.toml"), "{out:?}");
}

#[test]
fn migrate_creates_the_schema_and_a_second_run_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();

    let first = run(hop().arg("migrate").env("DATABASE_URL", sqlite(dir.path())));
    let second = run(hop().arg("migrate").env("DATABASE_URL", sqlite(dir.path())));

    for out in [first, second] {
        assert_eq!(out.status.code(), Some(0), "{out:?}");
        assert_eq!(text(&out.stdout), "migrations applied\n");
    }
    assert!(dir.path().join("hop.db").is_file());
}

/// A one-off command says why it failed once, in a line for people (its log shares stderr).
#[test]
fn a_database_url_of_another_kind_fails_with_exit_code_1() {
    let out = run(hop()
        .arg("migrate")
        .env("DATABASE_URL", "mysql://127.0.0.1/hop"));

    assert_eq!(out.status.code(), Some(1));
    let stderr = text(&out.stderr);
    assert_eq!(
        stderr.trim(),
        "hop: cannot open the database: DATABASE_URL must start with sqlite:// or postgres://",
    );
}

/// A one-off command that cannot reach PostgreSQL says which server (never the password) and
/// gives up at once: waiting is for `serve`.
#[test]
fn a_one_off_command_names_the_postgresql_server_it_could_not_reach() {
    // Nothing listens on port 1 of the loopback address.
    let out = run(hop()
        .arg("migrate")
        .env("HOP_LOG", "warn")
        .env("DATABASE_URL", "postgres://hop:s3cret@127.0.0.1:1/hopdb"));

    assert_eq!(out.status.code(), Some(1));
    let stderr = text(&out.stderr);
    assert!(
        stderr.starts_with("hop: cannot open the database: PostgreSQL at 127.0.0.1:1/hopdb: "),
        "{stderr}"
    );
    assert!(!stderr.contains("s3cret"), "{stderr}");
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
}

/// `serve` waits for a database that is not answering yet, but not for one that cannot work:
/// a wrong scheme, an empty address, a missing database file folder (named in the message), a
/// PostgreSQL database that does not exist or TLS that this build cannot do stop it at once,
/// without a "retrying" warning.
#[tokio::test]
async fn serve_stops_at_once_when_the_database_address_cannot_work() {
    use sqlx::Connection;

    let dir = tempfile::tempdir().unwrap();
    let folder_missing = format!(
        "sqlite://{}",
        dir.path().join("no-such-folder/hop.db").display()
    );
    let mut cases = vec![
        (
            "mysql://127.0.0.1/hop".to_string(),
            "DATABASE_URL must start with sqlite:// or postgres://".to_string(),
        ),
        (
            folder_missing.clone(),
            format!(
                "SQLite file {}: error returned from database: (code: 14) unable to open \
                 database file",
                folder_missing.trim_start_matches("sqlite://")
            ),
        ),
        (
            String::new(),
            "DATABASE_URL is set but empty: unset it for the embedded sqlite://hop.db".to_string(),
        ),
    ];
    let admin_url = std::env::var("TEST_DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into());
    let reachable = sqlx::PgConnection::connect(&admin_url).await.is_ok();
    if reachable {
        let mut url = url::Url::parse(&admin_url).unwrap();
        url.set_path("/hop_cli_no_such_database");
        cases.push((
            url.to_string(),
            "database \"hop_cli_no_such_database\" does not exist".to_string(),
        ));
        let mut url = url::Url::parse(&admin_url).unwrap();
        url.set_query(Some("sslmode=require"));
        cases.push((
            url.to_string(),
            "SQLx was built without TLS support".to_string(),
        ));
    } else {
        assert!(
            std::env::var("TEST_REQUIRE_POSTGRES").is_err(),
            "PostgreSQL at {admin_url} is required"
        );
        eprintln!("SKIPPED (PostgreSQL part): {admin_url} unreachable");
    }

    for (url, said) in cases {
        let listen = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap();
        let out = run(hop()
            .arg("serve")
            .env("HOP_LISTEN", listen.to_string())
            .env("DATABASE_URL", &url));
        let stderr = text(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{url}: {stderr}");
        assert!(stderr.contains(&said), "{url}: {stderr}");
        assert!(!stderr.contains("retrying"), "{url}: {stderr}");
    }
}

#[test]
fn import_names_each_rejected_row_by_line_and_exits_3() {
    let dir = tempfile::tempdir().unwrap();
    let data = export(
        dir.path(),
        &[(
            "users.csv",
            "id,username,email,created_at\n\
             1,ada,ada@example.com,2025-01-02 03:04:05\n\
             2,bob,not-an-email,2025-01-02 03:04:05\n",
        )],
    );
    let import = || {
        run(hop()
            .arg("import")
            .arg(&data)
            .env("DATABASE_URL", sqlite(dir.path())))
    };

    let first = import();
    let again = import();

    assert_eq!(first.status.code(), Some(3), "{first:?}");
    let lines = folded_lines(&first.stdout);
    assert!(
        lines[0].starts_with("users.csv read 2 created 1 updated 0 unchanged 0 rejected 1 "),
        "{lines:?}"
    );
    assert!(lines[1].starts_with("users.csv line 3: email"), "{lines:?}");

    assert_eq!(again.status.code(), Some(3), "{again:?}");
    let lines = folded_lines(&again.stdout);
    assert!(
        lines[0].starts_with("users.csv read 2 created 0 updated 0 unchanged 1 rejected 1 "),
        "{lines:?}"
    );
    assert_eq!(
        lines.last().unwrap(),
        "nothing changed: every valid row was already imported as it is"
    );
}

#[test]
fn import_of_named_files_without_rejects_exits_0() {
    let dir = tempfile::tempdir().unwrap();
    let users = dir.path().join("people.csv");
    std::fs::write(
        &users,
        "id,username,email,created_at\n1,ada,ada@example.com,2025-01-02 03:04:05\n",
    )
    .unwrap();

    let out = run(hop()
        .args(["import", "--users"])
        .arg(&users)
        .env("DATABASE_URL", sqlite(dir.path())));

    assert_eq!(out.status.code(), Some(0), "{out:?}");
    let lines = folded_lines(&out.stdout);
    assert_eq!(lines.len(), 1, "{lines:?}");
    assert!(
        lines[0].starts_with("people.csv read 1 created 1 updated 0 unchanged 0 rejected 0 "),
        "{lines:?}"
    );
}

/// A file that fails stops the import, and the files committed before it are still reported,
/// rejected rows included: they are in the database.
#[test]
fn an_import_stopped_by_a_bad_file_still_reports_the_files_before_it() {
    let dir = tempfile::tempdir().unwrap();
    let data = export(
        dir.path(),
        &[
            (
                "users.csv",
                "id,username,email,created_at\n\
                 500,mixa,mixa@example.com,2024-11-14 04:11:00\n\
                 501,,bad@example.com,2024-11-14 04:11:00\n",
            ),
            ("urls.csv", "user_id,id,short_code\n"),
        ],
    );

    let out = run(hop()
        .arg("import")
        .arg(&data)
        .env("HOP_LOG", "warn")
        .env("DATABASE_URL", sqlite(dir.path())));

    assert_eq!(out.status.code(), Some(1));
    let stdout = text(&out.stdout);
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len(), 2, "{stdout}");
    assert!(
        lines[0].starts_with("users.csv    read        2  created        1"),
        "{stdout}"
    );
    assert_eq!(lines[1], "  users.csv line 3: username is required");
    assert!(
        text(&out.stderr).contains("urls.csv was not imported: wrong header"),
        "{out:?}"
    );
}

#[test]
fn import_of_a_folder_without_export_files_fails_with_exit_code_1() {
    let dir = tempfile::tempdir().unwrap();

    let out = run(hop()
        .arg("import")
        .arg(dir.path())
        .env("DATABASE_URL", sqlite(dir.path())));

    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("holds none of users.csv, urls.csv, events.csv"),
        "{out:?}"
    );
}

/// A path that is no folder gets one line that says what it is instead.
#[test]
fn importing_a_missing_folder_or_a_file_says_which() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("no-such-dir");
    let file = dir.path().join("users.csv");
    std::fs::write(&file, "id,username,email,created_at\n").unwrap();
    let cases = [
        (
            &missing,
            format!("hop: {} is not a directory", missing.display()),
        ),
        (
            &file,
            format!(
                "hop: {} is a file: name its folder, or the file with --users, --urls or --events",
                file.display()
            ),
        ),
    ];

    for (path, said) in cases {
        let out = run(hop()
            .arg("import")
            .arg(path)
            .env("DATABASE_URL", sqlite(dir.path())));

        assert_eq!(out.status.code(), Some(1));
        assert_eq!(text(&out.stderr).trim(), said);
    }
}

/// An empty list says so (on stderr, so that a script reading stdout still reads no keys).
#[test]
fn listing_keys_when_there_are_none_says_the_api_is_open() {
    let dir = tempfile::tempdir().unwrap();

    let out = run(hop()
        .args(["keys", "list"])
        .env("HOP_LOG", "warn")
        .env("DATABASE_URL", sqlite(dir.path())));

    assert_eq!(out.status.code(), Some(0), "{out:?}");
    assert_eq!(text(&out.stdout), "");
    assert_eq!(
        text(&out.stderr).trim(),
        "no API keys: the API is open to every client"
    );
}

#[test]
fn serve_fails_with_exit_code_1_when_its_port_is_taken() {
    let dir = tempfile::tempdir().unwrap();
    let taken = TcpListener::bind("127.0.0.1:0").unwrap();
    let address = taken.local_addr().unwrap().to_string();

    let out = run(hop()
        .arg("serve")
        .env("HOP_LISTEN", &address)
        .env("DATABASE_URL", sqlite(dir.path())));

    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains(&format!("cannot listen on {address}")),
        "{out:?}"
    );
}

#[test]
fn the_healthcheck_fails_when_nothing_answers_or_the_address_is_malformed() {
    // Port 1 of loopback has no listener here.
    let closed = run(hop().args(["healthcheck", "127.0.0.1:1"]));
    let malformed = run(hop().args(["healthcheck", "not-an-address"]));

    assert_eq!(closed.status.code(), Some(1));
    assert_eq!(malformed.status.code(), Some(1));
    assert!(
        text(&closed.stderr).starts_with("hop healthcheck: 127.0.0.1:1 (host:port): "),
        "{closed:?}"
    );
    assert_eq!(
        text(&malformed.stderr).trim(),
        "hop healthcheck: not-an-address (host:port): invalid socket address syntax"
    );
}

#[test]
fn import_with_nothing_named_is_a_usage_error() {
    let dir = tempfile::tempdir().unwrap();

    let out = run(hop().arg("import").env("DATABASE_URL", sqlite(dir.path())));

    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("nothing to import: name a directory"),
        "{out:?}"
    );
    assert!(!text(&out.stdout).contains("nothing changed"), "{out:?}");
}

/// A `hop serve` child and the addresses it logged.
struct Served {
    child: Child,
    addresses: Vec<String>,
    log: mpsc::Receiver<String>,
}

/// Starts `hop serve` with a main and an admin listener on ports the OS picks, and returns
/// once both logged their address.
fn serve(dir: &Path) -> Served {
    let mut child = hop()
        .arg("serve")
        .env("HOP_LISTEN", "127.0.0.1:0")
        .env("HOP_ADMIN_LISTEN", "127.0.0.1:0")
        .env("HOP_LOG", "info")
        .env("DATABASE_URL", sqlite(dir))
        .stdout(Stdio::piped())
        .spawn()
        .expect("hop starts");
    let (send, log) = mpsc::channel();
    let stdout = child.stdout.take().expect("stdout");
    thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            let entry: Value = serde_json::from_str(&line).unwrap_or_default();
            let message = entry["fields"]["message"].as_str().unwrap_or("").to_owned();
            let address = entry["fields"]["address"].as_str().unwrap_or("");
            if send
                .send(format!("{message} {address}").trim().to_owned())
                .is_err()
            {
                break;
            }
        }
    });
    let mut addresses = Vec::new();
    while addresses.len() < 2 {
        let line = log
            .recv()
            .expect("hop logged both listeners before exiting");
        if let Some(address) = line.strip_prefix("listening ") {
            addresses.push(address.to_owned());
        }
    }
    Served {
        child,
        addresses,
        log,
    }
}

/// Sends SIGTERM, as orchestrators do, and waits up to `limit` for the exit.
fn terminate(child: &mut Child, limit: Duration) -> Option<std::process::ExitStatus> {
    let sent = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .expect("kill runs");
    assert!(sent.success());
    let deadline = Instant::now() + limit;
    while Instant::now() < deadline {
        if let Some(status) = child.try_wait().expect("wait") {
            return Some(status);
        }
        thread::sleep(Duration::from_millis(20));
    }
    None
}

#[test]
fn serve_answers_its_healthcheck_on_both_listeners_and_stops_cleanly_on_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    let mut served = serve(dir.path());

    let checks: Vec<Option<i32>> = served
        .addresses
        .iter()
        .map(|address| run(hop().args(["healthcheck", address])).status.code())
        .collect();
    let status = terminate(&mut served.child, Duration::from_secs(15));

    assert_eq!(checks, [Some(0), Some(0)]);
    let Some(status) = status else {
        let _ = served.child.kill();
        panic!("hop did not stop within 15 s of SIGTERM");
    };
    assert!(status.success(), "{status:?}");
    let rest: Vec<String> = served.log.iter().collect();
    assert!(rest.iter().any(|line| line == "shutting down"), "{rest:?}");
    assert_eq!(rest.last().map(String::as_str), Some("stopped"));
}

/// A one-off command's stdout holds only what it prints (here a new key, for a script to read);
/// its log lines go to stderr. PostgreSQL's notices (one on every run: "relation
/// _sqlx_migrations already exists, skipping") are not logged at INFO unless asked for: they
/// came first on stdout, so a script reading the key's line read the notice.
#[tokio::test]
async fn one_off_commands_keep_stdout_for_their_own_output() {
    use sqlx::{Connection, Executor, PgConnection};

    let dir = tempfile::tempdir().unwrap();
    let out = run(hop()
        .args(["keys", "create", "--name", "ci", "--scope", "read"])
        .env("HOP_LOG", "debug")
        .env("DATABASE_URL", sqlite(dir.path())));
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    let stdout = text(&out.stdout);
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len(), 2, "{stdout}");
    assert_eq!(lines[0], "created key 1 (ci, scope read)");
    assert!(lines[1].starts_with("hop_"), "{stdout}");
    let logged = text(&out.stderr);
    assert!(logged.lines().any(|line| line.starts_with('{')), "{logged}");

    let admin_url = std::env::var("TEST_DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into());
    let Ok(mut admin) = PgConnection::connect(&admin_url).await else {
        assert!(
            std::env::var("TEST_REQUIRE_POSTGRES").is_err(),
            "PostgreSQL at {admin_url} is required"
        );
        eprintln!("SKIPPED (PostgreSQL part): {admin_url} unreachable");
        return;
    };
    let name = format!("hop_cli_notice_{}", std::process::id());
    admin
        .execute(format!("CREATE DATABASE {name}").as_str())
        .await
        .unwrap();
    let mut url = url::Url::parse(&admin_url).unwrap();
    url.set_path(&format!("/{name}"));
    let migrate = |log: &str| {
        run(hop()
            .arg("migrate")
            .env("HOP_LOG", log)
            .env("DATABASE_URL", url.as_str()))
    };
    let quiet = [migrate("info"), migrate("info")];
    let asked = migrate("info,sqlx::postgres::notice=info");
    admin
        .execute(format!("DROP DATABASE {name} WITH (FORCE)").as_str())
        .await
        .unwrap();

    for out in &quiet {
        assert_eq!(text(&out.stdout), "migrations applied\n");
        assert_eq!(text(&out.stderr), "");
    }
    assert_eq!(text(&asked.stdout), "migrations applied\n");
    assert!(
        text(&asked.stderr).contains("_sqlx_migrations"),
        "{asked:?}"
    );
}
