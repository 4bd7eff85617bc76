//! The failure paths the behaviour tests in tests/api do not reach: PostgreSQL or Redis going
//! away under a running hop, a database error that is nobody's fault but hop's, the admin
//! listener and its metrics token, the grace period running out, and settings that do not
//! parse.
//!
//! Network failures are made with [`Wire`], a forwarder on a loopback port that a test cuts
//! and restores, so no server is stopped and the tests run beside the others. Tests that need
//! PostgreSQL or Redis print `SKIPPED` and pass when it is absent, unless
//! `TEST_REQUIRE_POSTGRES=1` (CI) makes that a failure, as in tests/api.

#[allow(dead_code)]
#[path = "api/harness.rs"]
mod harness;

use std::{
    net::{SocketAddr, ToSocketAddrs},
    sync::Arc,
    time::{Duration, Instant},
};

use hop::config::{Config, DbSettings, Secret};
use hop::server::{self, App};
use hop::store::{self, EventFilter};
use redis::AsyncCommands;
use serde_json::{json, Value};
use tokio::{
    io::AsyncWriteExt,
    net::{TcpListener, TcpStream},
    sync::{oneshot, watch},
    task::JoinHandle,
};

use harness::{expect_error, json, Backend, TestApp, TestDatabase};

/// A TCP forwarder on a free loopback port, standing in for the network between hop and a
/// server. While cut it closes every open connection and every new one at once; while frozen
/// it keeps them open and holds every byte until it flows again, as a server stopped with
/// SIGSTOP would.
struct Wire {
    address: SocketAddr,
    state: Arc<watch::Sender<Flow>>,
    task: JoinHandle<()>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Flow {
    Up,
    Frozen,
    Cut,
}

impl Wire {
    async fn to(upstream: SocketAddr) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let address = listener.local_addr().expect("address");
        let state = Arc::new(watch::channel(Flow::Up).0);
        let task = tokio::spawn(forward(listener, upstream, state.clone()));
        Self {
            address,
            state,
            task,
        }
    }

    fn cut(&self) {
        self.state.send_replace(Flow::Cut);
    }

    fn freeze(&self) {
        self.state.send_replace(Flow::Frozen);
    }

    fn restore(&self) {
        self.state.send_replace(Flow::Up);
    }
}

impl Drop for Wire {
    fn drop(&mut self) {
        self.cut();
        self.task.abort();
    }
}

async fn forward(listener: TcpListener, upstream: SocketAddr, state: Arc<watch::Sender<Flow>>) {
    while let Ok((client, _)) = listener.accept().await {
        if *state.borrow() == Flow::Cut {
            continue;
        }
        let state = state.clone();
        tokio::spawn(async move {
            let Ok(server) = TcpStream::connect(upstream).await else {
                return;
            };
            let (from_client, to_client) = client.into_split();
            let (from_server, to_server) = server.into_split();
            let mut cut = state.subscribe();
            tokio::select! {
                _ = relay(from_client, to_server, state.subscribe()) => {}
                _ = relay(from_server, to_client, state.subscribe()) => {}
                _ = cut.wait_for(|flow| *flow == Flow::Cut) => {}
            }
        });
    }
}

/// Copies one direction of a connection, each chunk read written only while the wire is up.
async fn relay(
    mut from: tokio::net::tcp::OwnedReadHalf,
    mut to: tokio::net::tcp::OwnedWriteHalf,
    mut flow: watch::Receiver<Flow>,
) {
    use tokio::io::AsyncReadExt;
    let mut buffer = vec![0; 16 * 1024];
    loop {
        let Ok(read) = from.read(&mut buffer).await else {
            return;
        };
        if read == 0 || flow.wait_for(|flow| *flow == Flow::Up).await.is_err() {
            return;
        }
        if to.write_all(&buffer[..read]).await.is_err() {
            return;
        }
    }
}

/// hop on a fresh SQLite file, its Redis (database `number`) reached through a [`Wire`], cut
/// before hop starts when `cut` is set; and a connection of the test's own to that Redis.
struct BehindWire {
    wire: Wire,
    app: TestApp,
    direct: redis::aio::MultiplexedConnection,
    /// The Redis database's own address, without the wire.
    redis: String,
    /// Bound by every test to the end: dropped, it deletes the database's folder, and hop
    /// could no longer open connections to it.
    _database: TestDatabase,
}

/// `None` (the test is skipped, saying so) when Redis is not reachable.
async fn behind_wire(number: u8, cut: bool, debug_cache_header: bool) -> Option<BehindWire> {
    let Some(redis) = redis_url(number).await else {
        eprintln!("SKIPPED: Redis is not reachable (set TEST_REDIS_URL)");
        return None;
    };
    let database = TestDatabase::create(Backend::Sqlite).await.expect("sqlite");
    let wire = Wire::to(upstream(&redis)).await;
    if cut {
        wire.cut();
    }
    let config = Config {
        redis_url: Some(Secret::new(through(&redis, wire.address))),
        debug_cache_header,
        ..Config::default()
    };
    let app = TestApp::spawn(database.url.clone(), config).await;
    let direct = redis::Client::open(redis.as_str())
        .expect("redis url")
        .get_multiplexed_async_connection()
        .await
        .expect("redis");
    Some(BehindWire {
        wire,
        app,
        direct,
        redis,
        _database: database,
    })
}

/// `url` with its host and port replaced by `address`.
fn through(url: &str, address: SocketAddr) -> String {
    let mut parsed = url::Url::parse(url).expect("a URL");
    parsed.set_ip_host(address.ip()).expect("host");
    parsed.set_port(Some(address.port())).expect("port");
    parsed.to_string()
}

/// The host and port `url` points at (the test servers are on loopback).
fn upstream(url: &str) -> SocketAddr {
    let parsed = url::Url::parse(url).expect("a URL");
    let host = parsed.host_str().expect("host");
    let port = parsed.port_or_known_default().unwrap_or(5432);
    (host, port)
        .to_socket_addrs()
        .expect("address")
        .next()
        .expect("an address")
}

/// Settings that make an outage show quickly: short pool waits, a short grace period.
fn impatient() -> Config {
    Config {
        db_acquire_timeout_ms: 300,
        shutdown_grace_secs: 1,
        ..Config::default()
    }
}

async fn new_link(app: &TestApp, name: &str) -> (i64, String) {
    let user = app.user(name).await;
    let link = app.link(user, &format!("https://example.com/{name}")).await;
    let code = link["short_code"].as_str().expect("code").to_owned();
    (link["id"].as_i64().expect("id"), code)
}

/// The clicks of link `id` through the API, which writes the queued ones first.
async fn listed_clicks(app: &TestApp, id: i64) -> usize {
    let events = app
        .get(&format!("/events?url_id={id}&event_type=click"))
        .await;
    assert_eq!(events.status(), 200);
    json(events).await.as_array().map_or(0, Vec::len)
}

/// The clicks of link `id` read straight from the database.
async fn clicks_of(database_url: &str, url_id: i64) -> usize {
    let store = store::connect(Some(database_url), &DbSettings::default())
        .await
        .expect("store");
    let filter = EventFilter {
        url_id: Some(url_id),
        event_type: Some("click".into()),
        ..Default::default()
    };
    store
        .list_events(&filter, None)
        .await
        .expect("events")
        .len()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn while_postgresql_is_unreachable_the_api_answers_503_and_cached_links_still_redirect() {
    let Some(database) = TestDatabase::create(Backend::Postgres).await else {
        eprintln!("SKIPPED: PostgreSQL is not reachable (set TEST_DATABASE_URL)");
        return;
    };
    let wire = Wire::to(upstream(&database.url)).await;
    let app = TestApp::spawn(through(&database.url, wire.address), impatient()).await;
    let (_, cached) = new_link(&app, "ada").await;
    let (_, uncached) = new_link(&app, "bob").await;
    assert_eq!(app.get(&format!("/{cached}")).await.status(), 302);

    wire.cut();
    let ready = app.get("/ready").await;
    let user = app.get("/users/1").await;
    let created = app
        .post(
            "/users",
            json!({"username": "cy", "email": "cy@example.com"}),
        )
        .await;
    let follow_uncached = app.get(&format!("/{uncached}")).await;
    let follow_cached = app.get(&format!("/{cached}")).await;

    assert_eq!(ready.status(), 503);
    assert_eq!(
        json(ready).await,
        json!({"error": "not ready: the database is not answering"})
    );
    for response in [user, created, follow_uncached] {
        assert_eq!(response.headers()["retry-after"], "1");
        let body = expect_error(response, 503).await;
        assert_eq!(
            body,
            json!({"error": "the database is not answering; retry shortly"})
        );
    }
    assert_eq!(follow_cached.status(), 302, "the cache keeps redirects up");

    wire.restore();
    assert_eq!(app.get("/ready").await.status(), 200);
    assert_eq!(app.get(&format!("/{uncached}")).await.status(), 302);
    drop(app);
    database.drop_it().await;
}

/// A database that refuses new connections (`ALLOW_CONNECTIONS false`, as for maintenance) is
/// unavailable, not broken: 503 with Retry-After, as for one that does not answer, served again
/// once it accepts connections, and the clicks of a short refusal are kept.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_database_refusing_connections_answers_503_until_it_accepts_them() {
    let Some(database) = TestDatabase::create(Backend::Postgres).await else {
        eprintln!("SKIPPED: PostgreSQL is not reachable (set TEST_DATABASE_URL)");
        return;
    };
    let app = TestApp::spawn(database.url.clone(), impatient()).await;
    let (id, code) = new_link(&app, "ada").await;
    assert_eq!(app.get(&format!("/{code}")).await.status(), 302);
    assert_eq!(listed_clicks(&app, id).await, 1);

    allow_connections(&database.url, false).await;
    // A cached link still redirects; its click waits for the database, which now fails each
    // attempt at once (it was dropped after five quick attempts, about two seconds).
    assert_eq!(app.get(&format!("/{code}")).await.status(), 302);
    // Past the second within which hop reuses a connection unchecked (bottlenecks.md #3), so
    // each request needs a new one, which the database refuses.
    tokio::time::sleep(Duration::from_secs(3)).await;
    for _ in 0..3 {
        let response = app.get(&format!("/urls/{id}")).await;
        assert_eq!(response.headers()["retry-after"], "1");
        let body = expect_error(response, 503).await;
        assert_eq!(
            body,
            json!({"error": "the database is not answering; retry shortly"})
        );
    }

    allow_connections(&database.url, true).await;
    assert_eq!(app.get(&format!("/urls/{id}")).await.status(), 200);
    assert_eq!(
        listed_clicks(&app, id).await,
        2,
        "the click of the refusal is kept"
    );
    drop(app);
    database.drop_it().await;
}

/// The redirect's lookups keep their connections between statements (src/store/held.rs); one
/// that the server has ended since must not cost a client a 503 while the database is up.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lookup_on_a_connection_the_server_ended_is_read_again_on_a_fresh_one() {
    use sqlx::{Connection, PgConnection};

    let Some(database) = TestDatabase::create(Backend::Postgres).await else {
        eprintln!("SKIPPED: PostgreSQL is not reachable (set TEST_DATABASE_URL)");
        return;
    };
    let app = TestApp::spawn(database.url.clone(), impatient()).await;
    let mut codes = Vec::new();
    for name in ["ada", "bob", "cy", "dee"] {
        codes.push(new_link(&app, name).await.1);
    }
    let mut admin = PgConnection::connect(&database.url).await.expect("admin");
    let name = database
        .url
        .rsplit('/')
        .next()
        .expect("database name")
        .to_owned();
    for code in &codes {
        // A miss: read through a kept connection, then kept again.
        assert_eq!(app.get(&format!("/{code}")).await.status(), 302);
        // Every connection of hop ends, within the second a kept one is used unchecked.
        sqlx::query(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
             WHERE datname = $1 AND pid <> pg_backend_pid()",
        )
        .bind(&name)
        .execute(&mut admin)
        .await
        .expect("terminate");
    }
    drop(app);
    drop(admin);
    database.drop_it().await;
}

/// Lets the PostgreSQL database of `url` accept new connections or not (as an operator does for
/// maintenance), ending its open ones when it stops.
async fn allow_connections(url: &str, allow: bool) {
    use sqlx::{Connection, PgConnection};

    let mut admin_url = url::Url::parse(url).expect("a PostgreSQL URL");
    let name = admin_url.path().trim_start_matches('/').to_owned();
    admin_url.set_path("/postgres");
    let mut admin = PgConnection::connect(admin_url.as_str())
        .await
        .expect("admin connection");
    let alter = format!("ALTER DATABASE {name} ALLOW_CONNECTIONS {allow}");
    sqlx::query(&alter)
        .execute(&mut admin)
        .await
        .expect("alter");
    if !allow {
        sqlx::query("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1")
            .bind(&name)
            .execute(&mut admin)
            .await
            .expect("terminate");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clicks_queued_during_a_short_outage_are_written_when_postgresql_returns() {
    let Some(database) = TestDatabase::create(Backend::Postgres).await else {
        eprintln!("SKIPPED: PostgreSQL is not reachable (set TEST_DATABASE_URL)");
        return;
    };
    let wire = Wire::to(upstream(&database.url)).await;
    let app = TestApp::spawn(through(&database.url, wire.address), impatient()).await;
    let (id, code) = new_link(&app, "ada").await;
    assert_eq!(app.get(&format!("/{code}")).await.status(), 302);
    assert_eq!(listed_clicks(&app, id).await, 1);

    wire.cut();
    for _ in 0..3 {
        assert_eq!(app.get(&format!("/{code}")).await.status(), 302);
    }
    // The outage outlasts the recorder's first attempt; its retries span about two seconds.
    tokio::time::sleep(Duration::from_millis(400)).await;
    wire.restore();
    let clicks = listed_clicks(&app, id).await;

    assert_eq!(clicks, 4);
    drop(app);
    database.drop_it().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stopping_during_an_outage_gives_up_on_the_queued_clicks_and_still_stops() {
    let Some(database) = TestDatabase::create(Backend::Postgres).await else {
        eprintln!("SKIPPED: PostgreSQL is not reachable (set TEST_DATABASE_URL)");
        return;
    };
    let wire = Wire::to(upstream(&database.url)).await;
    let mut app = TestApp::spawn(through(&database.url, wire.address), impatient()).await;
    let (id, code) = new_link(&app, "ada").await;
    assert_eq!(app.get(&format!("/{code}")).await.status(), 302);
    assert_eq!(listed_clicks(&app, id).await, 1);

    wire.cut();
    for _ in 0..3 {
        assert_eq!(app.get(&format!("/{code}")).await.status(), 302);
    }
    let started = Instant::now();
    app.stop().await;
    let took = started.elapsed();
    wire.restore();

    // The flush waits 3 s at most; the grace period is 1 s.
    assert!(took < Duration::from_secs(6), "stopping took {took:?}");
    assert_eq!(
        clicks_of(&database.url, id).await,
        1,
        "only the click before the cut"
    );
    database.drop_it().await;
}

both_backends!(an_unexpected_database_error_is_a_500_that_keeps_its_cause_to_the_log);

async fn an_unexpected_database_error_is_a_500_that_keeps_its_cause_to_the_log(app: TestApp) {
    let (id, _) = new_link(&app, "ada").await;
    drop_table_behind_hops_back(&app.database_url, "events").await;

    let response = app.get(&format!("/events?url_id={id}")).await;

    let body = expect_error(response, 500).await;
    assert_eq!(body, json!({"error": "internal error"}));
}

async fn drop_table_behind_hops_back(database_url: &str, table: &str) {
    use sqlx::{Connection, Executor, PgConnection, SqliteConnection};

    let sql = format!("DROP TABLE {table}");
    if database_url.starts_with("postgres") {
        let mut connection = PgConnection::connect(database_url).await.expect("connect");
        connection.execute(sql.as_str()).await.expect("drop");
    } else {
        let mut connection = SqliteConnection::connect(database_url)
            .await
            .expect("connect");
        connection.execute(sql.as_str()).await.expect("drop");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hop_serves_from_its_own_cache_and_the_database_while_redis_fails() {
    let Some(BehindWire {
        wire,
        app,
        _database,
        ..
    }) = behind_wire(6, false, true).await
    else {
        return;
    };
    let (_, shared) = new_link(&app, "ada").await;
    let first = app.get(&format!("/{shared}")).await;

    wire.cut();
    let mut statuses = Vec::new();
    for name in ["bob", "cy", "dee", "eve"] {
        let (_, code) = new_link(&app, name).await;
        let response = app.get(&format!("/{code}")).await;
        statuses.push((response.status().as_u16(), cache_layer(&response)));
    }

    assert_eq!(first.status(), 302);
    assert_eq!(cache_layer(&first), "database");
    assert_eq!(statuses, vec![(302, "database".to_owned()); 4]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hop_starts_and_serves_when_redis_is_not_there_yet() {
    let database = TestDatabase::create(Backend::Sqlite).await.expect("sqlite");
    // Nothing listens on port 1 of loopback.
    let config = Config {
        redis_url: Some(Secret::new("redis://127.0.0.1:1")),
        ..Config::default()
    };
    let app = TestApp::spawn(database.url.clone(), config).await;

    let (_, code) = new_link(&app, "ada").await;
    let response = app.get(&format!("/{code}")).await;

    assert_eq!(response.status(), 302);
}

/// Redis unreachable when hop starts, back three seconds later: within a few seconds hop
/// uses it (a lookup's answer is stored there). The redis crate's own reconnect schedule would
/// have waited a minute after its second attempt.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hop_takes_redis_up_within_seconds_of_its_return() {
    let Some(BehindWire {
        wire,
        app,
        mut direct,
        _database,
        ..
    }) = behind_wire(7, true, false).await
    else {
        return;
    };
    tokio::time::sleep(Duration::from_secs(3)).await;
    wire.restore();
    let back = Instant::now();

    let mut stored = false;
    let mut tries = 0;
    while !stored && back.elapsed() < Duration::from_secs(10) {
        tries += 1;
        let (_, code) = new_link(&app, &format!("u{tries}")).await;
        assert_eq!(app.get(&format!("/{code}")).await.status(), 302);
        tokio::time::sleep(Duration::from_millis(250)).await;
        stored = direct
            .exists::<_, bool>(format!("hop:link:{code}"))
            .await
            .expect("EXISTS");
    }
    assert!(
        stored,
        "hop did not use Redis within 10 s of its return ({tries} tries)"
    );
}

/// A link deactivated while Redis was cut off, its old answer still stored there: once Redis
/// is back, hop deletes that entry and announces the change, instead of reading the old
/// answer back for the rest of its TTL (60 s) after clearing its own cache.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_change_made_while_redis_was_away_reaches_it_on_its_return() {
    let Some(BehindWire {
        wire,
        app,
        mut direct,
        _database,
        ..
    }) = behind_wire(8, false, false).await
    else {
        return;
    };
    let (id, code) = new_link(&app, "ada").await;
    let key = format!("hop:link:{code}");
    let mut stored = false;
    for _ in 0..40 {
        assert_eq!(app.get(&format!("/{code}")).await.status(), 302);
        stored = direct.exists::<_, bool>(&key).await.expect("EXISTS");
        if stored {
            break;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    assert!(stored, "the answer reached Redis");

    wire.cut();
    let changed = app
        .put(&format!("/urls/{id}"), json!({"is_active": false}))
        .await;
    assert_eq!(changed.status(), 200);
    assert_eq!(app.get(&format!("/{code}")).await.status(), 404);
    assert!(
        direct.exists::<_, bool>(&key).await.expect("EXISTS"),
        "Redis kept the old answer"
    );
    wire.restore();

    let back = Instant::now();
    while direct.exists::<_, bool>(&key).await.expect("EXISTS") {
        assert!(
            back.elapsed() < Duration::from_secs(10),
            "the old answer is still in Redis 10 s after its return"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(app.get(&format!("/{code}")).await.status(), 404);
}

/// Redis frozen (connections open, nothing answered), as when it is overloaded or stopped:
/// lookups time out and open the breaker; the first change's announcement waits out its
/// patience and stays queued in the socket, and the next change does not wait, its
/// announcement kept for later. The other replica, whose subscription never dropped, must
/// hear of both within seconds of Redis answering again (0.2–0.4 s here), not at the end of
/// its cache entries' 60 s.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn changes_made_while_redis_was_frozen_reach_the_other_replica_once_it_thaws() {
    let Some(redis) = redis_url(10).await else {
        eprintln!("SKIPPED: Redis is not reachable (set TEST_REDIS_URL)");
        return;
    };
    let database = TestDatabase::create(Backend::Sqlite).await.expect("sqlite");
    let wire = Wire::to(upstream(&redis)).await;
    let config = Config {
        redis_url: Some(Secret::new(through(&redis, wire.address))),
        debug_cache_header: true,
        ..Config::default()
    };
    let a = TestApp::spawn(database.url.clone(), config.clone()).await;
    let b = TestApp::spawn(database.url.clone(), config).await;
    harness::wait_for_listeners(&redis, 2).await;
    let first = shared_link(&a, &b).await;
    let second = shared_link(&a, &b).await;
    for (_, path) in [&first, &second] {
        assert_eq!(b.get(path).await.status(), 302);
    }

    wire.freeze();
    let deactivate = json!({"is_active": false});
    for unknown in ["/zzzzz1", "/zzzzz2", "/zzzzz3"] {
        assert_eq!(a.get(unknown).await.status(), 404);
    }
    let changed_first = a
        .put(&format!("/urls/{}", first.0), deactivate.clone())
        .await;
    let changed_second = a.put(&format!("/urls/{}", second.0), deactivate).await;
    wire.restore();
    let back = Instant::now();
    let mut still_redirecting = vec![first.1.clone(), second.1.clone()];
    while !still_redirecting.is_empty() && back.elapsed() < Duration::from_secs(5) {
        tokio::time::sleep(Duration::from_millis(100)).await;
        let mut left = Vec::new();
        for path in still_redirecting {
            if b.get(&path).await.status() == 302 {
                left.push(path);
            }
        }
        still_redirecting = left;
    }

    assert_eq!(changed_first.status(), 200);
    assert_eq!(changed_second.status(), 200);
    assert!(
        still_redirecting.is_empty(),
        "b still redirects {still_redirecting:?} 5 s after Redis answered again"
    );
}

/// With Redis gone, the first changes pay the wait for their announcement (until the breaker
/// opens) and the changes after them do not, until Redis answers again: each would otherwise
/// wait a second.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn changes_do_not_each_wait_for_a_redis_that_is_known_to_be_down() {
    let Some(BehindWire {
        wire,
        app,
        redis,
        _database,
        ..
    }) = behind_wire(11, false, false).await
    else {
        return;
    };
    let (id, code) = new_link(&app, "ada").await;
    harness::wait_for_listeners(&redis, 1).await;

    wire.cut();
    let mut took = Vec::new();
    for round in 0..8 {
        let started = Instant::now();
        let changed = app
            .put(
                &format!("/urls/{id}"),
                json!({"title": format!("t{round}")}),
            )
            .await;
        assert_eq!(changed.status(), 200);
        took.push(started.elapsed());
    }
    let last_five: Duration = took[3..].iter().sum();

    assert!(
        last_five < Duration::from_millis(2500),
        "the last five changes took {last_five:?} in all ({took:?})"
    );
    assert_eq!(app.get(&format!("/{code}")).await.status(), 302);
}

/// A link created on `a` whose answer `b` read and shared through Redis (`a` then finds it
/// there): both replicas are connected to Redis. Its id and path.
async fn shared_link(a: &TestApp, b: &TestApp) -> (i64, String) {
    let started = Instant::now();
    let mut tries = 0;
    loop {
        tries += 1;
        let (id, code) = new_link(a, &format!("ada{tries}")).await;
        let path = format!("/{code}");
        assert_eq!(cache_layer(&b.get(&path).await), "database");
        if cache_layer(&a.get(&path).await) == "redis" {
            return (id, path);
        }
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "b shared its answer with a through Redis"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_instances_on_one_database_share_answers_and_changes_through_redis() {
    let Some(redis) = redis_url(5).await else {
        eprintln!("SKIPPED: Redis is not reachable (set TEST_REDIS_URL)");
        return;
    };
    let database = TestDatabase::create(Backend::Sqlite).await.expect("sqlite");
    let config = Config {
        redis_url: Some(Secret::new(redis)),
        debug_cache_header: true,
        ..Config::default()
    };
    let a = TestApp::spawn(database.url.clone(), config.clone()).await;
    let b = TestApp::spawn(database.url.clone(), config).await;
    // Each connects to Redis in the background and serves without it until then, so the first
    // links may not be shared; one is within seconds.
    let (id, path) = shared_link(&a, &b).await;
    let changed = a
        .put(
            &format!("/urls/{id}"),
            json!({"original_url": "https://example.com/moved"}),
        )
        .await;
    let after_change = b.get(&path).await;
    let unknown_once = b.get("/zzzzzz").await;
    let unknown_again = b.get("/zzzzzz").await;

    assert_eq!(changed.status(), 200);
    assert_eq!(
        after_change.headers()["location"],
        "https://example.com/moved"
    );
    assert_eq!(unknown_once.status(), 404);
    assert_eq!(unknown_again.status(), 404);
}

fn cache_layer(response: &reqwest::Response) -> String {
    response
        .headers()
        .get("x-cache")
        .and_then(|value| value.to_str().ok())
        .unwrap_or("")
        .to_owned()
}

/// Redis database `number` on the test server, emptied first; `None` when Redis is absent.
async fn redis_url(number: u8) -> Option<String> {
    harness::redis_database(number).await
}

/// hop with a separate admin listener, as `HOP_ADMIN_LISTEN` starts it.
struct AdminSplit {
    main: String,
    admin: String,
    stop: Option<oneshot::Sender<()>>,
    server: JoinHandle<anyhow::Result<()>>,
}

async fn spawn_with_admin(database_url: &str, mut config: Config) -> AdminSplit {
    let main = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let admin = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    config.database_url = Some(Secret::new(database_url));
    config.admin_listen = Some(admin.local_addr().expect("address"));
    let addresses = (
        format!("http://{}", main.local_addr().expect("address")),
        format!("http://{}", admin.local_addr().expect("address")),
    );
    let app = App::build(&config).await.expect("hop starts");
    let (stop, stopped) = oneshot::channel::<()>();
    let server = tokio::spawn(server::run(app, main, Some(admin), async {
        let _ = stopped.await;
    }));
    AdminSplit {
        main: addresses.0,
        admin: addresses.1,
        stop: Some(stop),
        server,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_move_to_the_admin_listener_and_need_the_token() {
    let database = TestDatabase::create(Backend::Sqlite).await.expect("sqlite");
    let config = Config {
        metrics_token: Some(Secret::new("s3cret")),
        ..Config::default()
    };
    let mut split = spawn_with_admin(&database.url, config).await;
    let client = reqwest::Client::new();
    let get = |url: String, token: Option<&'static str>| {
        let mut request = client.get(url);
        if let Some(token) = token {
            request = request.header("authorization", token);
        }
        request.send()
    };

    let on_main = get(format!("{}/metrics", split.main), None).await.unwrap();
    let without = get(format!("{}/metrics", split.admin), None).await.unwrap();
    let wrong = get(format!("{}/metrics", split.admin), Some("Bearer nope"))
        .await
        .unwrap();
    let right = get(format!("{}/metrics", split.admin), Some("Bearer s3cret"))
        .await
        .unwrap();
    let health = get(format!("{}/health", split.admin), None).await.unwrap();
    let elsewhere = get(format!("{}/users", split.admin), None).await.unwrap();

    expect_error(on_main, 404).await;
    for refused in [without, wrong] {
        assert_eq!(refused.status(), 401);
        assert_eq!(
            refused.json::<Value>().await.unwrap(),
            json!({"error": "metrics need Authorization: Bearer <token>"})
        );
    }
    assert_eq!(right.status(), 200);
    assert!(right.text().await.unwrap().contains("hop_build_info{"));
    assert_eq!(json(health).await, json!({"status": "ok"}));
    expect_error(elsewhere, 404).await;

    let _ = split.stop.take().map(|stop| stop.send(()));
    (&mut split.server).await.unwrap().unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_still_open_when_the_grace_period_ends_is_cut_off() {
    let database = TestDatabase::create(Backend::Sqlite).await.expect("sqlite");
    let config = Config {
        shutdown_grace_secs: 0,
        ..Config::default()
    };
    let mut split = spawn_with_admin(&database.url, config).await;
    // A request whose body never finishes keeps its connection busy.
    let address = split.main.trim_start_matches("http://").to_owned();
    let mut stalled = TcpStream::connect(&address).await.expect("connect");
    stalled
        .write_all(b"POST /users HTTP/1.1\r\nhost: x\r\ncontent-length: 100\r\n\r\n{")
        .await
        .expect("write");
    stalled.flush().await.expect("flush");
    // hop accepts connections in order: once it answers one opened later, it holds this one.
    let health = reqwest::get(format!("{}/health", split.main))
        .await
        .unwrap();
    assert_eq!(health.status(), 200);

    let started = Instant::now();
    let _ = split.stop.take().map(|stop| stop.send(()));
    let stopped = tokio::time::timeout(Duration::from_secs(10), &mut split.server).await;

    let result = stopped.expect("hop stopped within 10 s").expect("task");
    assert!(result.is_ok(), "{result:?}");
    assert!(started.elapsed() < Duration::from_secs(5));
}

#[test]
fn a_setting_of_the_wrong_type_in_a_file_is_an_error_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("hop.toml");
    std::fs::write(&path, "click_queue = \"many\"\n").unwrap();

    let err = Config::from_toml_file(&path).unwrap_err();

    assert!(err.to_string().contains("click_queue"), "{err}");
}

#[tokio::test]
async fn a_database_that_cannot_be_reached_at_start_is_an_error() {
    let settings = DbSettings {
        acquire_timeout_ms: 300,
        ..DbSettings::default()
    };
    // Nothing listens on port 1 of loopback.
    let postgres = store::connect(Some("postgres://hop@127.0.0.1:1/hop"), &settings).await;
    let other = store::connect(Some("mysql://127.0.0.1/hop"), &settings).await;

    // The pool only says it timed out; hop names the server and adds why one connection of
    // its own failed.
    let postgres = hop::telemetry::causes(postgres.err().expect("unreachable").as_ref());
    assert!(
        postgres.starts_with(
            "PostgreSQL at 127.0.0.1:1/hop: pool timed out while waiting for an open connection: "
        ) && postgres.ends_with("Connection refused (os error 111)"),
        "{postgres}"
    );
    let message = other.err().expect("refused").to_string();
    assert_eq!(
        message,
        "DATABASE_URL must start with sqlite:// or postgres://"
    );
}
