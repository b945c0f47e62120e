//! Runs the real `shelfsync serve` as a child process for a benchmark.

use std::path::PathBuf;
use std::process::Stdio;
use std::time::{Duration, Instant};

use tokio::process::{Child, Command};

pub struct Server {
    pub base: String,
    pub key: String,
    child: Child,
    _data_dir: Option<PathBuf>,
}

impl Server {
    pub async fn start(
        bin: &PathBuf,
        database_url: Option<&str>,
        redis_url: Option<&str>,
        port: u16,
    ) -> anyhow::Result<Server> {
        let data_dir = std::env::temp_dir().join(format!("shelfsync-bench-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&data_dir);
        std::fs::create_dir_all(&data_dir)?;
        let key = format!("ssk_bench_{}", rand::random::<u64>());
        let mut command = Command::new(bin);
        command
            .arg("serve")
            .env("SHELFSYNC_LISTEN", format!("127.0.0.1:{port}"))
            .env("SHELFSYNC_DATA_DIR", &data_dir)
            .env("SHELFSYNC_BOOTSTRAP_API_KEY", &key)
            // The benchmark measures serving, not the per-user budget.
            .env("SHELFSYNC_RATE_LIMIT_PER_MINUTE", "100000000")
            .env("RUST_LOG", "warn")
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .kill_on_drop(true);
        if let Some(url) = database_url {
            command.env("DATABASE_URL", url);
            // PostgreSQL deployments bring their own keys; any fresh one will do.
            let entry = shelfsync_core::vault::KeyRing::generate_entry("bench");
            command.env(
                "SHELFSYNC_ENCRYPTION_KEYS",
                shelfsync_core::vault::ExposeSecret::expose_secret(&entry),
            );
        }
        if let Some(url) = redis_url {
            command.env("REDIS_URL", url);
        }
        let child = command.spawn()?;
        let base = format!("http://127.0.0.1:{port}");
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
        Ok(Server {
            base,
            key,
            child,
            _data_dir: Some(data_dir),
        })
    }

    pub async fn stop(mut self) {
        let _ = self.child.kill().await;
        if let Some(dir) = &self._data_dir {
            let _ = std::fs::remove_dir_all(dir);
        }
    }
}
