use hop::store::EventFilter;
use serde_json::json;

use crate::both_backends;
use crate::harness::{expect_error, json, TestApp};

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
    assert!(
        text.contains("hop_clicks_dropped_total"),
        "counters exist from the start"
    );
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
