//! Starts hop for one test: its own database, its own port, no sleeps.

use std::{
    io::{BufRead, BufReader},
    path::PathBuf,
    process::{Child, Command, Stdio},
    sync::{
        atomic::{AtomicU32, Ordering},
        Arc, Mutex,
    },
    time::{Duration, Instant},
};

use hop::config::{Config, Secret};
use hop::server::{self, App};
use hop::store::{self, Store};
use reqwest::{Client, Method, Response};
use serde_json::Value;
use sqlx::{Connection, PgConnection};
use tokio::{net::TcpListener, sync::oneshot, task::JoinHandle};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// Runs each named test function on both backends.
#[macro_export]
macro_rules! both_backends {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    $crate::harness::run($crate::harness::Backend::Sqlite, super::$name).await;
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    $crate::harness::run($crate::harness::Backend::Postgres, super::$name).await;
                }
            )*
        }
    };
}

/// Spawns an app on `backend`, runs `test` against it, then shuts the app down and drops its
/// database.
pub async fn run<F, Fut>(backend: Backend, test: F)
where
    F: FnOnce(TestApp) -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    let Some(database) = TestDatabase::create(backend).await else {
        eprintln!("SKIPPED: PostgreSQL is not reachable (set TEST_DATABASE_URL)");
        return;
    };
    let app = TestApp::spawn(database.url.clone(), Config::default()).await;
    test(app).await;
    database.drop_it().await;
}

/// A database of its own for one test.
pub struct TestDatabase {
    pub url: String,
    admin_url: Option<String>,
    name: String,
    _dir: Option<tempfile::TempDir>,
}

impl TestDatabase {
    pub async fn create(backend: Backend) -> Option<Self> {
        static NEXT: AtomicU32 = AtomicU32::new(0);
        let name = format!(
            "hop_t{}_{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::SeqCst)
        );
        match backend {
            Backend::Sqlite => {
                let dir = tempfile::tempdir().expect("temp dir");
                let url = format!("sqlite://{}", dir.path().join("hop.db").display());
                Some(Self {
                    url,
                    admin_url: None,
                    name,
                    _dir: Some(dir),
                })
            }
            Backend::Postgres => {
                let admin_url = postgres_admin_url();
                let mut admin = match PgConnection::connect(&admin_url).await {
                    Ok(conn) => conn,
                    Err(err) if !postgres_required() => {
                        eprintln!("postgres at {admin_url} unreachable: {err}");
                        return None;
                    }
                    Err(err) => panic!("TEST_REQUIRE_POSTGRES=1 but {admin_url} failed: {err}"),
                };
                sqlx::query(&format!("CREATE DATABASE {name}"))
                    .execute(&mut admin)
                    .await
                    .expect("create test database");
                let url = with_database(&admin_url, &name);
                Some(Self {
                    url,
                    admin_url: Some(admin_url),
                    name,
                    _dir: None,
                })
            }
        }
    }

    pub async fn drop_it(self) {
        let Some(admin_url) = &self.admin_url else {
            return;
        };
        if let Ok(mut admin) = PgConnection::connect(admin_url).await {
            let sql = format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name);
            let _ = sqlx::query(&sql).execute(&mut admin).await;
        }
    }
}

fn postgres_required() -> bool {
    std::env::var("TEST_REQUIRE_POSTGRES").is_ok_and(|value| value == "1")
}

fn postgres_admin_url() -> String {
    std::env::var("TEST_DATABASE_URL")
        .or_else(|_| std::env::var("DATABASE_URL"))
        .ok()
        .filter(|url| url.starts_with("postgres"))
        .unwrap_or_else(|| "postgres://postgres@127.0.0.1:5432/postgres".into())
}

/// `url` with its database name replaced by `name`.
fn with_database(url: &str, name: &str) -> String {
    let mut parsed = url::Url::parse(url).expect("a PostgreSQL URL");
    parsed.set_path(&format!("/{name}"));
    parsed.to_string()
}

/// A running hop and a client for it.
pub struct TestApp {
    pub address: String,
    pub database_url: String,
    pub client: Client,
    stop: Option<oneshot::Sender<()>>,
    server: Option<JoinHandle<anyhow::Result<()>>>,
}

impl TestApp {
    pub async fn spawn(database_url: String, mut config: Config) -> Self {
        config.database_url = Some(Secret::new(database_url.clone()));
        config.log = "warn".into();
        // The first call installs the subscriber for the whole test process; its writer must
        // outlive every test.
        if let Some(writer) =
            hop::telemetry::init_logging("warn", hop::telemetry::LogStream::Stdout)
        {
            std::mem::forget(writer);
        }
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind loopback");
        let address = format!("http://{}", listener.local_addr().expect("address"));
        let app = App::build(&config).await.expect("hop starts");
        let (stop, stopped) = oneshot::channel::<()>();
        let server = tokio::spawn(server::run(app, listener, None, async {
            let _ = stopped.await;
        }));
        let client = Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .expect("client");
        Self {
            address,
            database_url,
            client,
            stop: Some(stop),
            server: Some(server),
        }
    }

    /// A second connection to the same database, for checks behind the API's back.
    pub async fn store(&self) -> Box<dyn Store> {
        store::connect(Some(&self.database_url), &Default::default())
            .await
            .expect("store")
    }

    /// Imports `data/seed` (400 users, 2,000 links, 3,422 events).
    pub async fn seed(&self) {
        let store = self.store().await;
        let paths = hop::import::ImportPaths::from_dir(&seed_dir()).expect("seed dir");
        let reports = hop::import::run(store.as_ref(), &paths, |_| {})
            .await
            .expect("seed import");
        assert!(
            reports.iter().all(|r| r.tally.rejected.is_empty()),
            "{reports:?}"
        );
    }

    /// Stops the server the way SIGTERM does and waits for it to finish.
    pub async fn stop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(server) = self.server.take() {
            server.await.expect("server task").expect("clean shutdown");
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.address, path)
    }

    pub async fn request(&self, method: Method, path: &str, body: Option<Value>) -> Response {
        let mut request = self.client.request(method, self.url(path));
        if let Some(body) = body {
            request = request.json(&body);
        }
        request.send().await.expect("request sent")
    }

    pub async fn get(&self, path: &str) -> Response {
        self.request(Method::GET, path, None).await
    }

    pub async fn post(&self, path: &str, body: Value) -> Response {
        self.request(Method::POST, path, Some(body)).await
    }

    pub async fn put(&self, path: &str, body: Value) -> Response {
        self.request(Method::PUT, path, Some(body)).await
    }

    pub async fn delete(&self, path: &str) -> Response {
        self.request(Method::DELETE, path, None).await
    }

    /// Sends `body` as is, with `content_type` when given.
    pub async fn post_raw(&self, path: &str, body: &str, content_type: Option<&str>) -> Response {
        let mut request = self.client.post(self.url(path)).body(body.to_owned());
        if let Some(kind) = content_type {
            request = request.header("content-type", kind);
        }
        request.send().await.expect("request sent")
    }

    /// Creates a user and returns its id.
    pub async fn user(&self, name: &str) -> i64 {
        let body = serde_json::json!({"username": name, "email": format!("{name}@example.com")});
        let response = self.post("/users", body).await;
        assert_eq!(response.status(), 201);
        json(response).await["id"].as_i64().expect("id")
    }

    /// Creates a link for `user_id` and returns it.
    pub async fn link(&self, user_id: i64, url: &str) -> Value {
        let body = serde_json::json!({"user_id": user_id, "original_url": url});
        let response = self.post("/urls", body).await;
        assert_eq!(response.status(), 201);
        json(response).await
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

pub fn seed_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("data/seed")
}

pub async fn json(response: Response) -> Value {
    let status = response.status();
    let text = response.text().await.expect("body");
    serde_json::from_str(&text).unwrap_or_else(|_| panic!("{status}: not JSON: {text}"))
}

/// The `event_type` of each event in a `GET /events` answer, in its order.
pub fn event_types(events: &Value) -> Vec<&str> {
    events
        .as_array()
        .expect("a list of events")
        .iter()
        .map(|event| event["event_type"].as_str().expect("a type"))
        .collect()
}

/// Asserts the status and that the body is a JSON error object; returns the body.
pub async fn expect_error(response: Response, status: u16) -> Value {
    assert_eq!(response.status(), status, "wrong status");
    let content_type = response.headers()["content-type"]
        .to_str()
        .unwrap_or("")
        .to_owned();
    assert_eq!(content_type, "application/json");
    let body = json(response).await;
    assert!(
        body["error"].as_str().is_some_and(|e| !e.is_empty()),
        "{body}"
    );
    body
}

/// A `hop serve` child process on a loopback port the OS picked, with its log kept.
pub struct HopProcess {
    child: Child,
    pub address: String,
    pub log: Arc<Mutex<Vec<String>>>,
    /// The threads copying stdout and stderr into `log`; they end when hop closes them.
    readers: Vec<std::thread::JoinHandle<()>>,
}

impl HopProcess {
    /// Starts hop with only `env` (plus `HOP_LISTEN=127.0.0.1:0`) and returns once it logged
    /// the address it listens on.
    pub fn start(env: &[(&str, &str)]) -> Self {
        let mut child = hop_binary()
            .arg("serve")
            .env("HOP_LISTEN", "127.0.0.1:0")
            .env("HOP_LOG", "info")
            .envs(env.iter().copied())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("hop starts");
        let log = Arc::new(Mutex::new(Vec::new()));
        let stderr = BufReader::new(child.stderr.take().expect("stderr"));
        let errors = log.clone();
        let stderr_reader = std::thread::spawn(move || {
            stderr
                .lines()
                .map_while(Result::ok)
                .for_each(|line| errors.lock().unwrap().push(line))
        });
        let mut lines = BufReader::new(child.stdout.take().expect("stdout")).lines();
        let address = loop {
            let line = lines
                .next()
                .expect("hop logged before exiting")
                .expect("log line");
            log.lock().unwrap().push(line.clone());
            let entry: Value = serde_json::from_str(&line).unwrap_or_default();
            if entry["fields"]["message"] == "listening" {
                break entry["fields"]["address"]
                    .as_str()
                    .expect("address")
                    .to_owned();
            }
        };
        // Keep draining the log so the child never blocks on a full pipe.
        let kept = log.clone();
        let stdout_reader = std::thread::spawn(move || {
            lines
                .map_while(Result::ok)
                .for_each(|line| kept.lock().unwrap().push(line))
        });
        Self {
            child,
            address: format!("http://{address}"),
            log,
            readers: vec![stderr_reader, stdout_reader],
        }
    }

    /// Stops hop with SIGTERM and waits for it to exit and for its last log lines to be in
    /// `log` (on a busy machine the copying threads could still be behind when it exits);
    /// returns whether it exited 0.
    pub fn terminate(&mut self) -> bool {
        let pid = self.child.id().to_string();
        let _ = Command::new("kill").args(["-TERM", &pid]).status();
        let exited = self
            .child
            .wait()
            .map(|status| status.success())
            .unwrap_or(false);
        for reader in self.readers.drain(..) {
            let _ = reader.join();
        }
        exited
    }
}

impl Drop for HopProcess {
    /// SIGTERM first, SIGKILL after 10 s: a process killed outright writes no coverage
    /// profile, so its code would count as untested.
    fn drop(&mut self) {
        if matches!(self.child.try_wait(), Ok(None)) {
            let pid = self.child.id().to_string();
            let _ = Command::new("kill").args(["-TERM", &pid]).status();
            let deadline = Instant::now() + Duration::from_secs(10);
            while matches!(self.child.try_wait(), Ok(None)) && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(20));
            }
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A client that reports redirects instead of following them.
pub fn http_client() -> Client {
    Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client")
}

/// Creates the user `name` on the hop at `address` and returns it.
pub async fn create_user(client: &Client, address: &str, name: &str) -> Value {
    let body = serde_json::json!({"username": name, "email": format!("{name}@example.com")});
    let response = client
        .post(format!("{address}/users"))
        .json(&body)
        .send()
        .await;
    response.expect("request").json().await.expect("a user")
}

/// The `hop` binary with an empty environment but for `LLVM_PROFILE_FILE`, which
/// `cargo llvm-cov` sets: a child without it writes no coverage profile.
fn hop_binary() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_hop"));
    command.env_clear();
    if let Some(profile) = std::env::var_os("LLVM_PROFILE_FILE") {
        command.env("LLVM_PROFILE_FILE", profile);
    }
    command
}

/// Runs `hop ARGS` to completion with only `env`; returns stdout.
pub fn hop_command(args: &[&str], env: &[(&str, &str)]) -> String {
    let output = hop_binary()
        .args(args)
        .envs(env.iter().copied())
        .output()
        .expect("hop runs");
    assert!(
        output.status.success(),
        "hop {args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).expect("utf-8")
}

/// A Redis database of its own for this test, emptied first; `None` when Redis is absent.
pub async fn redis_database(number: u8) -> Option<String> {
    let base = std::env::var("TEST_REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".into());
    let url = format!("{}/{number}", base.trim_end_matches('/'));
    let client = redis::Client::open(url.as_str()).ok()?;
    let mut connection = match client.get_multiplexed_async_connection().await {
        Ok(connection) => connection,
        Err(err) if std::env::var("TEST_REQUIRE_POSTGRES").is_ok_and(|v| v == "1") => {
            panic!("Redis at {url} is required in CI: {err}")
        }
        Err(_) => return None,
    };
    let _: () = redis::cmd("FLUSHDB")
        .query_async(&mut connection)
        .await
        .ok()?;
    Some(url)
}

/// Waits (10 s at most) until `count` clients subscribe to hop's channel on `redis`.
pub async fn wait_for_listeners(redis: &str, count: i64) {
    let db = redis.rsplit('/').next().expect("database number");
    let channel = format!("hop:invalidate:{db}");
    let mut connection = redis::Client::open(redis)
        .expect("redis url")
        .get_multiplexed_async_connection()
        .await
        .expect("redis");
    for _ in 0..200 {
        let (_, listening): (String, i64) = redis::cmd("PUBSUB")
            .arg("NUMSUB")
            .arg(&channel)
            .query_async(&mut connection)
            .await
            .expect("numsub");
        if listening >= count {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("fewer than {count} replicas listen on {channel}");
}
