//! The SQL of [`Store`](super::Store), written once for both backends.
//!
//! PostgreSQL and SQLite agree on everything hop needs (`RETURNING`, `ON CONFLICT`, numbered
//! parameters, expression indexes), but sqlx's generic bounds for "any backend" would have to
//! be repeated on every function. A macro stamps the same code out for each concrete backend
//! instead; what really differs lives beside it, in methods each backend writes itself:
//! `after_explicit_ids` (PostgreSQL moves its id sequences) and `pool_stats`.
//!
//! Parameters are numbered `$1, $2, ...` and first appear in that order: SQLite reads `$N`
//! as a name and numbers names by first appearance.

/// A live link by id (`$1`), as `live_link` and `get_link` read it.
macro_rules! live_link_by_id {
    () => {
        "SELECT id, user_id, short_code, original_url, title, is_active, created_at, \
         updated_at FROM urls WHERE id = $1 AND deleted_at IS NULL"
    };
}

macro_rules! sql_store {
    ($store:ty, $db:ty, $name:literal, $lock:literal, $share:literal) => {
        use std::collections::{HashMap, HashSet};

        use sqlx::{types::Json, QueryBuilder};

        use $crate::domain::{now, ShortCode, Timestamp};
        use $crate::store::error::{is_foreign_key_violation, is_unique_violation};
        use $crate::store::*;

        /// Rows per statement when importing; keeps every backend under its parameter limit.
        const IMPORT_CHUNK: usize = 4000;
        /// Rows per statement when writing clicks, largest first; the rest of a batch goes
        /// in the smaller sizes.
        const CLICK_STATEMENT_ROWS: [usize; 3] = [100, 10, 1];
        /// Fresh codes tried before a create gives up; with 62^6 codes a second try is rare.
        const CODE_ATTEMPTS: usize = 8;

        /// A link row as stored, tombstones included (their owner may be gone).
        #[derive(sqlx::FromRow)]
        struct StoredLink {
            id: i64,
            user_id: Option<i64>,
            short_code: String,
            original_url: String,
            title: Option<String>,
            is_active: bool,
            created_at: Timestamp,
            updated_at: Timestamp,
        }

        impl $store {
            /// The redirect lookup of `list` on a connection from the pool, kept afterwards;
            /// with `checked`, on the first of them that answers a check (the pool's size in
            /// tries at most).
            async fn read_codes_pooled(
                &self,
                list: &[String],
                checked: bool,
            ) -> StoreResult<Vec<CodeRow>> {
                let mut conn = self.read.acquire().await?;
                if checked {
                    for _ in 0..self.read.options().get_max_connections() {
                        if conn.ping().await.is_ok() {
                            break;
                        }
                        drop(conn);
                        conn = self.read.acquire().await?;
                    }
                }
                let rows = read_codes(&mut conn, list).await?;
                self.held.keep(conn);
                Ok(rows)
            }

            async fn user_by_email_key(
                conn: &mut <$db as sqlx::Database>::Connection,
                key: &str,
            ) -> StoreResult<Option<User>> {
                let user = sqlx::query_as::<$db, User>(
                    "SELECT id, username, email, created_at FROM users WHERE lower(email) = $1",
                )
                .bind(key)
                .fetch_optional(&mut *conn)
                .await?;
                Ok(user)
            }

            /// Whether a user other than `except` already has `username`.
            async fn username_taken(
                conn: &mut <$db as sqlx::Database>::Connection,
                username: &str,
                except: i64,
            ) -> StoreResult<bool> {
                let row = sqlx::query_scalar::<$db, i64>(
                    "SELECT id FROM users WHERE username = $1 AND id <> $2 LIMIT 1",
                )
                .bind(username)
                .bind(except)
                .fetch_optional(&mut *conn)
                .await?;
                Ok(row.is_some())
            }

            async fn insert_event(
                conn: &mut <$db as sqlx::Database>::Connection,
                link: &Link,
                event_type: &str,
                at: Timestamp,
                details: serde_json::Value,
            ) -> StoreResult<()> {
                sqlx::query::<$db>(
                    "INSERT INTO events (url_id, user_id, event_type, occurred_at, details) \
                     VALUES ($1, $2, $3, $4, $5)",
                )
                .bind(link.id)
                .bind(link.user_id)
                .bind(event_type)
                .bind(at)
                .bind(Json(details))
                .execute(&mut *conn)
                .await?;
                Ok(())
            }

            /// Locks the users an event about to be written names, and the owner of `link`,
            /// until the transaction ends where the backend has row locks (`$share`, the lock
            /// a foreign key check takes). They come before any link row: `delete_user` locks
            /// the user and then the user's links, and an edit that locked its link first and
            /// its user second (through the key check of its event) deadlocked against it,
            /// which PostgreSQL ended by failing one of the two.
            async fn lock_users_of(
                conn: &mut <$db as sqlx::Database>::Connection,
                link: i64,
                also: Option<i64>,
            ) -> StoreResult<()> {
                let owner = sqlx::query_scalar::<$db, Option<i64>>(
                    "SELECT user_id FROM urls WHERE id = $1",
                )
                .bind(link)
                .fetch_optional(&mut *conn)
                .await?
                .flatten();
                let mut users: Vec<i64> = owner.into_iter().chain(also).collect();
                users.sort_unstable();
                users.dedup();
                for user in users {
                    sqlx::query::<$db>(concat!("SELECT id FROM users WHERE id = $1", $share))
                        .bind(user)
                        .execute(&mut *conn)
                        .await?;
                }
                Ok(())
            }

            /// The link, locked until the transaction ends where the backend has row locks
            /// (`$lock`), so concurrent changes apply one after the other.
            async fn live_link(
                conn: &mut <$db as sqlx::Database>::Connection,
                id: i64,
            ) -> StoreResult<Option<Link>> {
                Self::read_live_link(conn, id, concat!(live_link_by_id!(), $lock)).await
            }

            /// `live_link`'s statement `sql` (with or without its lock) for `id`.
            async fn read_live_link(
                conn: &mut <$db as sqlx::Database>::Connection,
                id: i64,
                sql: &'static str,
            ) -> StoreResult<Option<Link>> {
                let link = sqlx::query_as::<$db, Link>(sql)
                    .bind(id)
                    .fetch_optional(&mut *conn)
                    .await?;
                Ok(link)
            }

            async fn try_insert_link(&self, new: &NewLink, code: &ShortCode) -> StoreResult<Link> {
                let at = now();
                let mut tx = self.write.begin().await?;
                let link = sqlx::query_as::<$db, Link>(
                    "INSERT INTO urls (user_id, short_code, original_url, title, is_active, \
                     created_at, updated_at) VALUES ($1, $2, $3, $4, TRUE, $5, $5) \
                     RETURNING id, user_id, short_code, original_url, title, is_active, \
                     created_at, updated_at",
                )
                .bind(new.user_id)
                .bind(code.as_str())
                .bind(new.original_url.as_str())
                .bind(new.title.as_deref())
                .bind(at)
                .fetch_one(&mut *tx)
                .await
                .map_err(|err| match err {
                    err if is_foreign_key_violation(&err) => StoreError::NotFound("user"),
                    err if is_unique_violation(&err) => {
                        StoreError::Conflict("short_code is taken".into())
                    }
                    err => err.into(),
                })?;
                let details = serde_json::json!({
                    "short_code": link.short_code,
                    "original_url": link.original_url,
                });
                Self::insert_event(&mut tx, &link, "created", at, details).await?;
                tx.commit().await?;
                Ok(link)
            }
        }

        #[async_trait::async_trait]
        impl Store for $store {
            fn backend(&self) -> &'static str {
                $name
            }

            async fn ping(&self) -> StoreResult<()> {
                sqlx::query::<$db>("SELECT 1").execute(&self.read).await?;
                Ok(())
            }

            fn pool_stats(&self) -> PoolStats {
                self.stats()
            }

            async fn create_user(&self, new: &NewUser) -> StoreResult<(User, bool)> {
                let mut tx = self.write.begin().await?;
                if let Some(found) = Self::user_by_email_key(&mut tx, &new.email.key()).await? {
                    if found.username == new.username.as_str() {
                        return Ok((found, false));
                    }
                    return Err(StoreError::Conflict("email is already taken".into()));
                }
                if Self::username_taken(&mut tx, new.username.as_str(), 0).await? {
                    return Err(StoreError::Conflict("username is already taken".into()));
                }
                let user = sqlx::query_as::<$db, User>(
                    "INSERT INTO users (username, unique_username, email, created_at) \
                     VALUES ($1, $1, $2, $3) RETURNING id, username, email, created_at",
                )
                .bind(new.username.as_str())
                .bind(new.email.as_str())
                .bind(now())
                .fetch_one(&mut *tx)
                .await
                .map_err(|err| match err {
                    err if is_unique_violation(&err) => {
                        StoreError::Conflict("username or email is already taken".into())
                    }
                    err => err.into(),
                });
                let user = match user {
                    Ok(user) => user,
                    Err(StoreError::Conflict(message)) => {
                        // A concurrent create may have won with the very same user: that is a
                        // repeat, not a conflict.
                        drop(tx);
                        let mut conn = self.read.acquire().await?;
                        let winner = Self::user_by_email_key(&mut conn, &new.email.key()).await?;
                        let repeat = |user: &User| user.username == new.username.as_str();
                        return match winner {
                            Some(user) if repeat(&user) => Ok((user, false)),
                            _ => Err(StoreError::Conflict(message)),
                        };
                    }
                    Err(err) => return Err(err),
                };
                tx.commit().await?;
                Ok((user, true))
            }

            async fn list_users(&self, page: Option<Page>) -> StoreResult<Vec<User>> {
                let columns = "id, username, email, created_at";
                let mut query = select_by_id(columns, "users", page, |_| {});
                Ok(query.build_query_as::<User>().fetch_all(&self.read).await?)
            }

            async fn get_user(&self, id: i64) -> StoreResult<Option<User>> {
                let user = sqlx::query_as::<$db, User>(
                    "SELECT id, username, email, created_at FROM users WHERE id = $1",
                )
                .bind(id)
                .fetch_optional(&self.read)
                .await?;
                Ok(user)
            }

            async fn update_user(&self, id: i64, patch: &UserPatch) -> StoreResult<User> {
                let mut tx = self.write.begin().await?;
                let current = sqlx::query_as::<$db, User>(concat!(
                    "SELECT id, username, email, created_at FROM users WHERE id = $1",
                    $lock
                ))
                .bind(id)
                .fetch_optional(&mut *tx)
                .await?
                .ok_or(StoreError::NotFound("user"))?;

                let mut username = current.username.clone();
                let mut email = current.email.clone();
                if let Some(wanted) = &patch.username {
                    if wanted.as_str() != current.username {
                        if Self::username_taken(&mut tx, wanted.as_str(), id).await? {
                            return Err(StoreError::Conflict("username is already taken".into()));
                        }
                        username = wanted.as_str().to_owned();
                    }
                }
                if let Some(wanted) = &patch.email {
                    let owner = Self::user_by_email_key(&mut tx, &wanted.key()).await?;
                    if owner.is_some_and(|owner| owner.id != id) {
                        return Err(StoreError::Conflict("email is already taken".into()));
                    }
                    email = wanted.as_str().to_owned();
                }

                let renamed = username != current.username;
                let user = sqlx::query_as::<$db, User>(
                    "UPDATE users SET username = $1, email = $2, \
                     unique_username = CASE WHEN $3 THEN $1 ELSE unique_username END \
                     WHERE id = $4 RETURNING id, username, email, created_at",
                )
                .bind(&username)
                .bind(&email)
                .bind(renamed)
                .bind(id)
                .fetch_one(&mut *tx)
                .await
                .map_err(|err| match err {
                    err if is_unique_violation(&err) => {
                        StoreError::Conflict("username or email is already taken".into())
                    }
                    err => err.into(),
                })?;
                tx.commit().await?;
                Ok(user)
            }

            async fn delete_user(&self, id: i64) -> StoreResult<Vec<String>> {
                let mut tx = self.write.begin().await?;
                // Locking the user makes links created meanwhile wait, then fail their
                // foreign key check, instead of landing as live links with no owner.
                let found = sqlx::query_scalar::<$db, i64>(concat!(
                    "SELECT id FROM users WHERE id = $1",
                    $lock
                ))
                .bind(id)
                .fetch_optional(&mut *tx)
                .await?;
                if found.is_none() {
                    return Err(StoreError::NotFound("user"));
                }
                let codes = sqlx::query_scalar::<$db, String>(
                    "SELECT short_code FROM urls WHERE user_id = $1 AND deleted_at IS NULL",
                )
                .bind(id)
                .fetch_all(&mut *tx)
                .await?;
                // By user, then by the ids of the user's links, each along its own index. One
                // statement with `OR`, or with the links as a subquery, read the whole table
                // on PostgreSQL (a hash join was its plan for a handful of links).
                sqlx::query::<$db>("DELETE FROM events WHERE user_id = $1")
                    .bind(id)
                    .execute(&mut *tx)
                    .await?;
                let links: Vec<i64> =
                    sqlx::query_scalar::<$db, i64>("SELECT id FROM urls WHERE user_id = $1")
                        .bind(id)
                        .fetch_all(&mut *tx)
                        .await?;
                for chunk in links.chunks(IMPORT_CHUNK) {
                    let mut events = in_list("DELETE FROM events WHERE url_id IN ", chunk);
                    events.build().execute(&mut *tx).await?;
                }
                sqlx::query::<$db>(
                    "UPDATE urls SET is_active = FALSE, deleted_at = $1 \
                     WHERE user_id = $2 AND deleted_at IS NULL",
                )
                .bind(now())
                .bind(id)
                .execute(&mut *tx)
                .await?;
                let gone = sqlx::query::<$db>("DELETE FROM users WHERE id = $1")
                    .bind(id)
                    .execute(&mut *tx)
                    .await?;
                if gone.rows_affected() == 0 {
                    return Err(StoreError::NotFound("user"));
                }
                tx.commit().await?;
                Ok(codes)
            }

            async fn create_link(&self, new: &NewLink) -> StoreResult<Link> {
                for _ in 0..CODE_ATTEMPTS {
                    let code = ShortCode::generate();
                    match self.try_insert_link(new, &code).await {
                        Err(StoreError::Conflict(_)) => {
                            tracing::warn!(short_code = code.as_str(), "short code collision");
                        }
                        other => return other,
                    }
                }
                Err(StoreError::Conflict("no free short code was found; try again".into()))
            }

            async fn list_links(
                &self,
                filter: &LinkFilter,
                page: Option<Page>,
            ) -> StoreResult<Vec<Link>> {
                let columns = "id, user_id, short_code, original_url, title, is_active, \
                               created_at, updated_at";
                let mut query = select_by_id(columns, "urls", page, |query| {
                    query.push(" AND deleted_at IS NULL");
                    if let Some(user_id) = filter.user_id {
                        query.push(" AND user_id = ").push_bind(user_id);
                    }
                    if let Some(active) = filter.is_active {
                        query.push(" AND is_active = ").push_bind(active);
                    }
                });
                Ok(query.build_query_as::<Link>().fetch_all(&self.read).await?)
            }

            async fn get_link(&self, id: i64) -> StoreResult<Option<Link>> {
                // A read takes no lock: it must neither wait for a change of the link in
                // flight nor need a server that can take row locks.
                let mut conn = self.read.acquire().await?;
                Self::read_live_link(&mut conn, id, live_link_by_id!()).await
            }

            async fn update_link(&self, id: i64, patch: &LinkPatch) -> StoreResult<Link> {
                let mut tx = self.write.begin().await?;
                Self::lock_users_of(&mut tx, id, None).await?;
                let current =
                    Self::live_link(&mut tx, id).await?.ok_or(StoreError::NotFound("link"))?;

                let mut next = current.clone();
                let mut changes: Vec<(&str, String)> = Vec::new();
                if let Some(url) = patch.original_url.as_ref() {
                    if url.as_str() != current.original_url {
                        next.original_url = url.as_str().to_owned();
                        changes.push(("original_url", next.original_url.clone()));
                    }
                }
                if let Some(title) = patch.title.as_ref() {
                    if *title != current.title {
                        next.title = title.clone();
                        changes.push(("title", title.clone().unwrap_or_default()));
                    }
                }
                if let Some(active) = patch.is_active {
                    if active != current.is_active {
                        next.is_active = active;
                        changes.push(("is_active", active.to_string()));
                    }
                }
                if changes.is_empty() {
                    return Ok(current);
                }

                let at = now();
                next.updated_at = at.max(current.updated_at + chrono::TimeDelta::seconds(1));
                sqlx::query::<$db>(
                    "UPDATE urls SET original_url = $1, title = $2, is_active = $3, \
                     updated_at = $4 WHERE id = $5",
                )
                .bind(&next.original_url)
                .bind(next.title.as_deref())
                .bind(next.is_active)
                .bind(next.updated_at)
                .bind(id)
                .execute(&mut *tx)
                .await?;
                for (field, new_value) in changes {
                    let details = serde_json::json!({"field": field, "new_value": new_value});
                    Self::insert_event(&mut tx, &next, "updated", at, details).await?;
                }
                tx.commit().await?;
                Ok(next)
            }

            async fn delete_link(&self, id: i64) -> StoreResult<Link> {
                let at = now();
                let mut tx = self.write.begin().await?;
                Self::lock_users_of(&mut tx, id, None).await?;
                let link = sqlx::query_as::<$db, Link>(
                    "UPDATE urls SET deleted_at = $1 WHERE id = $2 AND deleted_at IS NULL \
                     RETURNING id, user_id, short_code, original_url, title, is_active, \
                     created_at, updated_at",
                )
                .bind(at)
                .bind(id)
                .fetch_optional(&mut *tx)
                .await?
                .ok_or(StoreError::NotFound("link"))?;
                let details = serde_json::json!({"reason": "user_requested"});
                Self::insert_event(&mut tx, &link, "deleted", at, details).await?;
                tx.commit().await?;
                Ok(link)
            }

            async fn resolve_many(&self, codes: &[String]) -> StoreResult<Vec<Resolved>> {
                let Some(last) = codes.last() else {
                    return Ok(Vec::new());
                };
                // The list is padded to a power of two with its last code, so that a few
                // statement shapes serve every batch size and stay prepared on each connection.
                let padding = codes.len().next_power_of_two() - codes.len();
                let list: Vec<String> =
                    codes.iter().chain(std::iter::repeat_n(last, padding)).cloned().collect();
                // A kept connection the server has closed since its last statement (a restart,
                // a terminated backend) fails at once. The statement is then read again on a
                // pooled connection that answers a check first: the pool's idle connections
                // were likely ended with it, and the pool checks only those idle for a second.
                // A failed connection is dropped, which returns it to the pool and its check.
                let rows = match self.held.take() {
                    Some(mut conn) => match read_codes(&mut conn, &list).await {
                        Ok(rows) => {
                            self.held.keep(conn);
                            rows
                        }
                        Err(StoreError::Unavailable(_)) => {
                            drop(conn);
                            self.read_codes_pooled(&list, true).await?
                        }
                        Err(err) => return Err(err),
                    },
                    None => self.read_codes_pooled(&list, false).await?,
                };
                Ok(rows
                    .into_iter()
                    .map(|(link_id, user_id, code, url)| Resolved {
                        link_id,
                        user_id,
                        short_code: code.into(),
                        original_url: url.into(),
                    })
                    .collect())
            }

            async fn list_events(
                &self,
                filter: &EventFilter,
                page: Option<Page>,
            ) -> StoreResult<Vec<Event>> {
                let columns = "id, url_id, user_id, event_type, occurred_at, details";
                let mut query = select_by_id(columns, "events", page, |query| {
                    if let Some(url_id) = filter.url_id {
                        query.push(" AND url_id = ").push_bind(url_id);
                    }
                    if let Some(user_id) = filter.user_id {
                        query.push(" AND user_id = ").push_bind(user_id);
                    }
                    if let Some(kind) = &filter.event_type {
                        query.push(" AND event_type = ").push_bind(kind.clone());
                        // The index by type leaves clicks out; a planner uses a partial index
                        // only for a query whose own text states the index's condition.
                        if kind != "click" {
                            query.push(" AND event_type <> 'click'");
                        }
                    }
                });
                Ok(query.build_query_as::<Event>().fetch_all(&self.read).await?)
            }

            async fn create_event(&self, new: &NewEvent) -> StoreResult<Event> {
                let mut tx = self.write.begin().await?;
                Self::lock_users_of(&mut tx, new.url_id, Some(new.user_id)).await?;
                Self::live_link(&mut tx, new.url_id).await?.ok_or(StoreError::NotFound("link"))?;
                let event = sqlx::query_as::<$db, Event>(
                    "INSERT INTO events (url_id, user_id, event_type, occurred_at, details) \
                     VALUES ($1, $2, $3, $4, $5) \
                     RETURNING id, url_id, user_id, event_type, occurred_at, details",
                )
                .bind(new.url_id)
                .bind(new.user_id)
                .bind(&new.event_type)
                .bind(now())
                .bind(Json(&new.details))
                .fetch_one(&mut *tx)
                .await
                .map_err(|err| match err {
                    err if is_foreign_key_violation(&err) => StoreError::NotFound("user"),
                    err => err.into(),
                })?;
                tx.commit().await?;
                Ok(event)
            }

            /// Writes the clicks whose user still exists: a click of a user deleted since it
            /// was served fails the key on `user_id`, and the batch is then written one click
            /// at a time without it. A guard in the insert itself (`WHERE EXISTS` on the user)
            /// was tried and taken back: PostgreSQL joined it by reading every user for each
            /// statement (docs/bottlenecks.md #20).
            async fn record_clicks(&self, clicks: &[Click]) -> StoreResult<u64> {
                match insert_clicks(&self.write, clicks).await {
                    Ok(written) => Ok(written),
                    Err(err) if is_foreign_key_violation(&err) && clicks.len() > 1 => {
                        // One click's link or user is gone: write the rest one by one.
                        let mut written = 0;
                        for click in clicks {
                            match insert_clicks(&self.write, std::slice::from_ref(click)).await {
                                Ok(n) => written += n,
                                Err(err) if is_foreign_key_violation(&err) => {}
                                Err(err) => return Err(err.into()),
                            }
                        }
                        Ok(written)
                    }
                    Err(err) if is_foreign_key_violation(&err) => Ok(0),
                    Err(err) => Err(err.into()),
                }
            }

            async fn create_key(&self, name: &str, scope: &str, hash: &str) -> StoreResult<ApiKey> {
                let key = sqlx::query_as::<$db, ApiKey>(
                    "INSERT INTO api_keys (name, scope, key_hash, created_at) \
                     VALUES ($1, $2, $3, $4) RETURNING id, name, scope, created_at, revoked_at",
                )
                .bind(name)
                .bind(scope)
                .bind(hash)
                .bind(now())
                .fetch_one(&self.write)
                .await?;
                Ok(key)
            }

            async fn list_keys(&self) -> StoreResult<Vec<ApiKey>> {
                let keys = sqlx::query_as::<$db, ApiKey>(
                    "SELECT id, name, scope, created_at, revoked_at FROM api_keys ORDER BY id",
                )
                .fetch_all(&self.read)
                .await?;
                Ok(keys)
            }

            async fn revoke_key(&self, id: i64) -> StoreResult<ApiKey> {
                let key = sqlx::query_as::<$db, ApiKey>(
                    "UPDATE api_keys SET revoked_at = $1 WHERE id = $2 AND revoked_at IS NULL \
                     RETURNING id, name, scope, created_at, revoked_at",
                )
                .bind(now())
                .bind(id)
                .fetch_optional(&self.write)
                .await?;
                key.ok_or(StoreError::NotFound("key"))
            }

            async fn key_hashes(&self) -> StoreResult<Vec<(String, String, bool)>> {
                let keys = sqlx::query_as::<$db, (String, String, bool)>(
                    "SELECT key_hash, scope, revoked_at IS NOT NULL FROM api_keys",
                )
                .fetch_all(&self.read)
                .await?;
                Ok(keys)
            }

            async fn import_users(&self, rows: &[UserRecord]) -> StoreResult<ImportTally> {
                let mut tally = ImportTally::default();
                let top = rows.iter().map(|row| row.id).max().unwrap_or(0);
                Self::reserve_ids(&self.write, "users", top).await?;
                let mut tx = self.write.begin().await?;
                for chunk in rows.chunks(IMPORT_CHUNK) {
                    let ids: Vec<i64> = chunk.iter().map(|row| row.id).collect();
                    let keys: Vec<String> = chunk.iter().map(|row| row.email.key()).collect();
                    let existing: HashMap<i64, User> = fetch_in::<User>(
                        &mut tx,
                        "SELECT id, username, email, created_at FROM users WHERE id IN ",
                        &ids,
                    )
                    .await?
                    .into_iter()
                    .map(|user| (user.id, user))
                    .collect();
                    let owners: HashMap<String, i64> = fetch_in::<(String, i64)>(
                        &mut tx,
                        "SELECT lower(email), id FROM users WHERE lower(email) IN ",
                        &keys,
                    )
                    .await?
                    .into_iter()
                    .collect();

                    let mut writes = Vec::new();
                    for row in chunk {
                        let owner = owners.get(&row.email.key()).copied();
                        if owner.is_some_and(|owner| owner != row.id) {
                            let owner = owner.unwrap_or_default();
                            tally.reject(row.line, format!("email belongs to user {owner}"));
                            continue;
                        }
                        let wanted = User {
                            id: row.id,
                            username: row.username.as_str().to_owned(),
                            email: row.email.as_str().to_owned(),
                            created_at: row.created_at,
                        };
                        match existing.get(&row.id) {
                            Some(have) if *have == wanted => tally.unchanged += 1,
                            Some(_) => {
                                tally.updated += 1;
                                writes.push(wanted);
                            }
                            None => {
                                tally.created += 1;
                                writes.push(wanted);
                            }
                        }
                    }
                    if writes.is_empty() {
                        continue;
                    }
                    let mut upsert = QueryBuilder::<$db>::new(
                        "INSERT INTO users (id, username, email, created_at) ",
                    );
                    upsert.push_values(&writes, |mut row, user| {
                        row.push_bind(user.id)
                            .push_bind(user.username.clone())
                            .push_bind(user.email.clone())
                            .push_bind(user.created_at);
                    });
                    upsert.push(
                        " ON CONFLICT (id) DO UPDATE SET username = excluded.username, \
                         email = excluded.email, created_at = excluded.created_at, \
                         unique_username = NULL",
                    );
                    upsert.build().execute(&mut *tx).await?;
                }
                Self::after_explicit_ids(&mut tx, "users").await?;
                tx.commit().await?;
                Ok(tally)
            }

            async fn import_links(&self, rows: &[LinkRecord]) -> StoreResult<ImportTally> {
                self.import_links_fast(rows).await
            }

            async fn import_events(&self, rows: &[EventRecord]) -> StoreResult<ImportTally> {
                self.import_events_batched(rows).await
            }
        }

        impl $store {
            /// Links in batches of multi-row upserts; `import_links_fast` picks this or a
            /// backend's own bulk path.
            async fn import_links_batched(&self, rows: &[LinkRecord]) -> StoreResult<ImportTally> {
                let mut tally = ImportTally::default();
                let top = rows.iter().map(|row| row.id).max().unwrap_or(0);
                Self::reserve_ids(&self.write, "urls", top).await?;
                let mut tx = self.write.begin().await?;
                for chunk in rows.chunks(IMPORT_CHUNK) {
                    let ids: Vec<i64> = chunk.iter().map(|row| row.id).collect();
                    let owner_ids: Vec<i64> = chunk.iter().map(|row| row.user_id).collect();
                    let codes: Vec<String> =
                        chunk.iter().map(|row| row.short_code.as_str().to_owned()).collect();
                    let existing: HashMap<i64, StoredLink> = fetch_in::<StoredLink>(
                        &mut tx,
                        "SELECT id, user_id, short_code, original_url, title, is_active, \
                         created_at, updated_at FROM urls WHERE id IN ",
                        &ids,
                    )
                    .await?
                    .into_iter()
                    .map(|link| (link.id, link))
                    .collect();
                    let users: HashSet<i64> =
                        fetch_in::<(i64,)>(&mut tx, "SELECT id FROM users WHERE id IN ", &owner_ids)
                            .await?
                            .into_iter()
                            .map(|(id,)| id)
                            .collect();
                    let code_owners: HashMap<String, i64> = fetch_in::<(String, i64)>(
                        &mut tx,
                        "SELECT short_code, id FROM urls WHERE short_code IN ",
                        &codes,
                    )
                    .await?
                    .into_iter()
                    .collect();

                    let mut writes = Vec::new();
                    for row in chunk {
                        if !users.contains(&row.user_id) {
                            tally.reject(row.line, format!("user {} does not exist", row.user_id));
                            continue;
                        }
                        let owner = code_owners.get(row.short_code.as_str()).copied();
                        if owner.is_some_and(|owner| owner != row.id) {
                            let owner = owner.unwrap_or_default();
                            tally.reject(row.line, format!("short_code belongs to link {owner}"));
                            continue;
                        }
                        match existing.get(&row.id) {
                            Some(have) if same_link(have, row) => tally.unchanged += 1,
                            Some(_) => {
                                tally.updated += 1;
                                writes.push(row);
                            }
                            None => {
                                tally.created += 1;
                                writes.push(row);
                            }
                        }
                    }
                    if writes.is_empty() {
                        continue;
                    }
                    let mut upsert = QueryBuilder::<$db>::new(
                        "INSERT INTO urls (id, user_id, short_code, original_url, title, \
                         is_active, created_at, updated_at) ",
                    );
                    upsert.push_values(&writes, |mut out, row| {
                        out.push_bind(row.id)
                            .push_bind(row.user_id)
                            .push_bind(row.short_code.as_str().to_owned())
                            .push_bind(row.original_url.as_str().to_owned())
                            .push_bind(row.title.clone())
                            .push_bind(row.is_active)
                            .push_bind(row.created_at)
                            .push_bind(row.updated_at);
                    });
                    upsert.push(
                        " ON CONFLICT (id) DO UPDATE SET user_id = excluded.user_id, \
                         short_code = excluded.short_code, original_url = excluded.original_url, \
                         title = excluded.title, is_active = excluded.is_active, \
                         created_at = excluded.created_at, updated_at = excluded.updated_at",
                    );
                    upsert.build().execute(&mut *tx).await?;
                }
                Self::after_explicit_ids(&mut tx, "urls").await?;
                tx.commit().await?;
                Ok(tally)
            }

            async fn import_events_batched(
                &self,
                rows: &[EventRecord],
            ) -> StoreResult<ImportTally> {
                let mut tally = ImportTally::default();
                let top = rows.iter().map(|row| row.id).max().unwrap_or(0);
                Self::reserve_ids(&self.write, "events", top).await?;
                let mut tx = self.write.begin().await?;
                for chunk in rows.chunks(IMPORT_CHUNK) {
                    let ids: Vec<i64> = chunk.iter().map(|row| row.id).collect();
                    let link_ids: Vec<i64> = chunk.iter().map(|row| row.url_id).collect();
                    let user_ids: Vec<i64> = chunk.iter().map(|row| row.user_id).collect();
                    let existing: HashMap<i64, Event> = fetch_in::<Event>(
                        &mut tx,
                        "SELECT id, url_id, user_id, event_type, occurred_at, details \
                         FROM events WHERE id IN ",
                        &ids,
                    )
                    .await?
                    .into_iter()
                    .map(|event| (event.id, event))
                    .collect();
                    let links: HashSet<i64> =
                        fetch_in::<(i64,)>(&mut tx, "SELECT id FROM urls WHERE id IN ", &link_ids)
                            .await?
                            .into_iter()
                            .map(|(id,)| id)
                            .collect();
                    let users: HashSet<i64> =
                        fetch_in::<(i64,)>(&mut tx, "SELECT id FROM users WHERE id IN ", &user_ids)
                            .await?
                            .into_iter()
                            .map(|(id,)| id)
                            .collect();

                    let mut writes = Vec::new();
                    for row in chunk {
                        if !links.contains(&row.url_id) {
                            tally.reject(row.line, format!("link {} does not exist", row.url_id));
                            continue;
                        }
                        if !users.contains(&row.user_id) {
                            tally.reject(row.line, format!("user {} does not exist", row.user_id));
                            continue;
                        }
                        let wanted = Event {
                            id: row.id,
                            url_id: row.url_id,
                            user_id: row.user_id,
                            event_type: row.event_type.clone(),
                            timestamp: row.timestamp,
                            details: Json(row.details.clone()),
                        };
                        match existing.get(&row.id) {
                            Some(have) if same_event(have, &wanted) => tally.unchanged += 1,
                            Some(_) => {
                                tally.updated += 1;
                                writes.push(wanted);
                            }
                            None => {
                                tally.created += 1;
                                writes.push(wanted);
                            }
                        }
                    }
                    if writes.is_empty() {
                        continue;
                    }
                    let mut upsert = QueryBuilder::<$db>::new(
                        "INSERT INTO events (id, url_id, user_id, event_type, occurred_at, \
                         details) ",
                    );
                    upsert.push_values(&writes, |mut out, event| {
                        out.push_bind(event.id)
                            .push_bind(event.url_id)
                            .push_bind(event.user_id)
                            .push_bind(event.event_type.clone())
                            .push_bind(event.timestamp)
                            .push_bind(event.details.clone());
                    });
                    upsert.push(
                        " ON CONFLICT (id) DO UPDATE SET url_id = excluded.url_id, \
                         user_id = excluded.user_id, event_type = excluded.event_type, \
                         occurred_at = excluded.occurred_at, details = excluded.details",
                    );
                    upsert.build().execute(&mut *tx).await?;
                }
                Self::after_explicit_ids(&mut tx, "events").await?;
                tx.commit().await?;
                Ok(tally)
            }
        }

        /// `SELECT columns FROM table WHERE 1 = 1 <conditions> ORDER BY id`, one page of it
        /// when `page` is set. A page is chosen by a subquery that reads ids alone, so the
        /// rows it skips come from an index (`urls_live_id_idx`, the primary keys) instead of
        /// the table: page 10,000 of a million links took seconds the other way
        /// (docs/bottlenecks.md). The window is written as literals, not parameters, so the
        /// planner always knows it is small and looks the page's rows up by id.
        fn select_by_id<'a>(
            columns: &str,
            table: &str,
            page: Option<Page>,
            conditions: impl FnOnce(&mut QueryBuilder<'a, $db>),
        ) -> QueryBuilder<'a, $db> {
            let mut query = QueryBuilder::new(format!("SELECT {columns} FROM {table} WHERE "));
            match page {
                None => {
                    query.push("1 = 1");
                    conditions(&mut query);
                }
                Some(page) => {
                    query.push(format!("id IN (SELECT id FROM {table} WHERE 1 = 1"));
                    conditions(&mut query);
                    if page.after > 0 {
                        query.push(format!(" AND id > {}", page.after));
                    }
                    query.push(format!(
                        " ORDER BY id LIMIT {} OFFSET {})",
                        page.limit, page.offset
                    ));
                }
            }
            query.push(" ORDER BY id");
            query
        }

        /// Whether an imported event is already stored as it is: PostgreSQL gives numbers in
        /// `details` back in its own notation (`100` for `1E2`), which is the same event.
        fn same_event(have: &Event, wanted: &Event) -> bool {
            (have.id, have.url_id, have.user_id, &have.event_type, have.timestamp)
                == (wanted.id, wanted.url_id, wanted.user_id, &wanted.event_type, wanted.timestamp)
                && $crate::domain::same_details(&have.details, &wanted.details)
        }

        fn same_link(have: &StoredLink, row: &LinkRecord) -> bool {
            have.user_id == Some(row.user_id)
                && have.short_code == row.short_code.as_str()
                && have.original_url == row.original_url.as_str()
                && have.title == row.title
                && have.is_active == row.is_active
                && have.created_at == row.created_at
                && have.updated_at == row.updated_at
        }

        /// A target row of the redirect lookup: link id, owner, code, URL.
        type CodeRow = (i64, i64, String, String);

        /// The active, undeleted links among `list` (the redirect's lookup).
        async fn read_codes(
            conn: &mut <$db as sqlx::Database>::Connection,
            list: &[String],
        ) -> StoreResult<Vec<CodeRow>> {
            fetch_in::<CodeRow>(
                conn,
                "SELECT id, user_id, short_code, original_url FROM urls \
                 WHERE is_active AND deleted_at IS NULL AND short_code IN ",
                list,
            )
            .await
        }

        /// `head` followed by `(v1, v2, ...)`, each value bound.
        fn in_list<'a, V>(head: &str, values: &'a [V]) -> QueryBuilder<'a, $db>
        where
            V: Clone + Send + sqlx::Encode<'a, $db> + sqlx::Type<$db> + 'a,
        {
            let mut query = QueryBuilder::<$db>::new(head);
            query.push("(");
            let mut list = query.separated(", ");
            for value in values {
                list.push_bind(value.clone());
            }
            query.push(")");
            query
        }

        /// Runs `head` followed by `(v1, v2, ...)` and collects the rows.
        async fn fetch_in<T>(
            conn: &mut <$db as sqlx::Database>::Connection,
            head: &str,
            values: &[impl Clone + Send + for<'q> sqlx::Encode<'q, $db> + sqlx::Type<$db>],
        ) -> StoreResult<Vec<T>>
        where
            T: for<'r> sqlx::FromRow<'r, <$db as sqlx::Database>::Row> + Send + Unpin,
        {
            let mut query = in_list(head, values);
            Ok(query.build_query_as::<T>().fetch_all(&mut *conn).await?)
        }

        /// Writes a batch of clicks in one transaction: the commit, not the row, is what
        /// costs (a commit writes every index page the batch touched). Statements have a few
        /// fixed sizes so that each stays prepared in the connection's statement cache.
        async fn insert_clicks(
            pool: &sqlx::Pool<$db>,
            clicks: &[Click],
        ) -> Result<u64, sqlx::Error> {
            let mut tx = pool.begin().await?;
            let mut written = 0;
            let mut rest = clicks;
            for size in CLICK_STATEMENT_ROWS {
                while rest.len() >= size {
                    let (chunk, tail) = rest.split_at(size);
                    let mut insert = QueryBuilder::<$db>::new(
                        "INSERT INTO events (url_id, user_id, event_type, occurred_at, details) ",
                    );
                    insert.push_values(chunk, |mut row, click| {
                        row.push_bind(click.target.link_id)
                            .push_bind(click.target.user_id)
                            .push_bind("click")
                            .push_bind(ClickTime(click.at))
                            .push_bind(Json(click.details()));
                    });
                    written += insert.build().execute(&mut *tx).await?.rows_affected();
                    rest = tail;
                }
            }
            tx.commit().await?;
            Ok(written)
        }
    };
}
