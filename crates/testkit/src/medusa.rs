//! A real Medusa 2.x server for the Medusa adapter's end-to-end tests.
//!
//! Medusa is a Node application, so the harness installs it from npm at a
//! pinned version into a cache directory outside the repository, once
//! (`$SHELFSYNC_MEDUSA_HOME`, else `~/.cache/shelfsync/medusa-<version>`),
//! with a minimal project it writes itself (`package.json`,
//! `medusa-config.js`). It migrates a template database once
//! (`medusa db:migrate`, plus an admin user made with `medusa user`), and
//! every server then runs on a clone of it (`CREATE DATABASE … TEMPLATE …`),
//! which takes a second where migrating takes half a minute. A server gets
//! a free port, a secret API key, a stock location, the store's sales
//! channel and a region; dropping it kills its process group and drops its
//! database.
//!
//! Nothing runs unless `SHELFSYNC_TEST_MEDUSA=1`: otherwise the suite says
//! once that it is skipped. When it is wanted but something it needs is
//! missing (PostgreSQL, Node, npm), it skips with the reason, or fails when
//! `SHELFSYNC_TEST_REQUIRE_SERVICES=1` (as in CI).

use crate::free_port;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Once;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::{PgDatabase, database_url_with_name, required, service_url};

/// The Medusa release the harness installs and the adapter was checked against.
pub const MEDUSA_VERSION: &str = "2.21.2";

/// The admin the template database is made with.
const ADMIN_EMAIL: &str = "admin@shelfsync.test";
const ADMIN_PASSWORD: &str = "shelfsync-test-password";

/// Say why the suite does not run: once on the terminal (the test harness
/// captures `eprintln!`), or as a failure when services are required.
fn skip(reason: &str) -> Option<MedusaServer> {
    if required() {
        panic!("the Medusa suite cannot run: {reason} (SHELFSYNC_TEST_REQUIRE_SERVICES=1)");
    }
    static NOTE: Once = Once::new();
    NOTE.call_once(|| {
        let _ = writeln!(std::io::stderr(), "\nSKIPPED: the Medusa suite: {reason}");
    });
    None
}

fn say(message: &str) {
    let _ = writeln!(std::io::stderr(), "medusa harness: {message}");
}

/// Where the pinned Medusa is installed.
pub fn home() -> PathBuf {
    if let Some(dir) = std::env::var_os("SHELFSYNC_MEDUSA_HOME").filter(|d| !d.is_empty()) {
        return PathBuf::from(dir);
    }
    let base = std::env::var_os("HOME")
        .map(PathBuf::from)
        .unwrap_or_else(std::env::temp_dir);
    base.join(".cache/shelfsync")
        .join(format!("medusa-{MEDUSA_VERSION}"))
}

fn tool_works(name: &str) -> bool {
    Command::new(name)
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// `node --version` without its `v`.
fn node_version() -> Option<String> {
    let output = Command::new("node").arg("--version").output().ok()?;
    let text = String::from_utf8_lossy(&output.stdout);
    Some(text.trim().trim_start_matches('v').to_owned())
}

/// Whether Node `version` runs Medusa 2.21 (its `engines`: `^20.19.0 || >=22.12.0`).
fn node_fits(version: &str) -> bool {
    let mut parts = version.split('.').map(|p| p.parse::<u32>().unwrap_or(0));
    let (major, minor) = (parts.next().unwrap_or(0), parts.next().unwrap_or(0));
    (major == 20 && minor >= 19) || (major == 22 && minor >= 12) || major > 22
}

/// A directory made atomically, as a lock between test processes; removed
/// when dropped. A lock older than `stale` is taken over (its holder died).
struct DirLock(PathBuf);

impl DirLock {
    fn take(path: PathBuf, stale: Duration) -> DirLock {
        let start = Instant::now();
        loop {
            match std::fs::create_dir(&path) {
                Ok(()) => return DirLock(path),
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                    let age = std::fs::metadata(&path)
                        .and_then(|m| m.modified())
                        .ok()
                        .and_then(|m| m.elapsed().ok())
                        .unwrap_or_default();
                    if age > stale {
                        let _ = std::fs::remove_dir(&path);
                        continue;
                    }
                    assert!(
                        start.elapsed() < stale * 2,
                        "waited too long for {}",
                        path.display()
                    );
                    std::thread::sleep(Duration::from_millis(500));
                }
                Err(e) => panic!("cannot create {}: {e}", path.display()),
            }
        }
    }
}

impl Drop for DirLock {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir(&self.0);
    }
}

const PACKAGE_JSON: &str = r#"{
  "name": "shelfsync-medusa-harness",
  "version": "0.0.0",
  "private": true,
  "description": "Written by shelfsync-testkit: a minimal Medusa project for end-to-end tests.",
  "dependencies": {
    "@medusajs/medusa": "VERSION",
    "@medusajs/framework": "VERSION",
    "@medusajs/cli": "VERSION"
  }
}
"#;

/// Database, secrets and port come from the environment each server is
/// started with; the admin dashboard is off (it would need a build).
const MEDUSA_CONFIG: &str = r#"// Written by shelfsync-testkit.
const { defineConfig } = require("@medusajs/framework/utils")

module.exports = defineConfig({
  projectConfig: {
    databaseUrl: process.env.DATABASE_URL,
    databaseDriverOptions: { connection: { ssl: false } },
    http: {
      storeCors: "*",
      adminCors: "*",
      authCors: "*",
      jwtSecret: process.env.JWT_SECRET,
      cookieSecret: process.env.COOKIE_SECRET,
    },
  },
  admin: { disable: true },
})
"#;

/// Install the pinned Medusa into `dir` unless it is there already.
fn install(dir: &Path) -> Result<(), String> {
    let marker = dir.join(".shelfsync-installed");
    if std::fs::read_to_string(&marker).is_ok_and(|v| v.trim() == MEDUSA_VERSION) {
        return Ok(());
    }
    std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let _lock = DirLock::take(dir.join(".install.lock"), Duration::from_secs(900));
    if std::fs::read_to_string(&marker).is_ok_and(|v| v.trim() == MEDUSA_VERSION) {
        return Ok(());
    }
    std::fs::write(
        dir.join("package.json"),
        PACKAGE_JSON.replace("VERSION", MEDUSA_VERSION),
    )
    .map_err(|e| e.to_string())?;
    std::fs::write(dir.join("medusa-config.js"), MEDUSA_CONFIG).map_err(|e| e.to_string())?;
    say(&format!(
        "installing Medusa {MEDUSA_VERSION} into {} (once; a few minutes)",
        dir.display()
    ));
    let start = Instant::now();
    let output = Command::new("npm")
        .args(["install", "--no-audit", "--no-fund", "--loglevel=error"])
        .current_dir(dir)
        .output()
        .map_err(|e| format!("npm: {e}"))?;
    if !output.status.success() {
        return Err(format!(
            "npm install failed: {}",
            String::from_utf8_lossy(&output.stderr)
        ));
    }
    std::fs::write(&marker, MEDUSA_VERSION).map_err(|e| e.to_string())?;
    say(&format!(
        "installed Medusa {MEDUSA_VERSION} in {:.0} s",
        start.elapsed().as_secs_f64()
    ));
    Ok(())
}

/// Run the installed `medusa` CLI against `database_url`.
fn medusa_cli(dir: &Path, database_url: &str, args: &[&str]) -> Result<(), String> {
    let output = Command::new(dir.join("node_modules/.bin/medusa"))
        .args(args)
        .current_dir(dir)
        .env("DATABASE_URL", database_url)
        .env("JWT_SECRET", "shelfsync-test-jwt")
        .env("COOKIE_SECRET", "shelfsync-test-cookie")
        .output()
        .map_err(|e| format!("medusa {}: {e}", args.join(" ")))?;
    if output.status.success() {
        Ok(())
    } else {
        let out = String::from_utf8_lossy(&output.stdout);
        let tail: String = out
            .lines()
            .rev()
            .take(20)
            .collect::<Vec<_>>()
            .into_iter()
            .rev()
            .collect::<Vec<_>>()
            .join("\n");
        Err(format!(
            "medusa {} failed:\n{tail}\n{}",
            args.join(" "),
            String::from_utf8_lossy(&output.stderr)
        ))
    }
}

async fn pg(admin_url: &str) -> sqlx::PgConnection {
    <sqlx::PgConnection as sqlx::Connection>::connect(admin_url)
        .await
        .expect("connect to SHELFSYNC_TEST_POSTGRES_URL")
}

async fn database_exists(admin_url: &str, name: &str) -> bool {
    let mut conn = pg(admin_url).await;
    sqlx::query_scalar::<_, i32>("SELECT 1 FROM pg_database WHERE datname = $1")
        .bind(name)
        .fetch_optional(&mut conn)
        .await
        .unwrap()
        .is_some()
}

async fn execute(admin_url: &str, sql: String) -> Result<(), sqlx::Error> {
    let mut conn = pg(admin_url).await;
    sqlx::query(sqlx::AssertSqlSafe(sql))
        .execute(&mut conn)
        .await
        .map(|_| ())
}

/// The migrated template with its admin user, made once per Medusa version:
/// built under a temporary name and renamed when complete, so a half-made
/// template is never cloned.
async fn template(dir: &Path, admin_url: &str) -> String {
    let name = format!("shelfsync_medusa_tpl_{}", MEDUSA_VERSION.replace('.', "_"));
    if database_exists(admin_url, &name).await {
        return name;
    }
    let building = format!(
        "shelfsync_test_medusa_building_{}",
        uuid::Uuid::new_v4().simple()
    );
    execute(admin_url, format!("CREATE DATABASE \"{building}\""))
        .await
        .unwrap();
    let url = database_url_with_name(admin_url, &building);
    let start = Instant::now();
    say("migrating the template database (once)");
    let dir = dir.to_owned();
    let made = tokio::task::spawn_blocking(move || {
        medusa_cli(&dir, &url, &["db:migrate"])?;
        medusa_cli(
            &dir,
            &url,
            &["user", "-e", ADMIN_EMAIL, "-p", ADMIN_PASSWORD],
        )
    })
    .await
    .unwrap();
    if let Err(e) = made {
        let _ = execute(
            admin_url,
            format!("DROP DATABASE IF EXISTS \"{building}\" WITH (FORCE)"),
        )
        .await;
        panic!("{e}");
    }
    if execute(
        admin_url,
        format!("ALTER DATABASE \"{building}\" RENAME TO \"{name}\""),
    )
    .await
    .is_err()
    {
        // Another test process finished first; its template is as good.
        let _ = execute(
            admin_url,
            format!("DROP DATABASE IF EXISTS \"{building}\" WITH (FORCE)"),
        )
        .await;
    }
    say(&format!(
        "template ready in {:.0} s",
        start.elapsed().as_secs_f64()
    ));
    name
}

/// A running Medusa server with a secret API key and a place to keep stock.
pub struct MedusaServer {
    /// The server's base URL (`http://127.0.0.1:{port}`).
    pub url: String,
    /// A secret API key (`sk_…`) for the adapter.
    pub api_key: String,
    /// An admin session token, to change things as a merchant would.
    admin_token: String,
    pub store_id: String,
    /// The location the harness made and set as the store's default.
    pub stock_location_id: String,
    /// The store's default sales channel, stocked from that location.
    pub sales_channel_id: String,
    /// A US region in USD, for orders.
    pub region_id: String,
    client: reqwest::Client,
    child: Child,
    log: PathBuf,
    _db: PgDatabase,
    _logs: tempfile::TempDir,
}

impl MedusaServer {
    /// A fresh server on a clone of the template, or `None` (said once on
    /// the terminal) when the suite is not wanted or cannot run here.
    pub async fn start() -> Option<MedusaServer> {
        if std::env::var("SHELFSYNC_TEST_MEDUSA").map_or(true, |v| v != "1" && v != "true") {
            static NOTE: Once = Once::new();
            NOTE.call_once(|| {
                let _ = writeln!(
                    std::io::stderr(),
                    "\nSKIPPED: the Medusa suite (set SHELFSYNC_TEST_MEDUSA=1 and \
                     SHELFSYNC_TEST_POSTGRES_URL to run it against a real Medusa {MEDUSA_VERSION}; \
                     it needs Node and npm)"
                );
            });
            return None;
        }
        let admin_url = service_url("SHELFSYNC_TEST_POSTGRES_URL", "Medusa")?;
        for tool in ["node", "npm"] {
            if !tool_works(tool) {
                return skip(&format!("`{tool}` is not installed"));
            }
        }
        if let Some(version) = node_version().filter(|v| !node_fits(v)) {
            return skip(&format!(
                "Node {version} is older than Medusa {MEDUSA_VERSION} needs (^20.19 or >=22.12)"
            ));
        }
        let dir = home();
        let install_dir = dir.clone();
        if let Err(e) = tokio::task::spawn_blocking(move || install(&install_dir))
            .await
            .unwrap()
        {
            return skip(&e);
        }
        let template = template(&dir, &admin_url).await;
        let name = format!("shelfsync_test_medusa_{}", uuid::Uuid::new_v4().simple());
        execute(
            &admin_url,
            format!("CREATE DATABASE \"{name}\" TEMPLATE \"{template}\""),
        )
        .await
        .expect("clone the Medusa template");
        let db = PgDatabase {
            admin_url: admin_url.clone(),
            name: name.clone(),
        };
        let logs = tempfile::tempdir().unwrap();
        let log = logs.path().join("medusa.log");
        let port = free_port();
        let child = Self::spawn(&dir, &database_url_with_name(&admin_url, &name), port, &log);
        let mut server = MedusaServer {
            url: format!("http://127.0.0.1:{port}"),
            api_key: String::new(),
            admin_token: String::new(),
            store_id: String::new(),
            stock_location_id: String::new(),
            sales_channel_id: String::new(),
            region_id: String::new(),
            client: reqwest::Client::new(),
            child,
            log,
            _db: db,
            _logs: logs,
        };
        server.wait_healthy().await;
        server.set_up().await;
        Some(server)
    }

    fn spawn(dir: &Path, database_url: &str, port: u16, log: &Path) -> Child {
        use std::os::unix::process::CommandExt;
        let out = std::fs::File::create(log).unwrap();
        let err = out.try_clone().unwrap();
        Command::new(dir.join("node_modules/.bin/medusa"))
            .arg("start")
            .current_dir(dir)
            .env("DATABASE_URL", database_url)
            .env("PORT", port.to_string())
            .env("HOST", "127.0.0.1")
            .env("JWT_SECRET", "shelfsync-test-jwt")
            .env("COOKIE_SECRET", "shelfsync-test-cookie")
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            // Its own process group, so stopping it stops every process it started.
            .process_group(0)
            .spawn()
            .expect("start medusa")
    }

    /// The end of the server's log, for failure messages.
    pub fn log_tail(&self) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(30)..].join("\n")
    }

    async fn wait_healthy(&mut self) {
        let start = Instant::now();
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!(
                    "medusa exited ({status}) before it was healthy:\n{}",
                    self.log_tail()
                );
            }
            let health = self
                .client
                .get(format!("{}/health", self.url))
                .timeout(Duration::from_secs(2))
                .send()
                .await;
            if health.is_ok_and(|r| r.status().is_success()) {
                say(&format!(
                    "server up on {} in {:.1} s",
                    self.url,
                    start.elapsed().as_secs_f64()
                ));
                return;
            }
            assert!(
                start.elapsed() < Duration::from_secs(180),
                "medusa was not healthy within 180 s:\n{}",
                self.log_tail()
            );
            tokio::time::sleep(Duration::from_millis(300)).await;
        }
    }

    async fn send(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<&Value>,
    ) -> Result<Value, String> {
        let mut request = self
            .client
            .request(method.clone(), format!("{}{path}", self.url))
            .timeout(Duration::from_secs(60));
        if !self.admin_token.is_empty() {
            request = request.bearer_auth(&self.admin_token);
        }
        if let Some(body) = body {
            request = request.json(body);
        }
        let response = request.send().await.map_err(|e| e.to_string())?;
        let status = response.status();
        let text = response.text().await.map_err(|e| e.to_string())?;
        if !status.is_success() {
            return Err(format!("{method} {path}: {status}: {text}"));
        }
        serde_json::from_str(&text).map_err(|e| format!("{method} {path}: {e}: {text}"))
    }

    /// `GET path` as the admin; panics on an error answer.
    pub async fn admin_get(&self, path: &str) -> Value {
        self.send(reqwest::Method::GET, path, None)
            .await
            .unwrap_or_else(|e| panic!("{e}"))
    }

    /// `POST path` as the admin; panics on an error answer.
    pub async fn admin_post(&self, path: &str, body: &Value) -> Value {
        self.send(reqwest::Method::POST, path, Some(body))
            .await
            .unwrap_or_else(|e| panic!("{e}"))
    }

    /// Log in, make a secret API key, and give the store what a sync
    /// needs: USD, a stock location (the store's default, stocking its
    /// sales channel) and a US region for orders.
    async fn set_up(&mut self) {
        let login = self
            .send(
                reqwest::Method::POST,
                "/auth/user/emailpass",
                Some(&json!({"email": ADMIN_EMAIL, "password": ADMIN_PASSWORD})),
            )
            .await
            .unwrap_or_else(|e| panic!("admin login: {e}"));
        self.admin_token = login["token"].as_str().expect("a token").to_owned();
        let key = self
            .admin_post(
                "/admin/api-keys",
                &json!({"title": "shelfsync", "type": "secret"}),
            )
            .await;
        self.api_key = key["api_key"]["token"].as_str().expect("a key").to_owned();
        let stores = self.admin_get("/admin/stores").await;
        let store = &stores["stores"][0];
        self.store_id = store["id"].as_str().expect("a store").to_owned();
        self.sales_channel_id = store["default_sales_channel_id"]
            .as_str()
            .expect("a default sales channel")
            .to_owned();
        let location = self
            .admin_post(
                "/admin/stock-locations",
                &json!({"name": "Shelfsync test warehouse"}),
            )
            .await;
        self.stock_location_id = location["stock_location"]["id"]
            .as_str()
            .expect("a location")
            .to_owned();
        self.admin_post(
            &format!(
                "/admin/stock-locations/{}/sales-channels",
                self.stock_location_id
            ),
            &json!({"add": [self.sales_channel_id]}),
        )
        .await;
        self.admin_post(
            &format!("/admin/stores/{}", self.store_id),
            &json!({
                "supported_currencies": [{"currency_code": "usd", "is_default": true}],
                "default_location_id": self.stock_location_id,
            }),
        )
        .await;
        let region = self
            .admin_post(
                "/admin/regions",
                &json!({"name": "United States", "currency_code": "usd", "countries": ["us"]}),
            )
            .await;
        self.region_id = region["region"]["id"]
            .as_str()
            .expect("a region")
            .to_owned();
    }

    /// Place an order as Medusa's admin does for a phone order: a draft
    /// order with these `(variant id, quantity)` lines, converted to an
    /// order (which reserves its units). Returns the order id.
    pub async fn place_order(&self, lines: &[(&str, i64)]) -> String {
        let items: Vec<Value> = lines
            .iter()
            .map(|(variant, quantity)| json!({"variant_id": variant, "quantity": quantity}))
            .collect();
        let draft = self
            .admin_post(
                "/admin/draft-orders",
                &json!({
                    "region_id": self.region_id,
                    "sales_channel_id": self.sales_channel_id,
                    "email": "buyer@shelfsync.test",
                    "items": items,
                }),
            )
            .await;
        let id = draft["draft_order"]["id"].as_str().expect("a draft order");
        let order = self
            .admin_post(
                &format!("/admin/draft-orders/{id}/convert-to-order"),
                &json!({}),
            )
            .await;
        order["order"]["id"].as_str().expect("an order").to_owned()
    }

    /// Cancel an order as the merchant does in Medusa's admin
    /// (`POST /admin/orders/{id}/cancel`): its reservations are released.
    pub async fn cancel_order(&self, id: &str) {
        self.admin_post(&format!("/admin/orders/{id}/cancel"), &json!({}))
            .await;
    }
}

impl Drop for MedusaServer {
    fn drop(&mut self) {
        let group = format!("-{}", self.child.id());
        let signal = |name: &str| {
            Command::new("kill")
                .args([name, "--", &group])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status()
                .is_ok_and(|s| s.success())
        };
        signal("-TERM");
        // The whole group, not only the child: Node may have started workers.
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            // Reap the child first: a zombie still counts as a group member.
            let _ = self.child.try_wait();
            if !signal("-0") {
                break;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        signal("-KILL");
        let _ = self.child.wait();
        // The database is dropped after this, by its own guard.
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn node_versions_are_judged_by_medusas_engines() {
        assert!(node_fits("20.20.2"));
        assert!(node_fits("22.12.0"));
        assert!(node_fits("24.1.0"));
        assert!(!node_fits("18.20.4"));
        assert!(!node_fits("20.18.1"));
        assert!(!node_fits("21.7.0"));
        assert!(!node_fits("22.11.0"));
    }
}
