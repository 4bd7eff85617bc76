use std::collections::HashSet;

use futures::future::join_all;
use hop::domain::now;
use hop::store::{Click, Resolved};
use serde_json::json;

use crate::both_backends;
use crate::harness::{json, TestApp};

both_backends!(
    fifty_parallel_creates_and_redirects_all_succeed_once,
    a_user_deleted_while_its_events_are_written_leaves_none_behind,
);

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

/// On PostgreSQL `events.user_id` has no foreign key: the event writers' gate alone keeps a
/// user's clicks and link edits from landing after the user's deletion.
async fn a_user_deleted_while_its_events_are_written_leaves_none_behind(app: TestApp) {
    for round in 0..12 {
        let user = app.user(&format!("gone{round}")).await;
        let link = app.link(user, "https://example.com/racing").await;
        let link_id = link["id"].as_i64().unwrap();
        let path = format!("/{}", link["short_code"].as_str().unwrap());
        let redirects = join_all((0..60).map(|_| app.get(&path)));
        let edits = async {
            for n in 0..4 {
                let path = format!("/urls/{link_id}");
                let status = app
                    .put(&path, json!({"title": format!("t{n}")}))
                    .await
                    .status();
                assert!(status == 200 || status == 404, "edit answered {status}");
            }
        };
        let delete = async { app.delete(&format!("/users/{user}")).await.status() };
        let (followed, (), deleted) = tokio::join!(redirects, edits, delete);
        assert_eq!(deleted, 204);
        assert!(followed
            .iter()
            .all(|r| [302, 404].contains(&r.status().as_u16())));
        // A read waits for the clicks queued before it.
        for filter in [format!("user_id={user}"), format!("url_id={link_id}")] {
            let left = json(app.get(&format!("/events?{filter}")).await).await;
            assert_eq!(left, json!([]), "round {round}, events with {filter}");
        }
        let click = Click {
            target: Resolved {
                link_id,
                user_id: user,
                short_code: link["short_code"].as_str().unwrap().into(),
                original_url: "https://example.com/racing".into(),
            },
            at: now(),
            referrer: None,
            user_agent: None,
        };
        let late = app
            .store()
            .await
            .record_clicks(&[click])
            .await
            .expect("skipped");
        assert_eq!(late, 0, "a click of a deleted user is not written");
    }
}
