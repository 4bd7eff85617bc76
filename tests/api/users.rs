use serde_json::json;

use crate::both_backends;
use crate::harness::{expect_error, json, seed_dir, TestApp};

both_backends!(
    creating_a_user_returns_201_and_the_user,
    posting_the_same_user_again_returns_the_existing_one,
    a_taken_username_or_email_is_a_conflict,
    wrong_types_and_shapes_are_400_with_details,
    bodies_that_are_not_json_objects_are_400,
    users_are_listed_by_id_and_paged,
    unknown_or_malformed_user_ids_are_404,
    updating_a_user_returns_the_whole_user,
    deleting_a_user_takes_their_links_and_events,
    bulk_upload_imports_keeps_ids_and_repeats_safely,
    bulk_upload_refuses_missing_or_wrong_files,
);

async fn creating_a_user_returns_201_and_the_user(app: TestApp) {
    let response = app
        .post(
            "/users",
            json!({"username": " ada ", "email": "ada@example.com"}),
        )
        .await;

    assert_eq!(response.status(), 201);
    let user = json(response).await;
    assert_eq!(user["username"], "ada");
    assert_eq!(user["email"], "ada@example.com");
    assert!(user["id"].as_i64().unwrap() > 0);
    let created = user["created_at"].as_str().unwrap();
    assert_eq!(created.len(), 19, "YYYY-MM-DDTHH:MM:SS: {created}");
    assert_eq!(&created[10..11], "T");
    assert_eq!(
        json(app.get(&format!("/users/{}", user["id"])).await).await,
        user
    );
}

async fn posting_the_same_user_again_returns_the_existing_one(app: TestApp) {
    let first = json(
        app.post("/users", json!({"username": "ada", "email": "ada@x.io"}))
            .await,
    )
    .await;

    let again = app
        .post("/users", json!({"username": "ada", "email": "ada@x.io"}))
        .await;

    assert_eq!(again.status(), 201);
    assert_eq!(json(again).await, first);
    assert_eq!(
        json(app.get("/users").await)
            .await
            .as_array()
            .unwrap()
            .len(),
        1
    );
}

async fn a_taken_username_or_email_is_a_conflict(app: TestApp) {
    app.user("ada").await;

    let same_name = app
        .post("/users", json!({"username": "ada", "email": "other@x.io"}))
        .await;
    expect_error(same_name, 409).await;
    let same_email = app
        .post(
            "/users",
            json!({"username": "bob", "email": "ADA@Example.com"}),
        )
        .await;
    expect_error(same_email, 409).await;
}

async fn wrong_types_and_shapes_are_400_with_details(app: TestApp) {
    let cases = [
        json!({"email": "a@x.io"}),
        json!({"username": "a"}),
        json!({"username": "   ", "email": "a@x.io"}),
        json!({"username": 7, "email": "a@x.io"}),
        json!({"username": true, "email": "a@x.io"}),
        json!({"username": [], "email": "a@x.io"}),
        json!({"username": {}, "email": "a@x.io"}),
        json!({"username": "a", "email": "not-an-email"}),
        json!({"username": "a", "email": "a@nodot"}),
    ];
    for body in cases {
        let error = expect_error(app.post("/users", body.clone()).await, 400).await;
        assert!(error["details"].is_object(), "{body} -> {error}");
    }
    let error = expect_error(app.post("/users", json!({"username": 7})).await, 400).await;
    assert_eq!(error["details"]["username"], "must be a string");
    assert_eq!(error["details"]["email"], "is required");
}

async fn bodies_that_are_not_json_objects_are_400(app: TestApp) {
    let bodies = [
        ("hello", Some("text/plain")),
        ("\"a string\"", Some("application/json")),
        ("[1, 2]", Some("application/json")),
        ("42", Some("application/json")),
        ("null", Some("application/json")),
        ("", Some("application/json")),
        ("{\"username\": ", Some("application/json")),
        (
            "username=a&email=a%40x.io",
            Some("application/x-www-form-urlencoded"),
        ),
    ];
    for (body, kind) in bodies {
        expect_error(app.post_raw("/users", body, kind).await, 400).await;
    }

    let no_header = app
        .post_raw("/users", r#"{"username":"ada","email":"a@x.io"}"#, None)
        .await;
    assert_eq!(
        no_header.status(),
        201,
        "JSON is parsed without a Content-Type"
    );
}

async fn users_are_listed_by_id_and_paged(app: TestApp) {
    app.seed().await;

    let all = json(app.get("/users").await).await;
    let first_ten = json(app.get("/users?page=1&per_page=10").await).await;
    let second_ten = json(app.get("/users?page=2&per_page=10").await).await;

    assert_eq!(all.as_array().unwrap().len(), 400);
    let ids = |list: &serde_json::Value| -> Vec<i64> {
        list.as_array()
            .unwrap()
            .iter()
            .map(|u| u["id"].as_i64().unwrap())
            .collect()
    };
    assert_eq!(ids(&first_ten), (1..=10).collect::<Vec<_>>());
    assert_eq!(ids(&second_ten), (11..=20).collect::<Vec<_>>());
    assert_eq!(first_ten[0]["username"], "briskkernel84");
    assert_eq!(first_ten[0]["created_at"], "2024-11-14T04:11:00");
    for bad in [
        "page=0",
        "per_page=0",
        "per_page=1001",
        "page=x",
        "page=1.5",
        "per_page=-3",
    ] {
        expect_error(app.get(&format!("/users?{bad}")).await, 400).await;
    }
}

async fn unknown_or_malformed_user_ids_are_404(app: TestApp) {
    for path in [
        "/users/0",
        "/users/-1",
        "/users/abc",
        "/users/1.0",
        "/users/99999999999999999999",
    ] {
        let body = expect_error(app.get(path).await, 404).await;
        assert_eq!(body["error"], "user not found", "{path}");
    }
    for body in [
        expect_error(app.get("/users/12345").await, 404).await,
        expect_error(app.put("/users/12345", json!({"username": "x"})).await, 404).await,
        expect_error(app.delete("/users/12345").await, 404).await,
        expect_error(app.delete("/users/abc").await, 404).await,
    ] {
        assert_eq!(body["error"], "user not found");
    }
    let body = expect_error(app.get("/urls/abc").await, 404).await;
    assert_eq!(body["error"], "link not found");
}

async fn updating_a_user_returns_the_whole_user(app: TestApp) {
    let id = app.user("ada").await;
    app.user("bob").await;

    let renamed = app
        .put(&format!("/users/{id}"), json!({"username": "ada2"}))
        .await;
    assert_eq!(renamed.status(), 200);
    let user = json(renamed).await;
    assert_eq!(user["username"], "ada2");
    assert_eq!(user["email"], "ada@example.com");

    let same = app
        .put(&format!("/users/{id}"), json!({"email": "ada@example.com"}))
        .await;
    assert_eq!(same.status(), 200);
    expect_error(app.put(&format!("/users/{id}"), json!({})).await, 400).await;
    expect_error(
        app.put(&format!("/users/{id}"), json!({"username": "bob"}))
            .await,
        409,
    )
    .await;
    let taken = json!({"email": "BOB@example.com"});
    expect_error(app.put(&format!("/users/{id}"), taken).await, 409).await;
    expect_error(
        app.put(&format!("/users/{id}"), json!({"email": "nope"}))
            .await,
        400,
    )
    .await;
    expect_error(
        app.put(&format!("/users/{id}"), json!({"username": 5}))
            .await,
        400,
    )
    .await;
}

async fn deleting_a_user_takes_their_links_and_events(app: TestApp) {
    let id = app.user("ada").await;
    let keep = app.user("bob").await;
    let link = app.link(id, "https://example.com/a").await;
    let kept = app.link(keep, "https://example.com/b").await;
    let code = link["short_code"].as_str().unwrap();
    assert_eq!(app.get(&format!("/{code}")).await.status(), 302);

    let response = app.delete(&format!("/users/{id}")).await;

    assert_eq!(response.status(), 204);
    assert!(response.bytes().await.unwrap().is_empty());
    expect_error(app.get(&format!("/users/{id}")).await, 404).await;
    expect_error(app.get(&format!("/urls/{}", link["id"])).await, 404).await;
    expect_error(app.get(&format!("/{code}")).await, 404).await;
    let theirs = json(app.get(&format!("/events?user_id={id}")).await).await;
    assert_eq!(theirs, json!([]));
    let of_link = json(app.get(&format!("/events?url_id={}", link["id"])).await).await;
    assert_eq!(of_link, json!([]));
    let others = json(app.get(&format!("/events?url_id={}", kept["id"])).await).await;
    assert_eq!(others.as_array().unwrap().len(), 1);
}

async fn bulk_upload_imports_keeps_ids_and_repeats_safely(app: TestApp) {
    let csv = std::fs::read(seed_dir().join("users.csv")).unwrap();
    let upload = || {
        let part = reqwest::multipart::Part::bytes(csv.clone()).file_name("users.csv");
        app.client
            .post(app.url("/users/bulk"))
            .multipart(reqwest::multipart::Form::new().part("file", part))
            .send()
    };

    let first = upload().await.unwrap();
    assert_eq!(first.status(), 201);
    let body = json(first).await;
    assert_eq!(
        (body["count"].as_u64(), body["imported"].as_u64()),
        (Some(400), Some(400))
    );
    assert_eq!(body["rejected"], json!([]));

    let again = json(upload().await.unwrap()).await;
    assert_eq!(
        (again["count"].as_u64(), again["unchanged"].as_u64()),
        (Some(400), Some(400))
    );
    let user = json(app.get("/users/7").await).await;
    let next = app.user("newcomer").await;
    assert_eq!(next, 401);
    assert_eq!(user["id"], 7);
}

async fn bulk_upload_refuses_missing_or_wrong_files(app: TestApp) {
    let send = |name: &'static str, bytes: &'static [u8]| {
        let part = reqwest::multipart::Part::bytes(bytes).file_name("x.csv");
        app.client
            .post(app.url("/users/bulk"))
            .multipart(reqwest::multipart::Form::new().part(name, part))
            .send()
    };

    expect_error(
        send("other", b"id,username,email,created_at\n")
            .await
            .unwrap(),
        400,
    )
    .await;
    expect_error(send("file", b"name,mail\nada,a@x.io\n").await.unwrap(), 400).await;
    expect_error(send("file", b"").await.unwrap(), 400).await;
    expect_error(app.post("/users/bulk", json!({"file": "x"})).await, 400).await;

    let mixed = b"id,username,email,created_at\n\
                  1,ada,ada@x.io,2025-01-01 00:00:00\n\
                  2,bob,not-an-email,2025-01-01 00:00:00\n\
                  3,cy,cy@x.io,yesterday\n";
    let body = json(send("file", mixed).await.unwrap()).await;
    assert_eq!(body["count"], 1);
    assert_eq!(body["rejected"][0]["line"], 3);
    assert_eq!(body["rejected"][1]["line"], 4);
    assert_eq!(body["rejected"].as_array().unwrap().len(), 2);
}
