//! API keys and secrets, driven through the real binary.

use reqwest::StatusCode;
use serde_json::json;

use crate::harness::{hop_command, http_client, Backend, HopProcess, TestDatabase};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn once_a_key_exists_the_api_needs_one_with_the_right_scope() {
    let database = TestDatabase::create(Backend::Sqlite).await.expect("sqlite");
    let env = [("DATABASE_URL", database.url.as_str())];
    let writer = hop_command(
        &["keys", "create", "--name", "ci", "--scope", "write"],
        &env,
    );
    let writer = writer.lines().last().expect("token line").to_owned();
    let reader = hop_command(
        &["keys", "create", "--name", "dash", "--scope", "read"],
        &env,
    );
    let reader = reader.lines().last().expect("token line").to_owned();
    let hop = HopProcess::start(&env);
    let client = http_client();
    let users = format!("{}/users", hop.address);
    let body = json!({"username": "ada", "email": "ada@example.com"});

    let anonymous = client.post(&users).json(&body).send().await.unwrap();
    let read_only = client
        .post(&users)
        .bearer_auth(&reader)
        .json(&body)
        .send()
        .await
        .unwrap();
    let wrong = client
        .get(&users)
        .bearer_auth("hop_not-a-key")
        .send()
        .await
        .unwrap();
    let written = client
        .post(&users)
        .bearer_auth(&writer)
        .json(&body)
        .send()
        .await
        .unwrap();
    let read = client
        .get(&users)
        .bearer_auth(&reader)
        .send()
        .await
        .unwrap();
    let health = client
        .get(format!("{}/health", hop.address))
        .send()
        .await
        .unwrap();

    assert_eq!(anonymous.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(read_only.status(), StatusCode::FORBIDDEN);
    assert_eq!(wrong.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(written.status(), StatusCode::CREATED);
    assert_eq!(read.status(), StatusCode::OK);
    assert_eq!(health.status(), StatusCode::OK, "probes stay open");
    let listed = hop_command(&["keys", "list"], &env);
    assert!(listed.contains("ci") && listed.contains("dash"), "{listed}");
    assert!(!listed.contains(&writer), "a key is never shown again");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_revoked_key_is_refused_and_without_keys_the_api_is_open_with_a_warning() {
    let database = TestDatabase::create(Backend::Sqlite).await.expect("sqlite");
    let env = [("DATABASE_URL", database.url.as_str())];
    let open = HopProcess::start(&env);
    let warned = open
        .log
        .lock()
        .unwrap()
        .iter()
        .any(|line| line.contains("no API keys"));
    assert!(warned, "hop warns that the API is open");
    drop(open);
    let created = hop_command(
        &["keys", "create", "--name", "old", "--scope", "admin"],
        &env,
    );
    let token = created.lines().last().unwrap().to_owned();
    let id = created.split_whitespace().nth(2).unwrap().to_owned();

    hop_command(&["keys", "revoke", &id], &env);

    let hop = HopProcess::start(&env);
    let response = http_client()
        .get(format!("{}/users", hop.address))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_secret_reaches_the_log() {
    let Some(database) = TestDatabase::create(Backend::Postgres).await else {
        eprintln!("SKIPPED: PostgreSQL is not reachable");
        return;
    };
    // Trust authentication ignores the password, so it can be anything recognisable.
    let mut url = url::Url::parse(&database.url).unwrap();
    url.set_password(Some("pw-s3cret-9f2")).unwrap();
    let env = [
        ("DATABASE_URL", url.as_str()),
        ("HOP_METRICS_TOKEN", "tok-s3cret-77a"),
    ];
    let created = hop_command(
        &["keys", "create", "--name", "ops", "--scope", "admin"],
        &env,
    );
    let key = created.lines().last().unwrap().to_owned();
    let mut hop = HopProcess::start(&[
        ("DATABASE_URL", url.as_str()),
        ("HOP_METRICS_TOKEN", "tok-s3cret-77a"),
        ("REDIS_URL", "redis://:redis-s3cret@127.0.0.1:1"),
        ("HOP_LOG", "debug"),
    ]);
    let client = http_client();

    client
        .get(format!("{}/users", hop.address))
        .bearer_auth(&key)
        .send()
        .await
        .unwrap();
    client
        .get(format!("{}/users", hop.address))
        .bearer_auth("hop_wrong")
        .send()
        .await
        .unwrap();
    let metrics = client
        .get(format!("{}/metrics", hop.address))
        .bearer_auth("tok-s3cret-77a")
        .send()
        .await
        .unwrap();
    assert_eq!(metrics.status(), StatusCode::OK);
    assert!(hop.terminate(), "hop exits 0 on SIGTERM");

    let log = hop.log.lock().unwrap().join("\n");
    assert!(log.contains("request finished"), "the log was captured");
    for secret in [
        "pw-s3cret-9f2",
        "tok-s3cret-77a",
        "redis-s3cret",
        key.as_str(),
    ] {
        assert!(!log.contains(secret), "{secret} leaked into the log");
    }
    database.drop_it().await;
}
