//! `jishi bench`: placeholder replaced below.
use clap::Args;
#[derive(Debug, Args)]
pub struct BenchArgs {
    /// Benchmark the PostgreSQL store at this URL (fresh schemas, dropped after).
    #[arg(long, value_name = "URL")]
    postgres: Option<String>,
    /// Events per PostgreSQL run.
    #[arg(long, default_value_t = 200_000)]
    pg_events: usize,
    /// Concurrent writers, one PostgreSQL run each.
    #[arg(long, value_delimiter = ',', default_values_t = [1, 8, 32])]
    pg_writers: Vec<usize>,
    /// Longest a PostgreSQL run may take, in seconds (it stops early).
    #[arg(long, default_value_t = 60.0)]
    pg_max_seconds: f64,
    /// Group commit: most requests in one transaction.
    #[arg(long, default_value_t = 512)]
    pg_max_batch: usize,
    /// Group commit: longest wait for more callers, in milliseconds.
    #[arg(long, default_value_t = 2.0)]
    pg_max_wait_ms: f64,
}
pub async fn run(args: BenchArgs) -> anyhow::Result<()> {
    if let Some(url) = args.postgres {
        let mut bench = crate::bench_pg::PgBench::new(url);
        bench.events = args.pg_events;
        bench.writers = args.pg_writers;
        bench.max_seconds = args.pg_max_seconds;
        bench.group_commit.max_requests = args.pg_max_batch;
        bench.group_commit.max_wait =
            std::time::Duration::from_secs_f64(args.pg_max_wait_ms.max(0.0) / 1e3);
        return crate::bench_pg::run(&bench).await;
    }
    anyhow::bail!("not yet")
}
