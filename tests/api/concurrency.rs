use std::collections::HashSet;

use futures::future::join_all;
use hop::domain::now;
use hop::store::{Click, Resolved};
use serde_json::{json, Value};
use sqlx::{Connection, Executor, PgConnection};

use crate::both_backends;
use crate::harness::{event_types, expect_error, json, run, Backend, TestApp};

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

/// A user's deletion racing the user's redirects, link edits and the clicks still queued:
/// every writer of events locks the users before the link, so none of them deadlocks with the
/// deletion (a 500 before that order, 6 runs out of 6 on PostgreSQL), and nothing of the user
/// is left behind, not even a click written after the deletion.
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

/// PostgreSQL breaks a deadlock by giving up one of its transactions. When that is hop's, the
/// caller gets a 503 that says to retry, not a 500, nothing of the change is kept, and the
/// retry goes through. The other transaction takes the link, then its owner: the order that
/// hop's own writes avoid, as an earlier release's replica still takes it during an update.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_change_given_up_in_a_deadlock_answers_503_and_its_retry_succeeds() {
    run(Backend::Postgres, given_up_in_a_deadlock).await;
}

async fn given_up_in_a_deadlock(app: TestApp) {
    let (user, _, id, mut other) = a_link_held_by_another_session(&app).await;
    let path = format!("/urls/{id}");

    let edit = app.put(&path, json!({"title": "new"}));
    let other_side = async {
        waits_for_a_lock(&app.database_url).await;
        sqlx::query("SELECT 1 FROM users WHERE id = $1 FOR UPDATE")
            .bind(user)
            .execute(&mut other)
            .await
            .expect("the other transaction goes on once hop's is given up");
        other.execute("ROLLBACK").await.unwrap();
    };
    let (given_up, ()) = tokio::join!(edit, other_side);

    assert_eq!(given_up.headers()["retry-after"], "1");
    assert_eq!(
        expect_error(given_up, 503).await,
        json!({"error": "the change collided with a concurrent one and was not made; retry it"})
    );
    assert_eq!(json(app.get(&path).await).await["title"], json!(null));
    let retried = app.put(&path, json!({"title": "new"})).await;
    assert_eq!(json(retried).await["title"], "new");
    let history = json(app.get(&format!("/events?url_id={id}")).await).await;
    assert_eq!(
        event_types(&history),
        ["created", "updated"],
        "one change, recorded once"
    );
}

/// A user and a link of theirs, and another session in a transaction that holds the link's
/// row (`FOR UPDATE`). That session looks for a deadlock last (`deadlock_timeout` 60 s), so
/// that in a cycle with hop's session, hop's is the one given up.
async fn a_link_held_by_another_session(app: &TestApp) -> (i64, Value, i64, PgConnection) {
    let user = app.user("ada").await;
    let link = app.link(user, "https://example.com/held").await;
    let id = link["id"].as_i64().unwrap();
    let mut other = PgConnection::connect(&app.database_url).await.unwrap();
    other.execute("SET deadlock_timeout = '60s'").await.unwrap();
    other.execute("BEGIN").await.unwrap();
    sqlx::query("SELECT 1 FROM urls WHERE id = $1 FOR UPDATE")
        .bind(id)
        .execute(&mut other)
        .await
        .unwrap();
    (user, link, id, other)
}

/// Returns once a session of the database at `url` waits for a row lock (at most 10 s).
async fn waits_for_a_lock(url: &str) {
    let mut watcher = PgConnection::connect(url).await.unwrap();
    for _ in 0..1_000 {
        let waiting: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM pg_stat_activity \
             WHERE datname = current_database() AND wait_event_type = 'Lock'",
        )
        .fetch_one(&mut watcher)
        .await
        .unwrap();
        if waiting > 0 {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    panic!("no session waited for a lock within 10 s");
}

/// Reading a link takes no row lock: a change of it in flight (here another session holding
/// the row) does not hold up `GET /urls/{id}`, which used to wait for it until the statement
/// timeout and answer 503.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_link_read_does_not_wait_for_a_change_of_it_in_flight() {
    run(Backend::Postgres, read_beside_a_locked_link).await;
}

async fn read_beside_a_locked_link(app: TestApp) {
    let (_, link, id, mut other) = a_link_held_by_another_session(&app).await;

    let read = tokio::time::timeout(
        std::time::Duration::from_secs(3),
        app.get(&format!("/urls/{id}")),
    )
    .await
    .expect("the read answers while the row is locked");

    assert_eq!(json(read).await, link);
    other.execute("ROLLBACK").await.unwrap();
}
