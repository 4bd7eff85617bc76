use std::collections::HashSet;

use futures::future::join_all;
use serde_json::json;

use crate::both_backends;
use crate::harness::{json, TestApp};

both_backends!(fifty_parallel_creates_and_redirects_all_succeed_once);

async fn fifty_parallel_creates_and_redirects_all_succeed_once(app: TestApp) {
    let user = app.user("ada").await;
    let target = app.link(user, "https://example.com/hot").await;
    let code = target["short_code"].as_str().unwrap().to_owned();

    let creates = (0..50).map(|n| {
        let body = json!({"user_id": user, "original_url": format!("https://example.com/{n}")});
        app.post("/urls", body)
    });
    let path = format!("/{code}");
    let redirects = (0..50).map(|_| app.get(&path));
    let (created, followed) = tokio::join!(join_all(creates), join_all(redirects));

    let mut codes = HashSet::new();
    for response in created {
        assert_eq!(response.status(), 201);
        codes.insert(
            json(response).await["short_code"]
                .as_str()
                .unwrap()
                .to_owned(),
        );
    }
    assert_eq!(codes.len(), 50, "no code was handed out twice");
    assert!(followed.iter().all(|response| response.status() == 302));
    let clicks = json(
        app.get(&format!("/events?url_id={}&event_type=click", target["id"]))
            .await,
    )
    .await;
    assert_eq!(
        clicks.as_array().unwrap().len(),
        50,
        "every click recorded exactly once"
    );
}
