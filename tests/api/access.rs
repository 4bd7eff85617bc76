//! API keys, secrets and the request log, driven through the real binary.

use reqwest::StatusCode;
use serde_json::json;

use crate::harness::{create_user, hop_command, http_client, Backend, HopProcess, TestDatabase};

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
    let challenge = |response: &reqwest::Response| {
        response.headers()["www-authenticate"]
            .to_str()
            .unwrap()
            .to_owned()
    };
    assert_eq!(challenge(&anonymous), "Bearer");
    assert_eq!(challenge(&wrong), "Bearer error=\"invalid_token\"");
    let said = |response: reqwest::Response| async move {
        response.json::<serde_json::Value>().await.unwrap()["error"].clone()
    };
    assert_eq!(
        said(anonymous).await,
        "this call needs an API key: send Authorization: Bearer <key>"
    );
    assert_eq!(
        said(wrong).await,
        "this API key is not valid: it is unknown or was revoked"
    );
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

    let revoked = hop_command(&["keys", "revoke", &id], &env);
    assert_eq!(revoked.trim(), format!("revoked key {id} (old)"));
    let again = hop_command(&["keys", "revoke", &id], &env);
    assert!(
        again.starts_with(&format!("key {id} (old) was already revoked ")),
        "{again}"
    );

    let hop = HopProcess::start(&env);
    let response = http_client()
        .get(format!("{}/users", hop.address))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(
        body["error"],
        "this API key is not valid: it is unknown or was revoked"
    );
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

/// The closing line of a request holds every field an operator filters on, with no span to
/// merge; the second redirect of a code is answered by the in-process cache. Successful
/// redirects close at DEBUG under their own target, turned on here.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_request_ends_with_one_line_holding_its_fields() {
    let (_dir, mut hop, code) =
        hop_with_one_link(&[("HOP_LOG", "info,hop::access::redirect=debug")]).await;
    let client = http_client();
    for _ in 0..2 {
        let response = client
            .get(format!("{}/{code}", hop.address))
            .header("x-request-id", "req-7")
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::FOUND);
    }
    let finished = closing_lines(&mut hop);
    let routes: Vec<&str> = finished
        .iter()
        .map(|entry| entry["fields"]["http.route"].as_str().unwrap())
        .collect();
    assert_eq!(routes, ["/users", "/urls", "/{code}", "/{code}"]);
    let caches: Vec<&str> = finished[2..]
        .iter()
        .map(|entry| entry["fields"]["cache"].as_str().unwrap())
        .collect();
    assert_eq!(caches, ["database", "local"]);
    for entry in &finished[2..] {
        let fields = &entry["fields"];
        assert_eq!(entry["level"], "DEBUG");
        assert_eq!(entry["target"], "hop::access::redirect");
        assert_eq!(fields["http.method"], "GET");
        assert_eq!(fields["http.status"], 302);
        assert_eq!(fields["short_code"], code);
        assert_eq!(fields["request_id"], "req-7");
        assert!(fields["latency_ms"].as_f64().unwrap() >= 0.0);
        assert!(fields["client.address"]
            .as_str()
            .unwrap()
            .starts_with("127.0.0.1:"));
        assert!(entry.get("span").is_none(), "no span merged: {entry}");
    }
    assert_eq!(finished[1]["fields"]["http.status"], 201);
    assert_eq!(finished[1]["level"], "INFO");
    assert!(finished[1]["fields"].get("short_code").is_none());
}

/// At the default level a redirect that found its link leaves no line (its click event and the
/// metrics record it); one that did not find it closes at INFO like any other request.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn by_default_only_failed_redirects_are_logged() {
    let (_dir, mut hop, code) = hop_with_one_link(&[]).await;
    let client = http_client();
    for path in [code.as_str(), "NoSuchCode1"] {
        client
            .get(format!("{}/{path}", hop.address))
            .send()
            .await
            .unwrap();
    }
    let statuses: Vec<(String, i64)> = closing_lines(&mut hop)
        .iter()
        .map(|entry| {
            let route = entry["fields"]["http.route"].as_str().unwrap().to_owned();
            (route, entry["fields"]["http.status"].as_i64().unwrap())
        })
        .collect();
    let expected = [("/users", 201), ("/urls", 201), ("/{code}", 404)]
        .map(|(route, status)| (route.to_owned(), status));
    assert_eq!(statuses, expected);
}

/// `GET /{code}` is answered in front of the router (src/redirect/express.rs), from the cache or
/// past it; `/urls/{code}/redirect` always goes through the router. Their answers, closing lines
/// and clicks are the same, found or not.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_express_lane_answers_a_redirect_as_the_router_does() {
    let (_dir, mut hop, code) =
        hop_with_one_link(&[("HOP_LOG", "info,hop::access::redirect=debug")]).await;
    let client = http_client();
    let mut answers = Vec::new();
    for code in [code.as_str(), "NoSuchCode1"] {
        // Past the cache, from the cache, through the router.
        for path in [
            code.to_owned(),
            code.to_owned(),
            format!("urls/{code}/redirect"),
        ] {
            let response = client
                .get(format!("{}/{path}", hop.address))
                .header("referer", "https://news.example/")
                .send()
                .await
                .unwrap();
            let mut headers: Vec<(String, String)> = response
                .headers()
                .iter()
                .filter(|(name, _)| !matches!(name.as_str(), "date" | "x-request-id"))
                .map(|(name, value)| (name.to_string(), value.to_str().unwrap().to_owned()))
                .collect();
            headers.sort();
            let id = response.headers()["x-request-id"].to_str().unwrap().len();
            answers.push((
                response.status(),
                headers,
                id,
                response.text().await.unwrap(),
            ));
        }
    }
    // A client's own id is echoed by the lane too.
    let echoed = client
        .get(format!("{}/{code}", hop.address))
        .header("x-request-id", "mine-1")
        .header("referer", "https://news.example/")
        .send()
        .await
        .unwrap();
    assert_eq!(echoed.headers()["x-request-id"], "mine-1");
    let clicks = client
        .get(format!("{}/events?event_type=click", hop.address))
        .send()
        .await
        .unwrap()
        .json::<serde_json::Value>()
        .await
        .unwrap();

    assert_eq!(answers[0].0, StatusCode::FOUND);
    assert_eq!(answers[3].0, StatusCode::NOT_FOUND);
    for (lane, router) in [(0, 2), (1, 2), (3, 5), (4, 5)] {
        assert_eq!(answers[lane], answers[router], "answer {lane}");
    }
    assert_eq!(answers[0].2, 36, "a generated uuid");
    assert_eq!(
        answers[0]
            .1
            .iter()
            .map(|(name, _)| name.as_str())
            .collect::<Vec<_>>(),
        [
            "cache-control",
            "content-length",
            "content-security-policy",
            "location",
            "referrer-policy",
            "strict-transport-security",
            "x-content-type-options",
            "x-frame-options",
        ]
    );
    let clicks = clicks.as_array().unwrap();
    assert_eq!(clicks.len(), 4);
    for click in clicks {
        assert_eq!(click["details"]["referrer"], "https://news.example/");
    }

    let lines = closing_lines(&mut hop);
    let lines: Vec<&serde_json::Value> = lines
        .iter()
        .filter(|line| line["fields"]["short_code"].is_string())
        .collect();
    assert_eq!(lines[6]["fields"]["request_id"], "mine-1");
    let redirects: Vec<serde_json::Value> = lines
        .iter()
        .map(|line| {
            let mut fields = line["fields"].clone();
            let fields = fields.as_object_mut().unwrap();
            for varying in ["latency_ms", "client.address", "request_id"] {
                assert!(fields.remove(varying).is_some(), "{varying} in {line}");
            }
            json!([line["level"], line["target"], fields])
        })
        .collect();
    let fields = |level, target, route, status, code: &str, cache| {
        json!([level, target, {"message": "request finished", "http.method": "GET",
            "http.route": route, "http.status": status, "short_code": code, "cache": cache}])
    };
    let (found, failed) = ("hop::access::redirect", "hop::telemetry::access");
    let (lane, router) = ("/{code}", "/urls/{code}/redirect");
    let unknown = "NoSuchCode1";
    let expected = [
        fields("DEBUG", found, lane, 302, &code, "database"),
        fields("DEBUG", found, lane, 302, &code, "local"),
        fields("DEBUG", found, router, 302, &code, "local"),
        fields("INFO", failed, lane, 404, unknown, "database"),
        fields("INFO", failed, lane, 404, unknown, "local"),
        fields("INFO", failed, router, 404, unknown, "local"),
        fields("DEBUG", found, lane, 302, &code, "local"),
    ];
    assert_eq!(redirects, expected);
}

/// What a client chose itself (the code it asked for, its request id) is logged up to 128 bytes,
/// cut at a character boundary and followed by its length, however long the client made it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_clients_long_text_is_clipped_in_the_log() {
    let (_dir, mut hop, _code) = hop_with_one_link(&[]).await;
    // 1 + 2 × 2,500 bytes: the 128-byte cut falls inside a two-byte character.
    let path = format!("x{}", "%C3%A9".repeat(2_500));
    let request_id = "r".repeat(1_000);
    let response = http_client()
        .get(format!("{}/{path}", hop.address))
        .header("x-request-id", &request_id)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
    assert_eq!(response.headers()["x-request-id"], request_id.as_str());
    let lines = closing_lines(&mut hop);
    let fields = &lines.last().unwrap()["fields"];
    assert_eq!(fields["http.status"], 404);
    assert_eq!(
        fields["short_code"],
        format!("x{}… (5001 bytes)", "é".repeat(63))
    );
    assert_eq!(
        fields["request_id"],
        format!("{}… (1000 bytes)", "r".repeat(128))
    );
}

/// A request id that is not plain ASCII is logged as the UTF-8 it is, as it is echoed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_id_in_utf8_is_logged_as_sent() {
    let (_dir, mut hop, _code) = hop_with_one_link(&[]).await;
    let id = reqwest::header::HeaderValue::from_bytes("req-é".as_bytes()).unwrap();
    let response = http_client()
        .get(format!("{}/users/1", hop.address))
        .header("x-request-id", id.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()["x-request-id"], id);
    let lines = closing_lines(&mut hop);
    assert_eq!(lines.last().unwrap()["fields"]["request_id"], "req-é");
}

/// The key is checked before the write limit: requests without one get 401, and do not use up
/// the client's allowance for its real writes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_without_a_key_do_not_count_against_the_write_limit() {
    let database = TestDatabase::create(Backend::Sqlite).await.expect("sqlite");
    let env = [("DATABASE_URL", database.url.as_str())];
    let created = hop_command(
        &["keys", "create", "--name", "ci", "--scope", "write"],
        &env,
    );
    let key = created.lines().last().expect("token line").to_owned();
    let hop = HopProcess::start(&[
        ("DATABASE_URL", database.url.as_str()),
        ("HOP_RATE_LIMIT_PER_SEC", "1"),
        ("HOP_RATE_LIMIT_BURST", "1"),
    ]);
    let client = http_client();
    let users = format!("{}/users", hop.address);
    let body = json!({"username": "ada", "email": "ada@example.com"});

    for _ in 0..3 {
        let anonymous = client.post(&users).json(&body).send().await.unwrap();
        assert_eq!(anonymous.status(), StatusCode::UNAUTHORIZED);
    }
    let first = client
        .post(&users)
        .bearer_auth(&key)
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(first.status(), StatusCode::CREATED);
    let second = client
        .post(&users)
        .bearer_auth(&key)
        .json(&json!({"username": "bob", "email": "bob@example.com"}))
        .send()
        .await
        .unwrap();
    assert_eq!(second.status(), StatusCode::TOO_MANY_REQUESTS);
}

/// A redirect opens its span only for a lookup past the in-process cache; the error that
/// lookup logs still carries the request's id, and a cached link keeps redirecting.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_lookup_logs_in_the_span_of_its_request() {
    use sqlx::{Connection, Executor, SqliteConnection};

    let (dir, mut hop, code) = hop_with_one_link(&[]).await;
    let client = http_client();
    let follow = |path: &str, id: &str| {
        client
            .get(format!("{}/{path}", hop.address))
            .header("x-request-id", id)
            .send()
    };
    assert_eq!(
        follow(&code, "warm").await.unwrap().status(),
        StatusCode::FOUND
    );
    let url = format!("sqlite://{}", dir.path().join("hop.db").display());
    let mut behind_its_back = SqliteConnection::connect(&url).await.unwrap();
    behind_its_back
        .execute("PRAGMA foreign_keys = OFF; DROP TABLE urls;")
        .await
        .unwrap();

    let failed = follow("NotCached1", "req-lookup").await.unwrap();
    assert_eq!(failed.status(), StatusCode::INTERNAL_SERVER_ERROR);
    let cached = follow(&code, "req-cached").await.unwrap();
    assert_eq!(cached.status(), StatusCode::FOUND);

    assert!(hop.terminate(), "hop exits 0 on SIGTERM");
    let log = hop.log.lock().unwrap().clone();
    // (The click of the cached redirect cannot be written either; that is another line.)
    let errors: Vec<serde_json::Value> = log
        .iter()
        .filter_map(|line| serde_json::from_str::<serde_json::Value>(line).ok())
        .filter(|entry| entry["fields"]["message"] == "internal error")
        .collect();
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert!(errors[0]["fields"]["error"]
        .as_str()
        .unwrap()
        .contains("no such table: urls"));
    let error = errors[0]["fields"]["error"].as_str().unwrap();
    assert_eq!(
        error.matches("no such table").count(),
        1,
        "said once: {error}"
    );
    assert_eq!(errors[0]["span"]["request_id"], "req-lookup");
}

/// The click queue's drop report counts the clicks of every request that found it full, so
/// it names none of them: the writer logs it, outside every request's span, even when the
/// edge's span of redirects is on (it is at DEBUG).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_click_drop_report_belongs_to_no_request() {
    let (_dir, mut hop, code) = hop_with_one_link(&[
        ("HOP_CLICK_QUEUE", "1"),
        ("HOP_CLICK_LINGER_MS", "1000"),
        ("HOP_LOG", "info,hop::telemetry::access=debug"),
    ])
    .await;
    let client = http_client();
    let path = format!("{}/{code}", hop.address);
    let visits = (0..50).map(|n| {
        client
            .get(&path)
            .header("x-request-id", format!("visit-{n}"))
            .send()
    });
    for response in futures::future::join_all(visits).await {
        assert_eq!(response.unwrap().status(), StatusCode::FOUND);
    }

    assert!(hop.terminate(), "hop exits 0 on SIGTERM");
    let log = hop.log.lock().unwrap().clone();
    let reports: Vec<serde_json::Value> = log
        .iter()
        .filter_map(|line| serde_json::from_str::<serde_json::Value>(line).ok())
        .filter(|entry| entry["fields"]["message"] == "click queue full, clicks dropped")
        .collect();
    assert!(
        !reports.is_empty(),
        "50 clicks into a queue of one drop some"
    );
    for report in &reports {
        assert!(report.get("span").is_none(), "{report}");
        assert!(
            report["fields"]["dropped"].as_u64().unwrap() >= 1,
            "{report}"
        );
    }
}

/// With Redis configured but not there, `hop_redis_up` reads 0 from the start rather than being
/// absent, which reads as "no Redis configured".
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_configured_but_absent_reads_as_down() {
    // Nothing listens on port 1 of loopback.
    let (_dir, hop, _code) = hop_with_one_link(&[("REDIS_URL", "redis://127.0.0.1:1")]).await;
    let text = metrics_text(&hop).await;
    let up: Vec<&str> = text
        .lines()
        .filter(|line| line.starts_with("hop_redis_up"))
        .collect();
    assert_eq!(up, ["hop_redis_up 0"]);
}

/// The request metrics count each request once under its route, method and status class,
/// whether their handles are new or reused (a process of its own, so the counts are exact).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn request_metrics_count_each_request_under_its_labels() {
    let (_dir, mut hop, code) = hop_with_one_link(&[]).await;
    let client = http_client();
    for (method, path, times) in [
        (reqwest::Method::GET, code.as_str(), 3),
        (reqwest::Method::GET, "NoSuchCode1", 2),
        (reqwest::Method::HEAD, code.as_str(), 1),
    ] {
        for _ in 0..times {
            client
                .request(method.clone(), format!("{}/{path}", hop.address))
                .send()
                .await
                .unwrap();
        }
    }
    let text = metrics_text(&hop).await;
    let value = |series: &str| -> Option<String> {
        let line = text
            .lines()
            .find(|line| line.starts_with(&format!("{series} ")))?;
        Some(line.rsplit(' ').next()?.to_owned())
    };
    for (series, expected) in [
        (
            r#"http_requests_total{method="POST",route="/users",status="2xx"}"#,
            "1",
        ),
        (
            r#"http_requests_total{method="POST",route="/urls",status="2xx"}"#,
            "1",
        ),
        (
            r#"http_requests_total{method="GET",route="/{code}",status="3xx"}"#,
            "3",
        ),
        (
            r#"http_requests_total{method="GET",route="/{code}",status="4xx"}"#,
            "2",
        ),
        (
            r#"http_requests_total{method="HEAD",route="/{code}",status="3xx"}"#,
            "1",
        ),
        (
            r#"http_request_duration_seconds_count{method="GET",route="/{code}",status="3xx"}"#,
            "3",
        ),
    ] {
        assert_eq!(value(series).as_deref(), Some(expected), "{series}");
    }
    assert!(hop.terminate(), "hop exits 0 on SIGTERM");
}

/// A hop on a fresh SQLite file (kept alive by the returned directory), with the given
/// settings, holding one user and one link made through the API; returns the link's code.
async fn hop_with_one_link(
    settings: &[(&'static str, &str)],
) -> (tempfile::TempDir, HopProcess, String) {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("hop.db").display());
    let mut env = vec![("DATABASE_URL", url.as_str())];
    env.extend_from_slice(settings);
    let hop = HopProcess::start(&env);
    let client = http_client();
    let user = create_user(&client, &hop.address, "logger").await;
    let link: serde_json::Value = client
        .post(format!("{}/urls", hop.address))
        .json(&json!({"user_id": user["id"], "original_url": "https://example.com/l"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let code = link["short_code"].as_str().unwrap().to_owned();
    (dir, hop, code)
}

/// hop's /metrics page.
async fn metrics_text(hop: &HopProcess) -> String {
    http_client()
        .get(format!("{}/metrics", hop.address))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap()
}

/// Stops hop (asserting a clean exit) and returns its `request finished` lines, in order.
fn closing_lines(hop: &mut HopProcess) -> Vec<serde_json::Value> {
    assert!(hop.terminate(), "hop exits 0 on SIGTERM");
    let log = hop.log.lock().unwrap().clone();
    log.iter()
        .filter_map(|line| serde_json::from_str::<serde_json::Value>(line).ok())
        .filter(|entry| entry["fields"]["message"] == "request finished")
        .collect()
}
