//! `shelfsync queue`: what is waiting, running and dead, and who is working.

use std::time::Duration;

use crate::config::GlobalOptions;

pub async fn run(global: &GlobalOptions) -> anyhow::Result<()> {
    let store = super::open_store(global).await?;
    let (backlog, oldest) = store.outbox_backlog().await?;
    println!(
        "outbox: {backlog} unrelayed{}",
        oldest.map_or(String::new(), |ms| format!(", oldest {ms} ms"))
    );
    let stats = store.queue_stats().await?;
    println!();
    println!(
        "{:<10} {:>8} {:>8} {:>8} {:>8} {:>12}",
        "queue", "due", "delayed", "running", "dead", "oldest due"
    );
    if stats.is_empty() {
        println!("(no jobs)");
    }
    for q in &stats {
        println!(
            "{:<10} {:>8} {:>8} {:>8} {:>8} {:>12}",
            q.queue,
            q.due,
            q.delayed,
            q.running,
            q.dead,
            q.oldest_due_ms.map_or("-".into(), |ms| format!("{ms} ms"))
        );
    }
    let workers = store.list_workers(Duration::from_secs(3600)).await?;
    println!();
    println!("workers (last hour):");
    if workers.is_empty() {
        println!("(none)");
    }
    let now = chrono::Utc::now();
    for w in &workers {
        let state = match w.stopped_at {
            Some(at) => format!("stopped {}s ago", (now - at).num_seconds()),
            // Three missed heartbeats (5 s each) and it is presumed dead.
            None if (now - w.last_seen_at).num_seconds() > 15 => format!(
                "NOT RESPONDING (last seen {}s ago)",
                (now - w.last_seen_at).num_seconds()
            ),
            None => "running".into(),
        };
        println!(
            "  {}  [{}]  {} done, {} failed  {}",
            w.id, w.queues, w.jobs_done, w.jobs_failed, state
        );
    }
    store.close().await;
    Ok(())
}
