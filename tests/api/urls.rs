use serde_json::{json, Value};

use crate::both_backends;
use crate::harness::{event_types, expect_error, json, TestApp};

both_backends!(
    creating_a_link_returns_a_fresh_code_and_records_the_event,
    bad_targets_and_fields_are_400_and_unknown_users_404,
    targets_are_kept_in_the_browser_normal_form,
    a_target_on_hops_own_origin_is_refused,
    the_same_target_twice_gets_two_codes,
    links_are_filtered_and_paged,
    updating_a_link_records_one_event_per_changed_field,
    updated_at_moves_forward_on_every_change,
    deleting_a_link_keeps_its_history,
);

async fn creating_a_link_returns_a_fresh_code_and_records_the_event(app: TestApp) {
    let user = app.user("ada").await;

    let body = json!({"user_id": user, "original_url": "https://example.com/a", "title": "A"});
    let response = app.post("/urls", body).await;

    assert_eq!(response.status(), 201);
    let link = json(response).await;
    let code = link["short_code"].as_str().unwrap();
    assert_eq!(code.len(), 6);
    assert!(code.bytes().all(|b| b.is_ascii_alphanumeric()), "{code}");
    assert_eq!(link["user_id"], user);
    assert_eq!(link["original_url"], "https://example.com/a");
    assert_eq!(link["title"], "A");
    assert_eq!(link["is_active"], true);
    assert_eq!(link["created_at"], link["updated_at"]);
    let events = json(app.get(&format!("/events?url_id={}", link["id"])).await).await;
    assert_eq!(events.as_array().unwrap().len(), 1);
    assert_eq!(events[0]["event_type"], "created");
    assert_eq!(events[0]["user_id"], user);
    assert_eq!(
        events[0]["details"],
        json!({"short_code": code, "original_url": "https://example.com/a"})
    );
    let untitled = app.link(user, "https://example.com/b").await;
    assert_eq!(untitled["title"], Value::Null);
}

async fn bad_targets_and_fields_are_400_and_unknown_users_404(app: TestApp) {
    let user = app.user("ada").await;
    for url in [
        "hello",
        "example.com",
        "ftp://x",
        "javascript:alert(1)",
        "http://",
        "   ",
    ] {
        let body = json!({"user_id": user, "original_url": url});
        let error = expect_error(app.post("/urls", body).await, 400).await;
        assert!(
            error["details"]["original_url"].is_string(),
            "{url}: {error}"
        );
    }
    let long = format!("https://example.com/{}", "a".repeat(2040));
    expect_error(
        app.post("/urls", json!({"user_id": user, "original_url": long}))
            .await,
        400,
    )
    .await;
    let wrong_types = [
        json!({"user_id": "1", "original_url": "https://x.io"}),
        json!({"user_id": 1.0, "original_url": "https://x.io"}),
        json!({"user_id": true, "original_url": "https://x.io"}),
        json!({"user_id": user, "original_url": 7}),
        json!({"user_id": user, "original_url": "https://x.io", "title": 7}),
        json!({"original_url": "https://x.io"}),
    ];
    for body in wrong_types {
        expect_error(app.post("/urls", body).await, 400).await;
    }
    let nobody = json!({"user_id": 999_999, "original_url": "https://x.io"});
    expect_error(app.post("/urls", nobody).await, 404).await;
}

async fn targets_are_kept_in_the_browser_normal_form(app: TestApp) {
    let user = app.user("ada").await;
    let sent = "HTTPS://Bücher.EXAMPLE:443/a b/%7E?q=1+2&q=%41&b=é#Frag";

    let link = app.link(user, sent).await;

    let normal = "https://xn--bcher-kva.example/a%20b/%7E?q=1+2&q=%41&b=%C3%A9#Frag";
    assert_eq!(link["original_url"], normal);
    let code = link["short_code"].as_str().unwrap();
    let redirect = app.get(&format!("/{code}")).await;
    assert_eq!(redirect.headers()["location"].as_bytes(), normal.as_bytes());
    let http = app.link(user, "http://Example.com:80").await;
    assert_eq!(http["original_url"], "http://example.com/");
}

async fn a_target_on_hops_own_origin_is_refused(app: TestApp) {
    let user = app.user("ada").await;
    let own = format!("{}/WqxP6K", app.address);

    let error = expect_error(
        app.post("/urls", json!({"user_id": user, "original_url": own}))
            .await,
        400,
    )
    .await;

    assert!(error["details"]["original_url"]
        .as_str()
        .unwrap()
        .contains("own"));
}

async fn the_same_target_twice_gets_two_codes(app: TestApp) {
    let user = app.user("ada").await;

    let first = app.link(user, "https://example.com/same").await;
    let second = app.link(user, "https://example.com/same").await;

    assert_ne!(first["short_code"], second["short_code"]);
    assert_ne!(first["id"], second["id"]);
}

async fn links_are_filtered_and_paged(app: TestApp) {
    app.seed().await;

    let all = json(app.get("/urls").await).await;
    let active = json(app.get("/urls?is_active=true").await).await;
    let inactive = json(app.get("/urls?is_active=false").await).await;
    let of_user = json(app.get("/urls?user_id=271").await).await;
    let page = json(app.get("/urls?page=2&per_page=5").await).await;

    assert_eq!(all.as_array().unwrap().len(), 2000);
    assert_eq!(active.as_array().unwrap().len(), 1646);
    assert_eq!(inactive.as_array().unwrap().len(), 354);
    assert!(of_user
        .as_array()
        .unwrap()
        .iter()
        .all(|l| l["user_id"] == 271));
    assert!(of_user
        .as_array()
        .unwrap()
        .iter()
        .any(|l| l["short_code"] == "cCZohi"));
    let ids: Vec<i64> = page
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["id"].as_i64().unwrap())
        .collect();
    assert_eq!(ids, vec![6, 7, 8, 9, 10]);
    assert_eq!(all[0]["short_code"], "WqxP6K");
    assert_eq!(all[0]["title"], "Service guide orbit");
    assert_eq!(all[0]["updated_at"], "2025-07-05T18:21:21");
    for bad in [
        "is_active=yes",
        "is_active=1",
        "user_id=abc",
        "user_id=0",
        "per_page=5000",
    ] {
        expect_error(app.get(&format!("/urls?{bad}")).await, 400).await;
    }
}

async fn updating_a_link_records_one_event_per_changed_field(app: TestApp) {
    let user = app.user("ada").await;
    let link = app.link(user, "https://example.com/a").await;
    let path = format!("/urls/{}", link["id"]);

    let body = json!({"title": "New", "is_active": false, "original_url": "https://example.com/a"});
    let response = app.put(&path, body).await;

    assert_eq!(response.status(), 200);
    let updated = json(response).await;
    assert_eq!(updated["title"], "New");
    assert_eq!(updated["is_active"], false);
    assert_eq!(updated["short_code"], link["short_code"]);
    let events = json(
        app.get(&format!("/events?url_id={}&event_type=updated", link["id"]))
            .await,
    )
    .await;
    let details: Vec<Value> = events
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["details"].clone())
        .collect();
    assert_eq!(
        details,
        vec![
            json!({"field": "title", "new_value": "New"}),
            json!({"field": "is_active", "new_value": "false"}),
        ]
    );
    let code = link["short_code"].as_str().unwrap();
    expect_error(app.get(&format!("/{code}")).await, 404).await;
    assert_eq!(
        json(app.get(&path).await).await,
        updated,
        "inactive links are still readable"
    );

    app.put(&path, json!({"is_active": true})).await;
    assert_eq!(app.get(&format!("/{code}")).await.status(), 302);
    let moved = app
        .put(&path, json!({"original_url": "https://example.com/b"}))
        .await;
    assert_eq!(json(moved).await["original_url"], "https://example.com/b");
    let redirect = app.get(&format!("/{code}")).await;
    assert_eq!(redirect.headers()["location"], "https://example.com/b");

    expect_error(app.put(&path, json!({})).await, 400).await;
    expect_error(app.put(&path, json!({"is_active": "false"})).await, 400).await;
    expect_error(app.put(&path, json!({"is_active": 0})).await, 400).await;
    expect_error(
        app.put(&path, json!({"original_url": "ftp://x"})).await,
        400,
    )
    .await;
    expect_error(app.put("/urls/999999", json!({"title": "x"})).await, 404).await;
}

async fn updated_at_moves_forward_on_every_change(app: TestApp) {
    let user = app.user("ada").await;
    let link = app.link(user, "https://example.com/a").await;
    let path = format!("/urls/{}", link["id"]);

    let mut previous = link["updated_at"].as_str().unwrap().to_owned();
    for title in ["one", "two", "three"] {
        let updated = json(app.put(&path, json!({"title": title})).await).await;
        let now = updated["updated_at"].as_str().unwrap().to_owned();
        assert!(now > previous, "{now} should be after {previous}");
        previous = now;
    }
}

async fn deleting_a_link_keeps_its_history(app: TestApp) {
    let user = app.user("ada").await;
    let link = app.link(user, "https://example.com/a").await;
    let code = link["short_code"].as_str().unwrap();
    let path = format!("/urls/{}", link["id"]);
    app.get(&format!("/{code}")).await;

    let response = app.delete(&path).await;

    assert_eq!(response.status(), 204);
    assert!(response.bytes().await.unwrap().is_empty());
    expect_error(app.get(&path).await, 404).await;
    expect_error(app.get(&format!("/{code}")).await, 404).await;
    expect_error(app.delete(&path).await, 404).await;
    expect_error(app.put(&path, json!({"title": "x"})).await, 404).await;
    assert_eq!(json(app.get("/urls").await).await, json!([]));
    let events = json(app.get(&format!("/events?url_id={}", link["id"])).await).await;
    // The click is written by the recorder and may land after the delete: compare as a set.
    let mut kinds = event_types(&events);
    kinds.sort_unstable();
    assert_eq!(kinds, vec!["click", "created", "deleted"]);
    let deleted = events
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["event_type"] == "deleted");
    assert_eq!(
        deleted.unwrap()["details"],
        json!({"reason": "user_requested"})
    );
}
