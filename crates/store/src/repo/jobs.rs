// The durable job queue. Compiled once per backend: see `backend.rs`.
//
// Finished jobs are deleted, so the table holds only what is waiting, running
// or dead, and the claim query's partial index stays small.

const JOB_COLUMNS: &str = "id, queue, kind, tenant_id, dedupe_key, payload, priority, attempts, max_attempts, run_at, created_at";

fn job_from_row(row: &<DB as sqlx::Database>::Row) -> StoreResult<JobRecord> {
    let tenant: Option<Uuid> = row.try_get("tenant_id")?;
    let payload: Json<serde_json::Value> = row.try_get("payload")?;
    Ok(JobRecord {
        id: JobId::from_uuid(row.try_get("id")?),
        queue: row.try_get("queue")?,
        kind: row.try_get("kind")?,
        tenant: tenant.map(TenantId::from_uuid),
        dedupe_key: row.try_get("dedupe_key")?,
        payload: payload.0,
        priority: row.try_get("priority")?,
        attempts: row.try_get("attempts")?,
        max_attempts: row.try_get("max_attempts")?,
        run_at: row.try_get("run_at")?,
        created_at: row.try_get("created_at")?,
    })
}

/// Starts a transaction for queue bookkeeping (see `RELAXED_COMMIT`).
async fn begin_bookkeeping(pool: &Pool) -> StoreResult<sqlx::Transaction<'static, DB>> {
    let mut tx = pool.begin_with(BEGIN_WRITE).await?;
    if let Some(sql) = RELAXED_COMMIT {
        sqlx::query(sql).execute(&mut *tx).await?;
    }
    Ok(tx)
}

/// Adds a job inside the caller's transaction. A job with the same dedupe key
/// already waiting absorbs this one (keeping the earlier time and the higher
/// priority); one already running is told to run once more when it finishes.
pub(crate) async fn enqueue_in(
    tx: &mut Conn,
    job: &NewJob,
    now: DateTime<Utc>,
) -> StoreResult<EnqueueOutcome> {
    let sql = format!(
        "INSERT INTO jobs (id, queue, kind, tenant_id, dedupe_key, payload, priority, state, rerun, attempts, max_attempts, run_at, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, 'ready', FALSE, 0, $8, $9, $10, $10) \
         ON CONFLICT (queue, dedupe_key) WHERE dedupe_key IS NOT NULL AND state IN ('ready', 'running') DO UPDATE SET \
           run_at = CASE WHEN jobs.state = 'ready' THEN {least}(jobs.run_at, excluded.run_at) ELSE jobs.run_at END, \
           priority = {least}(jobs.priority, excluded.priority), \
           attempts = CASE WHEN jobs.state = 'ready' THEN 0 ELSE jobs.attempts END, \
           rerun = (jobs.state = 'running'), \
           updated_at = excluded.updated_at \
         RETURNING id",
        least = LEAST
    );
    let id = JobId::new();
    let returned: Uuid = sqlx::query_scalar(AssertSqlSafe(sql))
        .bind(id.as_uuid())
        .bind(&job.queue)
        .bind(&job.kind)
        .bind(job.tenant.map(|t| t.as_uuid()))
        .bind(&job.dedupe_key)
        .bind(Json(&job.payload))
        .bind(job.priority)
        .bind(job.max_attempts)
        .bind(job.run_at.unwrap_or(now))
        .bind(now)
        .fetch_one(&mut *tx)
        .await?;
    Ok(if returned == id.as_uuid() {
        EnqueueOutcome::Created(id)
    } else {
        EnqueueOutcome::Merged(JobId::from_uuid(returned))
    })
}

pub(crate) async fn enqueue_jobs(
    pool: &Pool,
    jobs: &[NewJob],
    now: DateTime<Utc>,
) -> StoreResult<Vec<EnqueueOutcome>> {
    let mut tx = pool.begin_with(BEGIN_WRITE).await?;
    let mut outcomes = Vec::with_capacity(jobs.len());
    for job in jobs {
        outcomes.push(enqueue_in(&mut tx, job, now).await?);
    }
    tx.commit().await?;
    Ok(outcomes)
}

/// Takes up to `limit` due jobs of one queue, highest priority first, and
/// leases them to `worker` until `lease_until`. A running job whose lease has
/// passed (its worker died) is due again, and goes first.
///
/// Two statements rather than one with `OR`: each then walks its partial
/// index in order and stops at the limit, instead of sorting every due job.
pub(crate) async fn claim_jobs(
    pool: &Pool,
    queue: &str,
    worker: &str,
    limit: i64,
    lease_until: DateTime<Utc>,
    now: DateTime<Utc>,
) -> StoreResult<Vec<JobRecord>> {
    // Our own jobs are never "stalled": while this process lives, its lease
    // keeper renews them (even after a database outage let them lapse).
    let stalled = format!(
        "UPDATE jobs SET attempts = attempts + 1, locked_by = $1, locked_until = $2, updated_at = $3 \
         WHERE id IN (SELECT id FROM jobs WHERE queue = $4 AND state = 'running' AND locked_until < $3 \
                      AND locked_by <> $1 AND attempts < max_attempts \
                      ORDER BY locked_until LIMIT $5{SKIP_LOCKED}) \
         RETURNING {JOB_COLUMNS}"
    );
    let ready = format!(
        "UPDATE jobs SET state = 'running', attempts = attempts + 1, locked_by = $1, locked_until = $2, updated_at = $3 \
         WHERE id IN (SELECT id FROM jobs WHERE queue = $4 AND state = 'ready' AND run_at <= $3 \
                      ORDER BY priority, run_at LIMIT $5{SKIP_LOCKED}) \
         RETURNING {JOB_COLUMNS}"
    );
    let mut tx = begin_bookkeeping(pool).await?;
    // A job whose worker died on every attempt (it may be what kills them)
    // goes to the dead letters instead of round again.
    sqlx::query(
        "UPDATE jobs SET state = 'dead', locked_by = NULL, locked_until = NULL, updated_at = $2, \
         last_error = 'its worker stopped responding on every attempt' \
         WHERE queue = $1 AND state = 'running' AND locked_until < $2 AND attempts >= max_attempts",
    )
    .bind(queue)
    .bind(now)
    .execute(&mut *tx)
    .await?;
    let mut rows = Vec::new();
    for sql in [stalled, ready] {
        let left = limit - rows.len() as i64;
        if left <= 0 {
            break;
        }
        rows.extend(
            sqlx::query(AssertSqlSafe(sql))
                .bind(worker)
                .bind(lease_until)
                .bind(now)
                .bind(queue)
                .bind(left)
                .fetch_all(&mut *tx)
                .await?,
        );
    }
    tx.commit().await?;
    let mut jobs = rows
        .iter()
        .map(job_from_row)
        .collect::<StoreResult<Vec<_>>>()?;
    jobs.sort_by_key(|j| (j.priority, j.run_at));
    Ok(jobs)
}

/// Finishes jobs, many in one transaction: each is deleted, or made ready
/// again at once if it was enqueued anew while it ran. Jobs whose lease had
/// passed to another worker are left alone and reported. One commit for a
/// batch is what lets short jobs run at thousands per second.
pub(crate) async fn complete_jobs(
    pool: &Pool,
    ids: &[JobId],
    worker: &str,
    now: DateTime<Utc>,
) -> StoreResult<Completed> {
    let mut completed = Completed::default();
    if ids.is_empty() {
        return Ok(completed);
    }
    // One lock order for every writer of job rows, so two never deadlock.
    let mut ids = ids.to_vec();
    ids.sort();
    let mut tx = begin_bookkeeping(pool).await?;
    let mut done: Vec<Uuid> = Vec::with_capacity(ids.len());
    for chunk in ids.chunks(500) {
        let mut q = QueryBuilder::<DB>::new(
            "DELETE FROM jobs WHERE state = 'running' AND NOT rerun AND locked_by = ",
        );
        q.push_bind(worker).push(" AND id IN (");
        let mut list = q.separated(", ");
        for id in chunk {
            list.push_bind(id.as_uuid());
        }
        q.push(") RETURNING id");
        let rows: Vec<Uuid> = q.build_query_scalar().fetch_all(&mut *tx).await?;
        done.extend(rows);
    }
    for id in ids.iter().filter(|id| !done.contains(&id.as_uuid())) {
        // Enqueued again while it ran: ready again at once.
        let n = sqlx::query(
            "UPDATE jobs SET state = 'ready', rerun = FALSE, attempts = 0, run_at = $3, locked_by = NULL, locked_until = NULL, last_error = NULL, updated_at = $3 \
             WHERE id = $1 AND state = 'running' AND locked_by = $2",
        )
        .bind(id.as_uuid())
        .bind(worker)
        .bind(now)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if n == 0 {
            completed.lost.push(*id);
        } else {
            completed.requeued += 1;
        }
    }
    tx.commit().await?;
    Ok(completed)
}

/// The job failed: ready again at `retry_at`, or dead when `retry_at` is
/// `None`. A dead job that had been enqueued anew while it ran leaves a fresh
/// job behind, so new work is never buried with the old.
pub(crate) async fn fail_job(
    pool: &Pool,
    id: JobId,
    worker: &str,
    error: &str,
    retry_at: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
) -> StoreResult<FailOutcome> {
    let mut tx = pool.begin_with(BEGIN_WRITE).await?;
    let row = sqlx::query(AssertSqlSafe(format!(
        "SELECT rerun, {JOB_COLUMNS} FROM jobs WHERE id = $1 AND state = 'running' AND locked_by = $2{LOCK_ROW}"
    )))
    .bind(id.as_uuid())
    .bind(worker)
    .fetch_optional(&mut *tx)
    .await?;
    let Some(row) = row else {
        tx.rollback().await?;
        return Ok(FailOutcome::LeaseLost);
    };
    let rerun: bool = row.try_get("rerun")?;
    let job = job_from_row(&row)?;
    let outcome = match retry_at {
        Some(at) => {
            let at = if rerun { now } else { at };
            sqlx::query(
                "UPDATE jobs SET state = 'ready', rerun = FALSE, run_at = $2, locked_by = NULL, locked_until = NULL, last_error = $3, updated_at = $4 WHERE id = $1",
            )
            .bind(id.as_uuid())
            .bind(at)
            .bind(error)
            .bind(now)
            .execute(&mut *tx)
            .await?;
            FailOutcome::Retrying(at)
        }
        None => {
            sqlx::query(
                "UPDATE jobs SET state = 'dead', rerun = FALSE, locked_by = NULL, locked_until = NULL, last_error = $2, updated_at = $3 WHERE id = $1",
            )
            .bind(id.as_uuid())
            .bind(error)
            .bind(now)
            .execute(&mut *tx)
            .await?;
            if rerun {
                let again = NewJob {
                    queue: job.queue,
                    kind: job.kind,
                    tenant: job.tenant,
                    dedupe_key: job.dedupe_key,
                    payload: job.payload,
                    priority: job.priority,
                    max_attempts: job.max_attempts,
                    run_at: None,
                };
                enqueue_in(&mut tx, &again, now).await?;
            }
            FailOutcome::Dead
        }
    };
    tx.commit().await?;
    Ok(outcome)
}

/// Hands a leased job back untouched (shutdown): ready at once, and the
/// attempt it was charged is refunded.
pub(crate) async fn release_job(
    pool: &Pool,
    id: JobId,
    worker: &str,
    now: DateTime<Utc>,
) -> StoreResult<bool> {
    let mut tx = pool.begin_with(BEGIN_WRITE).await?;
    let released = sqlx::query(
        "UPDATE jobs SET state = 'ready', rerun = FALSE, attempts = attempts - 1, run_at = $3, locked_by = NULL, locked_until = NULL, updated_at = $3 \
         WHERE id = $1 AND state = 'running' AND locked_by = $2",
    )
    .bind(id.as_uuid())
    .bind(worker)
    .bind(now)
    .execute(&mut *tx)
    .await?
    .rows_affected();
    tx.commit().await?;
    Ok(released == 1)
}

/// Extends the leases of a worker's running jobs; returns the ids it still holds.
pub(crate) async fn extend_leases(
    pool: &Pool,
    worker: &str,
    ids: &[JobId],
    until: DateTime<Utc>,
    now: DateTime<Utc>,
) -> StoreResult<Vec<JobId>> {
    let mut held = Vec::with_capacity(ids.len());
    if ids.is_empty() {
        return Ok(held);
    }
    let mut ids = ids.to_vec();
    ids.sort();
    let mut tx = pool.begin_with(BEGIN_WRITE).await?;
    for id in &ids {
        let n = sqlx::query(
            "UPDATE jobs SET locked_until = $3, updated_at = $4 WHERE id = $1 AND state = 'running' AND locked_by = $2",
        )
        .bind(id.as_uuid())
        .bind(worker)
        .bind(until)
        .bind(now)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if n == 1 {
            held.push(*id);
        }
    }
    tx.commit().await?;
    Ok(held)
}

/// Depth, in flight, dead and oldest wait, per queue.
pub(crate) async fn queue_stats(pool: &Pool, now: DateTime<Utc>) -> StoreResult<Vec<QueueStats>> {
    let rows = sqlx::query(
        "SELECT queue, \
           SUM(CASE WHEN state = 'ready' AND run_at <= $1 THEN 1 ELSE 0 END) AS due, \
           SUM(CASE WHEN state = 'ready' AND run_at > $1 THEN 1 ELSE 0 END) AS delayed, \
           SUM(CASE WHEN state = 'running' THEN 1 ELSE 0 END) AS running, \
           SUM(CASE WHEN state = 'dead' THEN 1 ELSE 0 END) AS dead, \
           MIN(CASE WHEN state = 'ready' AND run_at <= $1 THEN run_at END) AS oldest \
         FROM jobs GROUP BY queue ORDER BY queue",
    )
    .bind(now)
    .fetch_all(pool)
    .await?;
    rows.iter()
        .map(|row| {
            let oldest: Option<DateTime<Utc>> = row.try_get("oldest")?;
            Ok(QueueStats {
                queue: row.try_get("queue")?,
                due: row.try_get::<i64, _>("due")?,
                delayed: row.try_get::<i64, _>("delayed")?,
                running: row.try_get::<i64, _>("running")?,
                dead: row.try_get::<i64, _>("dead")?,
                oldest_due_ms: oldest.map(|t| (now - t).num_milliseconds().max(0)),
            })
        })
        .collect()
}

/// Dead jobs, newest first, for inspection and retry.
pub(crate) async fn dead_jobs(pool: &Pool, limit: i64) -> StoreResult<Vec<DeadJob>> {
    let rows = sqlx::query(AssertSqlSafe(format!(
        "SELECT {JOB_COLUMNS}, last_error, updated_at FROM jobs WHERE state = 'dead' ORDER BY updated_at DESC LIMIT $1"
    )))
    .bind(limit)
    .fetch_all(pool)
    .await?;
    rows.iter()
        .map(|row| {
            Ok(DeadJob {
                job: job_from_row(row)?,
                last_error: row.try_get("last_error")?,
                died_at: row.try_get("updated_at")?,
            })
        })
        .collect()
}

/// Makes a dead job ready again with its attempts reset.
pub(crate) async fn retry_dead_job(
    pool: &Pool,
    id: JobId,
    now: DateTime<Utc>,
) -> StoreResult<bool> {
    let mut tx = pool.begin_with(BEGIN_WRITE).await?;
    // A live job with the same key already covers this one's work: the dead
    // one is simply dropped (checked first: on PostgreSQL a failed statement
    // would abort the whole transaction).
    let covered: Option<i32> = sqlx::query_scalar(
        "SELECT 1 FROM jobs d JOIN jobs l ON l.queue = d.queue AND l.dedupe_key = d.dedupe_key \
         WHERE d.id = $1 AND d.state = 'dead' AND l.state IN ('ready', 'running') LIMIT 1",
    )
    .bind(id.as_uuid())
    .fetch_optional(&mut *tx)
    .await?;
    let n = if covered.is_some() {
        sqlx::query("DELETE FROM jobs WHERE id = $1 AND state = 'dead'")
            .bind(id.as_uuid())
            .execute(&mut *tx)
            .await?
            .rows_affected()
    } else {
        sqlx::query(
            "UPDATE jobs SET state = 'ready', attempts = 0, run_at = $2, updated_at = $2 WHERE id = $1 AND state = 'dead'",
        )
        .bind(id.as_uuid())
        .bind(now)
        .execute(&mut *tx)
        .await?
        .rows_affected()
    };
    tx.commit().await?;
    Ok(n == 1)
}

/// Deletes dead jobs last touched before `before`.
pub(crate) async fn purge_dead_jobs(pool: &Pool, before: DateTime<Utc>) -> StoreResult<u64> {
    Ok(
        sqlx::query("DELETE FROM jobs WHERE state = 'dead' AND updated_at < $1")
            .bind(before)
            .execute(pool)
            .await?
            .rows_affected(),
    )
}

/// Creates or updates a repeatable job. An existing schedule keeps its next
/// run unless its period changed.
pub(crate) async fn upsert_schedule(
    pool: &Pool,
    schedule: &JobSchedule,
    now: DateTime<Utc>,
) -> StoreResult<()> {
    let first = now + chrono::Duration::seconds(schedule.every_seconds);
    let mut tx = pool.begin_with(BEGIN_WRITE).await?;
    sqlx::query(
        "INSERT INTO job_schedules (name, queue, kind, every_seconds, next_run_at) VALUES ($1, $2, $3, $4, $5) \
         ON CONFLICT (name) DO UPDATE SET queue = excluded.queue, kind = excluded.kind, \
           next_run_at = CASE WHEN job_schedules.every_seconds = excluded.every_seconds THEN job_schedules.next_run_at ELSE excluded.next_run_at END, \
           every_seconds = excluded.every_seconds",
    )
    .bind(&schedule.name)
    .bind(&schedule.queue)
    .bind(&schedule.kind)
    .bind(schedule.every_seconds)
    .bind(first)
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(())
}

/// Enqueues every repeatable job whose time has come and moves it to its next
/// period, in one transaction; returns the names enqueued. Each schedule's
/// advance is a compare-and-set, so processes racing here enqueue it once.
pub(crate) async fn run_due_schedules(
    pool: &Pool,
    max_attempts: i32,
    now: DateTime<Utc>,
) -> StoreResult<Vec<String>> {
    let mut tx = pool.begin_with(BEGIN_WRITE).await?;
    let due = sqlx::query(AssertSqlSafe(format!(
        "SELECT name, queue, kind, every_seconds, next_run_at FROM job_schedules WHERE next_run_at <= $1{SKIP_LOCKED}"
    )))
    .bind(now)
    .fetch_all(&mut *tx)
    .await?;
    let mut enqueued = Vec::new();
    for row in &due {
        let name: String = row.try_get("name")?;
        let every: i64 = row.try_get("every_seconds")?;
        let was: DateTime<Utc> = row.try_get("next_run_at")?;
        // The next slot after now: a scheduler that was down does not replay missed periods.
        let period = chrono::Duration::seconds(every);
        let missed = ((now - was).num_seconds() / every).max(0);
        let next = was + period * (missed as i32 + 1);
        let advanced = sqlx::query(
            "UPDATE job_schedules SET next_run_at = $3 WHERE name = $1 AND next_run_at = $2",
        )
        .bind(&name)
        .bind(was)
        .bind(next)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if advanced == 1 {
            let job = NewJob {
                queue: row.try_get("queue")?,
                kind: row.try_get("kind")?,
                tenant: None,
                dedupe_key: Some(format!("schedule:{name}")),
                payload: serde_json::json!({ "schedule": name }),
                priority: 200,
                max_attempts,
                run_at: None,
            };
            enqueue_in(&mut tx, &job, now).await?;
            enqueued.push(name);
        }
    }
    tx.commit().await?;
    Ok(enqueued)
}

/// Records that a worker process is alive (insert on first beat).
pub(crate) async fn worker_heartbeat(
    pool: &Pool,
    beat: &WorkerBeat,
    now: DateTime<Utc>,
) -> StoreResult<()> {
    let mut tx = pool.begin_with(BEGIN_WRITE).await?;
    sqlx::query(
        "INSERT INTO worker_heartbeats (id, host, pid, queues, started_at, last_seen_at, jobs_done, jobs_failed) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8) \
         ON CONFLICT (id) DO UPDATE SET last_seen_at = excluded.last_seen_at, jobs_done = excluded.jobs_done, jobs_failed = excluded.jobs_failed",
    )
    .bind(&beat.id)
    .bind(&beat.host)
    .bind(beat.pid)
    .bind(&beat.queues)
    .bind(beat.started_at)
    .bind(now)
    .bind(beat.jobs_done)
    .bind(beat.jobs_failed)
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(())
}

pub(crate) async fn worker_stopped(pool: &Pool, id: &str, now: DateTime<Utc>) -> StoreResult<()> {
    let mut tx = pool.begin_with(BEGIN_WRITE).await?;
    sqlx::query("UPDATE worker_heartbeats SET stopped_at = $2, last_seen_at = $2 WHERE id = $1")
        .bind(id)
        .bind(now)
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(())
}

/// Workers seen since `since`, and those that stopped beating without saying so.
pub(crate) async fn list_workers(
    pool: &Pool,
    since: DateTime<Utc>,
) -> StoreResult<Vec<WorkerRecord>> {
    let rows = sqlx::query(
        "SELECT id, host, pid, queues, started_at, last_seen_at, stopped_at, jobs_done, jobs_failed FROM worker_heartbeats \
         WHERE last_seen_at >= $1 OR stopped_at IS NULL ORDER BY started_at DESC",
    )
    .bind(since)
    .fetch_all(pool)
    .await?;
    rows.iter()
        .map(|row| {
            Ok(WorkerRecord {
                id: row.try_get("id")?,
                host: row.try_get("host")?,
                pid: row.try_get("pid")?,
                queues: row.try_get("queues")?,
                started_at: row.try_get("started_at")?,
                last_seen_at: row.try_get("last_seen_at")?,
                stopped_at: row.try_get("stopped_at")?,
                jobs_done: row.try_get("jobs_done")?,
                jobs_failed: row.try_get("jobs_failed")?,
            })
        })
        .collect()
}

/// Forgets workers that stopped (or vanished) before `before`.
pub(crate) async fn purge_workers(pool: &Pool, before: DateTime<Utc>) -> StoreResult<u64> {
    Ok(
        sqlx::query("DELETE FROM worker_heartbeats WHERE last_seen_at < $1")
            .bind(before)
            .execute(pool)
            .await?
            .rows_affected(),
    )
}

/// Records a channel write as applied. `false` when it already was: the
/// caller must not send it again.
pub(crate) async fn record_channel_write(
    pool: &Pool,
    write: &ChannelWrite,
    now: DateTime<Utc>,
) -> StoreResult<bool> {
    let mut tx = pool.begin_with(BEGIN_WRITE).await?;
    let n = sqlx::query(
        "INSERT INTO channel_writes (idempotency_key, tenant_id, listing_id, content_hash, applied_at) VALUES ($1, $2, $3, $4, $5) \
         ON CONFLICT (idempotency_key) DO NOTHING",
    )
    .bind(&write.key)
    .bind(write.tenant.as_uuid())
    .bind(write.listing.as_uuid())
    .bind(&write.content_hash[..])
    .bind(now)
    .execute(&mut *tx)
    .await?
    .rows_affected();
    tx.commit().await?;
    Ok(n == 1)
}

/// Whether a channel write with this key was already applied.
pub(crate) async fn channel_write_applied(pool: &Pool, key: &str) -> StoreResult<bool> {
    let found: Option<i32> =
        sqlx::query_scalar("SELECT 1 FROM channel_writes WHERE idempotency_key = $1")
            .bind(key)
            .fetch_optional(pool)
            .await?;
    Ok(found.is_some())
}

/// Deletes ledger entries older than `before`; by then no retry can still be pending.
pub(crate) async fn purge_channel_writes(pool: &Pool, before: DateTime<Utc>) -> StoreResult<u64> {
    Ok(
        sqlx::query("DELETE FROM channel_writes WHERE applied_at < $1")
            .bind(before)
            .execute(pool)
            .await?
            .rows_affected(),
    )
}
