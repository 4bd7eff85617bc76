use hop::config::Config;
use serde_json::json;

use crate::both_backends;
use crate::harness::{
    event_types, expect_error, http_client, json, Backend, HopProcess, TestApp, TestDatabase,
};

both_backends!(
    posting_an_event_returns_it_with_details_as_an_object,
    numbers_in_details_come_back_digit_for_digit,
    bad_events_are_400_and_unknown_rows_404,
    seeded_events_are_served_and_filtered,
);

async fn posting_an_event_returns_it_with_details_as_an_object(app: TestApp) {
    let user = app.user("ada").await;
    let link = app.link(user, "https://example.com/a").await;

    let body = json!({"url_id": link["id"], "user_id": user, "event_type": " shared ",
        "details": {"channel": "email"}});
    let response = app.post("/events", body).await;

    assert_eq!(response.status(), 201);
    let event = json(response).await;
    assert_eq!(event["event_type"], "shared");
    assert_eq!(event["details"], json!({"channel": "email"}));
    assert_eq!(event["url_id"], link["id"]);
    let bare = json!({"url_id": link["id"], "user_id": user, "event_type": "viewed"});
    assert_eq!(
        json(app.post("/events", bare).await).await["details"],
        json!({})
    );
}

/// Numbers in `details` are kept as they were written, beyond what a 64-bit integer or float
/// holds: an order number of 30 digits, a price with 30 decimals, a count past u64. Numbers
/// past the bounds are refused on both stores alike (PostgreSQL answered 500 for `1e1000000`
/// and `0e2147483648`).
async fn numbers_in_details_come_back_digit_for_digit(app: TestApp) {
    let user = app.user("ada").await;
    let link = app.link(user, "https://example.com/a").await;
    let numbers = r#"{"order": 123456789012345678901234567890,
        "price": 0.100000000000000000000000000001, "count": 18446744073709551616,
        "low": -9223372036854775809, "small": 7}"#;
    let details: serde_json::Value = serde_json::from_str(numbers).expect("JSON");
    let body = json!({"url_id": link["id"], "user_id": user, "event_type": "ordered",
        "details": details});

    let created = app.post("/events", body).await;
    assert_eq!(created.status(), 201);
    let listed = app
        .get(&format!("/events?url_id={}&event_type=ordered", link["id"]))
        .await
        .text()
        .await
        .expect("body");

    for (number, why) in [
        (
            "1e100",
            "numbers must have at most 100 digits when written without an exponent",
        ),
        (
            "0e2147483648",
            "numbers must have an exponent between -1000 and 1000",
        ),
    ] {
        let past: serde_json::Value =
            serde_json::from_str(&format!(r#"{{"n": {number}}}"#)).expect("JSON");
        let past =
            json!({"url_id": link["id"], "user_id": user, "event_type": "x", "details": past});
        let refused = expect_error(app.post("/events", past).await, 400).await;
        assert_eq!(refused["details"]["details"], why, "{number}");
    }
    for digits in [
        "\"order\":123456789012345678901234567890",
        "\"price\":0.100000000000000000000000000001",
        "\"count\":18446744073709551616",
        "\"low\":-9223372036854775809",
        "\"small\":7",
    ] {
        assert!(listed.contains(digits), "{digits} not in {listed}");
    }
}

async fn bad_events_are_400_and_unknown_rows_404(app: TestApp) {
    let user = app.user("ada").await;
    let link = app.link(user, "https://example.com/a").await;
    let id = link["id"].clone();

    let bad = [
        json!({"url_id": id, "user_id": user, "event_type": "x", "details": "{}"}),
        json!({"url_id": id, "user_id": user, "event_type": "x", "details": [1]}),
        json!({"url_id": id, "user_id": user, "event_type": ""}),
        json!({"url_id": id, "user_id": user, "event_type": 5}),
        json!({"url_id": id, "user_id": user}),
        json!({"url_id": "1", "user_id": user, "event_type": "x"}),
    ];
    for body in bad {
        expect_error(app.post("/events", body).await, 400).await;
    }
    let no_link = json!({"url_id": 999_999, "user_id": user, "event_type": "x"});
    expect_error(app.post("/events", no_link).await, 404).await;
    let no_user = json!({"url_id": id, "user_id": 999_999, "event_type": "x"});
    expect_error(app.post("/events", no_user).await, 404).await;
    for query in [
        "url_id=x",
        "user_id=-1",
        "event_type=",
        "page=0",
        "url_id=1&url_id=2",
        "page=1&page=2",
    ] {
        expect_error(app.get(&format!("/events?{query}")).await, 400).await;
    }
}

async fn seeded_events_are_served_and_filtered(app: TestApp) {
    app.seed().await;

    let all = json(app.get("/events").await).await;
    let created = json(app.get("/events?event_type=created").await).await;
    let updated = json(app.get("/events?event_type=updated").await).await;
    let deleted = json(app.get("/events?event_type=deleted").await).await;
    let first_link = json(app.get("/events?url_id=1").await).await;

    assert_eq!(all.as_array().unwrap().len(), 3422);
    assert_eq!(created.as_array().unwrap().len(), 2000);
    // A whole list is sent 2,000 rows at a time: 3,422 rows end in a short batch, and the
    // 2,000 `created` events fill one batch exactly and end with an empty one. Both read the
    // same as the pages of a paged read.
    for (whole, filter) in [(&all, ""), (&created, "event_type=created&")] {
        let mut paged = Vec::new();
        for page in 1..=4 {
            let url = format!("/events?{filter}page={page}&per_page=1000");
            paged.extend(json(app.get(&url).await).await.as_array().unwrap().clone());
        }
        assert_eq!(whole.as_array().unwrap(), &paged);
    }
    let ids: Vec<i64> = all
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["id"].as_i64().unwrap())
        .collect();
    assert_eq!(ids, (1..=3422).collect::<Vec<i64>>());
    assert_eq!(updated.as_array().unwrap().len(), 1206);
    assert_eq!(deleted.as_array().unwrap().len(), 216);
    assert_eq!(
        all[0],
        json!({"id": 1, "url_id": 1, "user_id": 1, "event_type": "created",
            "timestamp": "2025-06-22T20:54:35",
            "details": {"short_code": "WqxP6K",
                "original_url": "https://seeded.app/gold/meadow/1"}})
    );
    assert!(first_link
        .as_array()
        .unwrap()
        .iter()
        .all(|e| e["url_id"] == 1));
    assert!(all
        .as_array()
        .unwrap()
        .iter()
        .all(|e| e["details"].is_object()));
}

/// A click waits in the recorder's queue; a change made after it must still come after it in
/// the link's history, which lists events by id.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_links_history_lists_a_click_before_the_changes_that_followed_it() {
    for backend in [Backend::Sqlite, Backend::Postgres] {
        let Some(database) = TestDatabase::create(backend).await else {
            continue;
        };
        let config = Config {
            click_linger_ms: 5_000,
            ..Config::default()
        };
        let app = TestApp::spawn(database.url.clone(), config).await;
        let user = app.user("ada").await;
        let link = app.link(user, "https://example.com/a").await;
        let id = link["id"].as_i64().unwrap();

        assert_eq!(
            app.get(&format!("/{}", link["short_code"].as_str().unwrap()))
                .await
                .status(),
            302
        );
        let edit = app
            .put(&format!("/urls/{id}"), json!({"title": "Later"}))
            .await;
        assert_eq!(edit.status(), 200);
        let mark = json!({"url_id": id, "user_id": user, "event_type": "shared"});
        assert_eq!(app.post("/events", mark).await.status(), 201);
        assert_eq!(app.delete(&format!("/urls/{id}")).await.status(), 204);

        let history = json(app.get(&format!("/events?url_id={id}")).await).await;
        assert_eq!(
            event_types(&history),
            ["created", "click", "updated", "shared", "deleted"],
            "{backend:?}"
        );
        database.drop_it().await;
    }
}

/// Clicks of a user deleted while they waited are not written, and not counted as lost:
/// `hop_clicks_dropped_total` pages an operator.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clicks_of_a_deleted_user_are_skipped_not_dropped() {
    let database = TestDatabase::create(Backend::Sqlite).await.expect("sqlite");
    let env = [
        ("DATABASE_URL", database.url.as_str()),
        ("HOP_CLICK_LINGER_MS", "5000"),
    ];
    let hop = HopProcess::start(&env);
    let client = http_client();
    let base = &hop.address;
    let user = crate::harness::create_user(&client, base, "ada").await;
    let body = json!({"user_id": user["id"], "original_url": "https://example.com/a"});
    let link = json(
        client
            .post(format!("{base}/urls"))
            .json(&body)
            .send()
            .await
            .unwrap(),
    )
    .await;
    for _ in 0..5 {
        let code = link["short_code"].as_str().unwrap();
        let followed = client.get(format!("{base}/{code}")).send().await.unwrap();
        assert_eq!(followed.status(), 302);
    }
    let deleted = client
        .delete(format!("{base}/users/{}", user["id"]))
        .send()
        .await
        .unwrap();
    assert_eq!(deleted.status(), 204);
    // The read waits for the queued clicks to be handled.
    let events = json(client.get(format!("{base}/events")).send().await.unwrap()).await;
    assert_eq!(events, json!([]));

    let metrics = client
        .get(format!("{base}/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let value = |name: &str| {
        metrics
            .lines()
            .find_map(|line| line.strip_prefix(name)?.strip_prefix(' '))
            .unwrap_or_else(|| panic!("{name} in /metrics"))
            .to_owned()
    };
    assert_eq!(value("hop_clicks_queued_total"), "5");
    assert_eq!(value("hop_clicks_skipped_total"), "5");
    assert_eq!(value("hop_clicks_written_total"), "0");
    assert_eq!(value("hop_clicks_dropped_total"), "0");
    // The log is written by a thread of its own and read by another: give it a moment.
    let mut logged = String::new();
    for _ in 0..40 {
        logged = hop.log.lock().unwrap().join("\n");
        if logged.contains("clicks of a deleted user not written") {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    panic!("no line about the skipped clicks in:\n{logged}");
}
