//! Runs the real `shelfsync serve` as a child process for a benchmark.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use tokio::process::{Child, Command};

pub struct Server {
    pub base: String,
    pub key: String,
    child: Child,
    _data_dir: Option<PathBuf>,
}

/// How to run one `shelfsync` process.
#[derive(Clone)]
pub struct Launch {
    pub bin: PathBuf,
    /// `serve`, `api` or `worker`.
    pub command: &'static str,
    pub database_url: Option<String>,
    pub redis_url: Option<String>,
    pub port: u16,
    /// Shared by processes of one deployment (the SQLite file lives there).
    pub data_dir: PathBuf,
    pub key: String,
    pub env: Vec<(String, String)>,
}

impl Launch {
    pub fn new(bin: &Path, database_url: Option<&str>, redis_url: Option<&str>, port: u16) -> Self {
        let data_dir = std::env::temp_dir().join(format!(
            "shelfsync-bench-{}-{}",
            std::process::id(),
            rand::random::<u32>()
        ));
        Launch {
            bin: bin.to_path_buf(),
            command: "serve",
            database_url: database_url.map(str::to_owned),
            redis_url: redis_url.map(str::to_owned),
            port,
            data_dir,
            key: format!("ssk_bench_{}", rand::random::<u64>()),
            env: Vec::new(),
        }
    }
}

impl Server {
    pub async fn start(
        bin: &Path,
        database_url: Option<&str>,
        redis_url: Option<&str>,
        port: u16,
    ) -> anyhow::Result<Server> {
        let launch = Launch::new(bin, database_url, redis_url, port);
        let _ = std::fs::remove_dir_all(&launch.data_dir);
        let mut server = Self::launch(&launch).await?;
        server._data_dir = Some(launch.data_dir);
        Ok(server)
    }

    /// Starts one process of `launch` and, unless it is a worker (which
    /// serves nothing), waits until it answers `/readyz`.
    pub async fn launch(launch: &Launch) -> anyhow::Result<Server> {
        std::fs::create_dir_all(&launch.data_dir)?;
        let mut command = Command::new(&launch.bin);
        command
            .arg(launch.command)
            .env("SHELFSYNC_LISTEN", format!("127.0.0.1:{}", launch.port))
            .env("SHELFSYNC_DATA_DIR", &launch.data_dir)
            .env("SHELFSYNC_BOOTSTRAP_API_KEY", &launch.key)
            // The benchmark measures serving, not the per-user budget.
            .env("SHELFSYNC_RATE_LIMIT_PER_MINUTE", "100000000")
            .env("RUST_LOG", "warn")
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .kill_on_drop(true);
        if let Some(url) = &launch.database_url {
            command.env("DATABASE_URL", url);
            // PostgreSQL deployments bring their own keys; any fixed one will do.
            command.env(
                "SHELFSYNC_ENCRYPTION_KEYS",
                "bench:AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=",
            );
        }
        if let Some(url) = &launch.redis_url {
            command.env("REDIS_URL", url);
        }
        // The servers' own logs, when a run needs explaining.
        if let Ok(filter) = std::env::var("SHELFSYNC_BENCH_SERVER_LOG") {
            command.env("RUST_LOG", filter);
        }
        for (key, value) in &launch.env {
            command.env(key, value);
        }
        let child = command.spawn()?;
        let base = format!("http://127.0.0.1:{}", launch.port);
        if launch.command != "worker" {
            let client = reqwest::Client::new();
            let deadline = Instant::now() + Duration::from_secs(60);
            loop {
                if let Ok(r) = client.get(format!("{base}/readyz")).send().await
                    && r.status().is_success()
                {
                    break;
                }
                if Instant::now() > deadline {
                    anyhow::bail!("shelfsync did not become ready within 60 s");
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
        Ok(Server {
            base,
            key: launch.key.clone(),
            child,
            _data_dir: None,
        })
    }

    pub async fn stop(mut self) {
        let _ = self.child.kill().await;
        if let Some(dir) = &self._data_dir {
            let _ = std::fs::remove_dir_all(dir);
        }
    }
}
