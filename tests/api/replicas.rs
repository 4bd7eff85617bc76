//! Two real `hop` processes sharing PostgreSQL and Redis, as replicas behind a load balancer.

use reqwest::Client;
use serde_json::{json, Value};

use crate::harness::{
    create_user, http_client, redis_database, wait_for_listeners, Backend, HopProcess, TestDatabase,
};

async fn send(client: &Client, method: reqwest::Method, url: String, body: Option<Value>) -> Value {
    let mut request = client.request(method, url);
    if let Some(body) = body {
        request = request.json(&body);
    }
    let response = request.send().await.expect("request");
    response.json().await.unwrap_or(Value::Null)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_change_on_one_replica_takes_effect_on_the_other_at_once() {
    let Some(database) = TestDatabase::create(Backend::Postgres).await else {
        eprintln!("SKIPPED: PostgreSQL is not reachable");
        return;
    };
    let Some(redis) = redis_database(3).await else {
        eprintln!("SKIPPED: Redis is not reachable (set TEST_REDIS_URL)");
        return;
    };
    let a = HopProcess::start(&[("DATABASE_URL", &database.url), ("REDIS_URL", &redis)]);
    let b = HopProcess::start(&[("DATABASE_URL", &database.url), ("REDIS_URL", &redis)]);
    let client = http_client();
    let user = create_user(&client, &a.address, "ada").await;

    for round in 0..20 {
        let body = json!({"user_id": user["id"], "original_url": format!("https://x.io/{round}")});
        let link = send(
            &client,
            reqwest::Method::POST,
            format!("{}/urls", a.address),
            Some(body),
        )
        .await;
        let code = link["short_code"].as_str().expect("code").to_owned();
        let on_b = format!("{}/{code}", b.address);
        let link_on_a = format!("{}/urls/{}", a.address, link["id"]);
        let status = |url: String| {
            let client = client.clone();
            async move { client.get(url).send().await.expect("redirect") }
        };
        assert_eq!(
            status(on_b.clone()).await.status(),
            302,
            "round {round}: B knows the link"
        );

        let off = json!({"is_active": false});
        send(&client, reqwest::Method::PUT, link_on_a.clone(), Some(off)).await;
        assert_eq!(
            status(on_b.clone()).await.status(),
            404,
            "round {round}: deactivated"
        );

        let moved = json!({"is_active": true, "original_url": format!("https://y.io/{round}")});
        send(
            &client,
            reqwest::Method::PUT,
            link_on_a.clone(),
            Some(moved),
        )
        .await;
        let response = status(on_b.clone()).await;
        assert_eq!(response.status(), 302, "round {round}: reactivated");
        assert_eq!(
            response.headers()["location"],
            format!("https://y.io/{round}").as_str()
        );

        client.delete(link_on_a).send().await.expect("delete");
        assert_eq!(status(on_b).await.status(), 404, "round {round}: deleted");
    }

    drop((a, b));
    database.drop_it().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hop_serves_without_redis_when_redis_is_unreachable() {
    let database = TestDatabase::create(Backend::Sqlite).await.expect("sqlite");
    // Nothing listens on port 1 of loopback: every Redis call fails fast.
    let hop = HopProcess::start(&[
        ("DATABASE_URL", &database.url),
        ("REDIS_URL", "redis://127.0.0.1:1"),
    ]);
    let client = http_client();

    let user = create_user(&client, &hop.address, "ada").await;
    let body = json!({"user_id": user["id"], "original_url": "https://x.io/a"});
    let link = send(
        &client,
        reqwest::Method::POST,
        format!("{}/urls", hop.address),
        Some(body),
    )
    .await;
    let code = link["short_code"]
        .as_str()
        .expect("a link was created without redis");

    for _ in 0..20 {
        let response = client
            .get(format!("{}/{code}", hop.address))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 302);
    }
}

/// Deleting a user takes all of the user's links off every replica at once, told in one message
/// on the channel of the replicas' own Redis database: a hop on another database of the same
/// Redis server neither hears it nor is waited for. (Each link used to be announced on its own,
/// on a channel every database shares, so each waited out the acknowledgement timeout for the
/// other database's subscriber: 30 links outlasted the request deadline, a 503 for a user who
/// was deleted, and links that kept redirecting.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deleting_a_user_stops_all_of_its_links_on_every_replica_at_once() {
    let Some(database) = TestDatabase::create(Backend::Postgres).await else {
        eprintln!("SKIPPED: PostgreSQL is not reachable");
        return;
    };
    let (Some(redis), Some(other_redis)) = (redis_database(4).await, redis_database(1).await)
    else {
        eprintln!("SKIPPED: Redis is not reachable (set TEST_REDIS_URL)");
        return;
    };
    let a = HopProcess::start(&[("DATABASE_URL", &database.url), ("REDIS_URL", &redis)]);
    let b = HopProcess::start(&[("DATABASE_URL", &database.url), ("REDIS_URL", &redis)]);
    let bystander_db = TestDatabase::create(Backend::Sqlite).await.expect("sqlite");
    let bystander = HopProcess::start(&[
        ("DATABASE_URL", &bystander_db.url),
        ("REDIS_URL", &other_redis),
    ]);
    let client = http_client();
    let user = create_user(&client, &a.address, "ada").await;
    let mut codes = Vec::new();
    for n in 0..30 {
        let body = json!({"user_id": user["id"], "original_url": format!("https://x.io/{n}")});
        let url = format!("{}/urls", a.address);
        let link = send(&client, reqwest::Method::POST, url, Some(body)).await;
        codes.push(link["short_code"].as_str().expect("code").to_owned());
    }
    assert_eq!(statuses(&client, &codes, [&a, &b]).await, vec![302; 60]);

    let deleted = client
        .delete(format!("{}/users/{}", a.address, user["id"]))
        .send()
        .await
        .unwrap();

    assert_eq!(deleted.status(), 204);
    assert_eq!(statuses(&client, &codes, [&a, &b]).await, vec![404; 60]);
    let unacknowledged = a
        .log
        .lock()
        .unwrap()
        .iter()
        .filter(|line| line.contains("not every replica acknowledged"))
        .count();
    assert_eq!(unacknowledged, 0, "the bystander was not waited for");
    drop((a, b, bystander));
    database.drop_it().await;
}

/// The status of a redirect of each code on each replica.
async fn statuses(client: &Client, codes: &[String], replicas: [&HopProcess; 2]) -> Vec<u16> {
    let mut statuses = Vec::new();
    for code in codes {
        for replica in replicas {
            let url = format!("{}/{code}", replica.address);
            statuses.push(client.get(url).send().await.unwrap().status().as_u16());
        }
    }
    statuses
}

/// Misses that arrive together are looked up in Redis with one `MGET` and stored with one
/// pipeline of `SET`s per batch: every answer must still be the right one, and every entry
/// stored with its lifetime.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn misses_arriving_together_are_shared_through_redis_each_with_its_own_answer() {
    let settings = [
        ("HOP_DEBUG_CACHE_HEADER", "true"),
        ("HOP_RATE_LIMIT_PER_SEC", "0"),
    ];
    let Some(Pair {
        database,
        redis,
        a,
        b,
    }) = Pair::start(2, &settings).await
    else {
        return;
    };
    let client = http_client();
    let user = create_user(&client, &a.address, "grace").await;
    let mut links = Vec::new();
    for n in 0..60 {
        let body = json!({"user_id": user["id"], "original_url": format!("https://x.io/{n}")});
        let link = send(
            &client,
            reqwest::Method::POST,
            format!("{}/urls", a.address),
            Some(body),
        );
        let link = link.await;
        links.push((link["short_code"].as_str().expect("code").to_owned(), n));
    }
    let unknown: Vec<String> = (0..20).map(|n| format!("nope{n:02}")).collect();

    // All at once on each replica: A reads the database and stores in Redis, B reads Redis.
    for (replica, layer) in [(&a, "database"), (&b, "redis")] {
        let asked = links
            .iter()
            .map(|(code, n)| (code.clone(), Some(*n)))
            .chain(unknown.iter().map(|code| (code.clone(), None)));
        let answers = futures::future::join_all(asked.map(|(code, n)| {
            let url = format!("{}/{code}", replica.address);
            let client = client.clone();
            async move { (client.get(url).send().await.expect("redirect"), n) }
        }))
        .await;
        for (response, n) in answers {
            match n {
                Some(n) => {
                    assert_eq!(response.status(), 302);
                    assert_eq!(response.headers()["x-cache"], layer);
                    assert_eq!(response.headers()["location"], format!("https://x.io/{n}"));
                }
                None => assert_eq!(response.status(), 404),
            }
        }
    }

    let mut redis = redis::Client::open(redis.as_str())
        .expect("redis url")
        .get_multiplexed_async_connection()
        .await
        .expect("redis");
    for (code, _) in &links {
        let ttl: i64 = redis::cmd("TTL")
            .arg(format!("hop:link:{code}"))
            .query_async(&mut redis)
            .await
            .expect("ttl");
        assert!((1..=60).contains(&ttl), "{code}: ttl {ttl}");
    }
    for code in &unknown {
        let value: Option<String> = redis::cmd("GET")
            .arg(format!("hop:link:{code}"))
            .query_async(&mut redis)
            .await
            .expect("get");
        assert_eq!(value.as_deref(), Some("-"), "{code}");
    }

    drop((a, b));
    database.drop_it().await;
}

/// The contract: a click is visible in `GET /events` right after its redirect, whichever
/// replica answers the read. Clicks linger in their replica's queue for a second here, so the
/// read must have the other replica write them first.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_click_on_one_replica_is_listed_at_once_by_the_other() {
    let settings = [("HOP_CLICK_LINGER_MS", "1000")];
    let Some(Pair {
        database,
        redis,
        a,
        b,
    }) = Pair::start(15, &settings).await
    else {
        return;
    };
    let client = http_client();
    let user = create_user(&client, &a.address, "lin").await;
    let body = json!({"user_id": user["id"], "original_url": "https://x.io/clicked"});
    let link = send(
        &client,
        reqwest::Method::POST,
        format!("{}/urls", a.address),
        Some(body),
    );
    let link = link.await;
    let code = link["short_code"].as_str().expect("code");
    let clicks = format!(
        "{}/events?url_id={}&event_type=click",
        b.address, link["id"]
    );
    // Both replicas listen before the first read (each one's subscription may lag its start).
    wait_for_listeners(&redis, 2).await;

    for round in 1..=5 {
        let response = client.get(format!("{}/{code}", a.address)).send().await;
        assert_eq!(response.expect("redirect").status(), 302);
        let listed = send(&client, reqwest::Method::GET, clicks.clone(), None).await;
        let listed = listed.as_array().expect("events").len();
        assert_eq!(
            listed, round,
            "round {round}: clicks listed by the other replica"
        );
    }

    drop((a, b));
    database.drop_it().await;
}

/// Two replicas sharing a fresh PostgreSQL database and Redis database `number`.
struct Pair {
    database: TestDatabase,
    redis: String,
    a: HopProcess,
    b: HopProcess,
}

impl Pair {
    /// `None` (the test is skipped, saying so) when PostgreSQL or Redis is not reachable.
    async fn start(number: u8, settings: &[(&str, &str)]) -> Option<Self> {
        let Some(database) = TestDatabase::create(Backend::Postgres).await else {
            eprintln!("SKIPPED: PostgreSQL is not reachable");
            return None;
        };
        let Some(redis) = redis_database(number).await else {
            eprintln!("SKIPPED: Redis is not reachable (set TEST_REDIS_URL)");
            return None;
        };
        let mut env = vec![
            ("DATABASE_URL", database.url.as_str()),
            ("REDIS_URL", &redis),
        ];
        env.extend_from_slice(settings);
        let (a, b) = (HopProcess::start(&env), HopProcess::start(&env));
        Some(Self {
            database,
            redis,
            a,
            b,
        })
    }
}
