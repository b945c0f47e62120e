//! Test support shared by the crates' integration suites.
//!
//! SQLite tests get a new file in a temporary directory. PostgreSQL tests get a
//! new database (created from `SHELFSYNC_TEST_POSTGRES_URL`, dropped when the
//! test ends) and Redis from `SHELFSYNC_TEST_REDIS_URL`. Without those
//! variables the PostgreSQL variants say once that they are skipped, unless
//! `SHELFSYNC_TEST_REQUIRE_SERVICES=1` (as in CI), in which case a missing
//! service fails the test. [`medusa`] runs a real Medusa server the same way.

/// Generates one `#[tokio::test]` per backend for each named test function
/// `async fn name(db: TestDatabase)`: the same test on SQLite and on
/// PostgreSQL + Redis, written once. A backend that is not configured is
/// skipped as [`TestDatabase::create`] says.
#[macro_export]
macro_rules! backend_tests {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    if let Some(db) = shelfsync_testkit::TestDatabase::create(shelfsync_testkit::Backend::Sqlite).await {
                        super::$name(db).await;
                    }
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    if let Some(db) = shelfsync_testkit::TestDatabase::create(shelfsync_testkit::Backend::Postgres).await {
                        super::$name(db).await;
                    }
                }
            )*
        }
    };
}

pub mod medusa;

use std::io::Write;
use std::sync::Once;

use shelfsync_store::{Store, StoreOptions};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

pub(crate) fn required() -> bool {
    std::env::var("SHELFSYNC_TEST_REQUIRE_SERVICES").is_ok_and(|v| v == "1" || v == "true")
}

/// A port nothing listens on now, for a server a test starts.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

/// The URL of a service, or `None` (with a note on the terminal, once per
/// test binary) to skip.
pub fn service_url(var: &str, suite: &str) -> Option<String> {
    match std::env::var(var) {
        Ok(url) if !url.is_empty() => Some(url),
        _ if required() => panic!("{var} is not set but SHELFSYNC_TEST_REQUIRE_SERVICES=1"),
        _ => {
            static NOTE: Once = Once::new();
            NOTE.call_once(|| {
                // Written straight to the terminal: the test harness captures `eprintln!`.
                let _ = writeln!(
                    std::io::stderr(),
                    "\nSKIPPED: the {suite} suite (set {var} to run it against a real server)"
                );
            });
            None
        }
    }
}

/// A migrated database of its own for one test, removed when dropped.
pub struct TestDatabase {
    pub backend: Backend,
    /// What `DATABASE_URL` would be for a process sharing this database.
    pub url: String,
    pub store: Store,
    /// Set for PostgreSQL tests, which run as scaled mode does.
    pub redis_url: Option<String>,
    _dir: Option<tempfile::TempDir>,
    _pg: Option<PgDatabase>,
}

impl TestDatabase {
    /// `None` when the backend's services are not configured (the test skips).
    pub async fn create(backend: Backend) -> Option<Self> {
        let db = match backend {
            Backend::Sqlite => {
                let dir = tempfile::tempdir().unwrap();
                let url = format!("sqlite://{}", dir.path().join("test.db").display());
                let store = Store::connect(&url, &StoreOptions::default())
                    .await
                    .unwrap();
                TestDatabase {
                    backend,
                    url,
                    store,
                    redis_url: None,
                    _dir: Some(dir),
                    _pg: None,
                }
            }
            Backend::Postgres => {
                let admin_url = service_url("SHELFSYNC_TEST_POSTGRES_URL", "PostgreSQL")?;
                let redis_url = service_url("SHELFSYNC_TEST_REDIS_URL", "Redis")?;
                let name = format!("shelfsync_test_{}", uuid::Uuid::new_v4().simple());
                let mut conn = <sqlx::PgConnection as sqlx::Connection>::connect(&admin_url)
                    .await
                    .expect("connect to SHELFSYNC_TEST_POSTGRES_URL");
                sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE \"{name}\"")))
                    .execute(&mut conn)
                    .await
                    .unwrap();
                let pg = PgDatabase {
                    admin_url: admin_url.clone(),
                    name: name.clone(),
                };
                let url = database_url_with_name(&admin_url, &name);
                let store = Store::connect(
                    &url,
                    &StoreOptions {
                        max_connections: 8,
                        ..StoreOptions::default()
                    },
                )
                .await
                .unwrap();
                TestDatabase {
                    backend,
                    url,
                    store,
                    redis_url: Some(redis_url),
                    _dir: None,
                    _pg: Some(pg),
                }
            }
        };
        db.store.migrate().await.unwrap();
        Some(db)
    }

    /// Another pool on the same database, as another process would have.
    pub async fn reconnect(&self) -> Store {
        Store::connect(&self.url, &StoreOptions::default())
            .await
            .unwrap()
    }
}

/// A database created for one test and dropped when the test ends.
pub(crate) struct PgDatabase {
    pub(crate) admin_url: String,
    pub(crate) name: String,
}

impl Drop for PgDatabase {
    fn drop(&mut self) {
        let admin_url = self.admin_url.clone();
        let name = self.name.clone();
        // Drop runs inside the test's runtime: do the async clean-up on a thread of its own.
        let _ = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async {
                if let Ok(mut conn) =
                    <sqlx::PgConnection as sqlx::Connection>::connect(&admin_url).await
                {
                    let _ = sqlx::query(sqlx::AssertSqlSafe(format!(
                        "DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"
                    )))
                    .execute(&mut conn)
                    .await;
                }
            });
        })
        .join();
    }
}

/// `admin_url` with its database name replaced by `name`.
pub fn database_url_with_name(admin_url: &str, name: &str) -> String {
    let (base, query) = admin_url
        .split_once('?')
        .map_or((admin_url, None), |(b, q)| (b, Some(q)));
    let scheme_end = base.find("://").map_or(0, |i| i + 3);
    let base = match base[scheme_end..].find('/') {
        Some(slash) => &base[..scheme_end + slash],
        None => base,
    };
    match query {
        Some(q) => format!("{base}/{name}?{q}"),
        None => format!("{base}/{name}"),
    }
}
