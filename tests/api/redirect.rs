use std::collections::{HashMap, HashSet};

use futures::{stream, StreamExt};
use serde_json::json;

use crate::both_backends;
use crate::harness::{expect_error, json, seed_dir, TestApp};

both_backends!(
    every_seeded_active_code_redirects_and_the_rest_are_404,
    a_redirect_records_one_click_visible_at_once,
    unknown_codes_record_nothing,
    head_answers_like_get_without_a_click,
    codes_match_exactly_and_tolerate_a_trailing_slash,
    seeded_codes_followed_all_at_once_answer_as_one_at_a_time,
);

/// The seed's links as (code, target, active).
fn seeded_links() -> Vec<(String, String, bool)> {
    let mut reader = csv::Reader::from_path(seed_dir().join("urls.csv")).unwrap();
    reader
        .records()
        .map(|row| {
            let row = row.unwrap();
            (row[2].to_owned(), row[3].to_owned(), &row[5] == "True")
        })
        .collect()
}

async fn every_seeded_active_code_redirects_and_the_rest_are_404(app: TestApp) {
    app.seed().await;
    let links = seeded_links();

    let mut outcomes: HashMap<u16, usize> = HashMap::new();
    for (code, target, active) in &links {
        let response = app.get(&format!("/{code}")).await;
        let status = response.status().as_u16();
        *outcomes.entry(status).or_default() += 1;
        if *active {
            assert_eq!(status, 302, "{code}");
            assert_eq!(response.headers()["location"].as_bytes(), target.as_bytes());
            assert_eq!(response.headers()["cache-control"], "private, max-age=0");
        } else {
            expect_error(response, 404).await;
        }
    }

    assert_eq!(outcomes[&302], 1646);
    assert_eq!(outcomes[&404], 354);
    let clicks = json(app.get("/events?event_type=click").await).await;
    assert_eq!(clicks.as_array().unwrap().len(), 1646);
}

async fn a_redirect_records_one_click_visible_at_once(app: TestApp) {
    let user = app.user("ada").await;
    let link = app.link(user, "https://example.com/landing").await;
    let code = link["short_code"].as_str().unwrap();

    let response = app
        .client
        .get(app.url(&format!("/urls/{code}/redirect")))
        .header("referer", "https://news.example/post")
        .header("user-agent", "hop-test/1.0")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 302);
    assert_eq!(
        response.headers()["location"],
        "https://example.com/landing"
    );
    let plain = app
        .client
        .get(app.url(&format!("/{code}")))
        .send()
        .await
        .unwrap();
    assert_eq!(plain.status(), 302);

    let clicks = json(
        app.get(&format!("/events?url_id={}&event_type=click", link["id"]))
            .await,
    )
    .await;
    assert_eq!(clicks.as_array().unwrap().len(), 2);
    assert_eq!(clicks[0]["user_id"], user);
    assert_eq!(
        clicks[0]["details"],
        json!({
            "short_code": code,
            "original_url": "https://example.com/landing",
            "referrer": "https://news.example/post",
            "user_agent": "hop-test/1.0",
        })
    );
    assert!(clicks[1]["details"].get("referrer").is_none());
}

async fn unknown_codes_record_nothing(app: TestApp) {
    let before = json(app.get("/events").await).await;

    for path in [
        "/nosuch",
        "/urls/nosuch/redirect",
        "/a.b",
        "/%2F%2Fevil.example",
    ] {
        expect_error(app.get(path).await, 404).await;
    }

    assert_eq!(json(app.get("/events").await).await, before);
}

async fn head_answers_like_get_without_a_click(app: TestApp) {
    let user = app.user("ada").await;
    let link = app.link(user, "https://example.com/head").await;
    let code = link["short_code"].as_str().unwrap();

    // The first goes through the router, the second (cached) through the express lane.
    let mut answers = Vec::new();
    for _ in 0..2 {
        let response = app
            .client
            .head(app.url(&format!("/{code}")))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 302);
        assert_eq!(response.headers()["location"], "https://example.com/head");
        assert_eq!(response.headers()["content-length"], "0");
        let mut names: Vec<String> = response.headers().keys().map(|n| n.to_string()).collect();
        names.sort();
        answers.push(names);
    }
    assert_eq!(answers[0], answers[1]);
    let clicks = json(app.get("/events?event_type=click").await).await;
    assert_eq!(clicks, json!([]));
}

async fn codes_match_exactly_and_tolerate_a_trailing_slash(app: TestApp) {
    let user = app.user("ada").await;
    let link = app.link(user, "https://example.com/exact").await;
    let code = link["short_code"].as_str().unwrap();
    let flipped = flip_case(code);

    assert_eq!(app.get(&format!("/{code}/")).await.status(), 302);
    if flipped != code {
        expect_error(app.get(&format!("/{flipped}")).await, 404).await;
    }
    expect_error(app.get(&format!("/{code}x")).await, 404).await;
    // Paths that do not decode to text name no link: a JSON 404, like any unknown code.
    expect_error(app.get("/%FF").await, 404).await;
    expect_error(app.get("/urls/%FF/redirect").await, 404).await;
}

/// Misses that arrive together are read from the database in shared statements: every code of
/// such a batch gets its own answer, inactive and unknown ones included.
async fn seeded_codes_followed_all_at_once_answer_as_one_at_a_time(app: TestApp) {
    app.seed().await;
    let mut links = seeded_links();
    // Codes no link has, differing from a real code only in case.
    let known: HashSet<String> = links.iter().map(|(code, _, _)| code.clone()).collect();
    let unknown: Vec<(String, String, bool)> = links
        .iter()
        .step_by(20)
        .map(|(code, _, _)| (flip_case(code), String::new(), false))
        .filter(|(code, _, _)| !known.contains(code))
        .collect();
    let unknown_count = unknown.len();
    assert!(unknown_count > 50, "{unknown_count}");
    links.extend(unknown);

    let app = &app;
    let answers: Vec<(u16, Option<String>)> = stream::iter(&links)
        .map(|(code, _, _)| async move {
            let response = app.get(&format!("/{code}")).await;
            let location = response
                .headers()
                .get("location")
                .map(|value| value.to_str().unwrap().to_owned());
            (response.status().as_u16(), location)
        })
        .buffered(200)
        .collect()
        .await;

    for ((code, target, active), (status, location)) in links.iter().zip(&answers) {
        if *active {
            assert_eq!(*status, 302, "{code}");
            assert_eq!(location.as_deref(), Some(target.as_str()), "{code}");
        } else {
            assert_eq!((*status, location.as_deref()), (404, None), "{code}");
        }
    }
    let found = answers.iter().filter(|(status, _)| *status == 302).count();
    assert_eq!(found, 1646);
    assert_eq!(answers.len() - found, 354 + unknown_count);
}

fn flip_case(code: &str) -> String {
    code.chars()
        .map(|c| {
            if c.is_ascii_uppercase() {
                c.to_ascii_lowercase()
            } else {
                c.to_ascii_uppercase()
            }
        })
        .collect()
}
