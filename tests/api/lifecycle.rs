use std::time::Duration;

use futures::future::join_all;
use hop::config::Config;
use hop::store::{EventFilter, CHECKED_RECENTLY};
use serde_json::json;
use sqlx::{Connection, PgConnection};

use crate::both_backends;
use crate::harness::{expect_error, json, Backend, TestApp, TestDatabase};

both_backends!(
    unknown_paths_and_methods_get_json_errors,
    a_body_over_one_mebibyte_is_413,
    probes_and_metrics_answer,
    stopping_writes_every_queued_click,
);

async fn unknown_paths_and_methods_get_json_errors(app: TestApp) {
    expect_error(app.get("/no/such/path").await, 404).await;
    expect_error(
        app.request(reqwest::Method::PATCH, "/users", None).await,
        405,
    )
    .await;
    expect_error(
        app.request(reqwest::Method::DELETE, "/users", None).await,
        405,
    )
    .await;
    expect_error(
        app.request(reqwest::Method::POST, "/events/1", None).await,
        404,
    )
    .await;
}

async fn a_body_over_one_mebibyte_is_413(app: TestApp) {
    let big = format!(
        "{{\"username\": \"{}\", \"email\": \"a@x.io\"}}",
        "a".repeat(1_100_000)
    );

    let response = app.post_raw("/users", &big, Some("application/json")).await;

    expect_error(response, 413).await;
}

async fn probes_and_metrics_answer(app: TestApp) {
    assert_eq!(
        json(app.get("/health").await).await,
        json!({"status": "ok"})
    );
    assert_eq!(
        json(app.get("/ready").await).await,
        json!({"status": "ready"})
    );
    app.get("/users").await;

    let text = app.get("/metrics").await.text().await.unwrap();

    assert!(text.contains(r#"http_requests_total{method="GET",route="/users",status="2xx"}"#));
    for counter in ["hop_clicks_dropped_total", "hop_db_lookup_statements_total"] {
        assert!(text.contains(counter), "{counter} exists from the start");
    }
    assert!(text.contains("hop_build_info{"));
    assert!(text.contains("process_resident_memory_bytes"));
}

async fn stopping_writes_every_queued_click(mut app: TestApp) {
    let user = app.user("ada").await;
    let link = app.link(user, "https://example.com/a").await;
    let code = link["short_code"].as_str().unwrap().to_owned();
    for _ in 0..200 {
        assert_eq!(app.get(&format!("/{code}")).await.status(), 302);
    }

    app.stop().await;

    let store = app.store().await;
    let filter = EventFilter {
        event_type: Some("click".into()),
        ..Default::default()
    };
    let clicks = store.list_events(&filter, None).await.unwrap();
    assert_eq!(clicks.len(), 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn writes_over_the_rate_limit_get_429_with_retry_after() {
    let database = crate::harness::TestDatabase::create(crate::harness::Backend::Sqlite)
        .await
        .expect("sqlite");
    let config = hop::config::Config {
        rate_limit_per_sec: 1,
        rate_limit_burst: 2,
        ..Default::default()
    };
    let app = TestApp::spawn(database.url.clone(), config).await;

    let statuses: Vec<u16> = {
        let mut statuses = Vec::new();
        for n in 0..3 {
            let body = json!({"username": format!("u{n}"), "email": format!("u{n}@x.io")});
            let response = app.post("/users", body).await;
            statuses.push(response.status().as_u16());
            if response.status() == 429 {
                assert_eq!(response.headers()["retry-after"], "1");
                expect_error(response, 429).await;
            }
        }
        statuses
    };

    assert_eq!(statuses, vec![201, 201, 429]);
    assert_eq!(
        app.get("/users").await.status(),
        200,
        "reads are not limited"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_response_carries_the_security_headers() {
    let database = crate::harness::TestDatabase::create(crate::harness::Backend::Sqlite)
        .await
        .expect("sqlite");
    let app = TestApp::spawn(database.url.clone(), Default::default()).await;

    for path in ["/health", "/users", "/nosuch", "/docs", "/openapi.json"] {
        let response = app.get(path).await;
        let headers = response.headers();
        assert_eq!(headers["x-content-type-options"], "nosniff", "{path}");
        assert_eq!(headers["x-frame-options"], "DENY", "{path}");
        assert_eq!(headers["referrer-policy"], "no-referrer", "{path}");
        assert!(headers["content-security-policy"]
            .to_str()
            .unwrap()
            .contains("default-src 'none'"));
    }
}

/// hop checks a pooled PostgreSQL connection before use only after it has idled for
/// `CHECKED_RECENTLY` (sqlx checks each one when it is released): connections the server ended
/// while they sat in the pool, as a restart or failover does, are replaced, not handed out.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connections_ended_by_the_server_while_idle_are_replaced() {
    let Some(database) = TestDatabase::create(Backend::Postgres).await else {
        eprintln!("SKIPPED: PostgreSQL is not reachable");
        return;
    };
    let mut app = TestApp::spawn(database.url.clone(), Config::default()).await;
    let id = app.user("idle").await;
    let path = format!("/users/{id}");
    // Reads at once, so that the pool holds several connections.
    for read in join_all((0..4).map(|_| app.get(&path))).await {
        assert_eq!(read.status(), 200);
    }
    let mut admin = PgConnection::connect(&database.url).await.unwrap();
    let ended: Vec<bool> = sqlx::query_scalar(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
         WHERE datname = current_database() AND pid <> pg_backend_pid() \
         AND application_name = 'hop'",
    )
    .fetch_all(&mut admin)
    .await
    .unwrap();
    assert!(
        ended.len() >= 2 && ended.iter().all(|&done| done),
        "{ended:?}"
    );

    tokio::time::sleep(CHECKED_RECENTLY + Duration::from_millis(300)).await;
    // One request per ended connection and one more: none may be handed a dead one.
    for _ in 0..=ended.len() {
        assert_eq!(app.get(&path).await.status(), 200);
    }
    let created = app
        .post(
            "/users",
            json!({"username": "after", "email": "after@example.com"}),
        )
        .await;
    assert_eq!(created.status(), 201);
    app.stop().await;
    admin.close().await.unwrap();
    database.drop_it().await;
}
