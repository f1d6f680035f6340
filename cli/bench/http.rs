//! `jishi bench --http`: the server under load on loopback (issue 7).
//!
//! The server (`jishi_server::serve`, the very code `jishi serve` runs) is
//! started in this process on `127.0.0.1:0` over a fresh store (a temporary
//! SQLite file, or a fresh schema with `--http-postgres URL`). `clients`
//! tasks, each with its own HTTP client and one request in flight, record
//! the steps of generated township elections (`jishi_projections::demo`:
//! every command passes the procedure's gates in order) with
//! `POST /api/record/{kind}` for `seconds`. Each client walks elections of
//! its own, so the clients contend for the store, not for one election.
//!
//! Then, not timed:
//! * `verify_with_proofs` on the store must pass;
//! * every acknowledged event (its `event_id` at its `position`, as answered
//!   with 201) must be in the ledger.
//!
//! The baseline, in the same run: the commands the server acknowledged,
//! recorded again directly through `jishi_app::record` (no HTTP, no server)
//! by as many tasks on a fresh store of the same kind, each replaying what
//! its client recorded, in the same order. The ratio of the two rates is
//! what HTTP and the server add.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::Context;
use jishi_app::users::{self, AccessRole, NewUser};
use jishi_ledger::postgres::{PgOptions, PostgresStore};
use jishi_ledger::verify::Quiet;
use jishi_ledger::{EventStore, ProofStore, SqliteStore};
use jishi_projections::demo::{self, DemoConfig, DemoElection};
use jishi_server::{AppState, Limits};

use super::harness::{percentile, Schema};

/// What to measure.
#[derive(Debug, Clone)]
pub struct HttpBench {
    pub clients: usize,
    pub seconds: f64,
    /// Run the server on PostgreSQL at this URL (fresh schemas, dropped after).
    pub postgres: Option<String>,
}

/// The seed of the first generated district; later ones add 1.
const SEED: u64 = 2021;

/// Elections handed to the clients, generated a district at a time by
/// [`district`]. The generator names elections by township
/// (`qingshan-2021`, `qingshan1-2021`, …) whatever the seed, so every
/// district after the first gets a suffix of its own (`qingshan-d3-2021`) to
/// keep the election ids unique.
struct Source {
    per_district: usize,
    next_district: u64,
    queue: VecDeque<Arc<DemoElection>>,
}

impl Source {
    /// Starts with the first district, already generated.
    fn new(first: Vec<DemoElection>, per_district: usize) -> Source {
        Source {
            per_district: per_district.max(1),
            next_district: 1,
            queue: first.into_iter().map(Arc::new).collect(),
        }
    }

    fn next(&mut self) -> anyhow::Result<Arc<DemoElection>> {
        if self.queue.is_empty() {
            let d = self.next_district;
            self.next_district += 1;
            for e in district(d, self.per_district)? {
                self.queue.push_back(Arc::new(e));
            }
        }
        self.queue
            .pop_front()
            .context("the demo generator made no election")
    }
}

fn district(d: u64, townships: usize) -> anyhow::Result<Vec<DemoElection>> {
    let demo = demo::generate(&DemoConfig {
        seed: SEED + d,
        townships,
    })
    .map_err(|e| anyhow::anyhow!("generating the demo district: {e}"))?;
    let mut elections = demo.elections;
    for e in &mut elections {
        let local = if d > 0 {
            let base = e.election_id.trim_end_matches("-2021");
            format!("{base}-d{d}-2021")
        } else {
            e.election_id.clone()
        };
        // Opened through the server, so named in the opener's namespace,
        // the first segment of its organisation (D54).
        let namespace = e
            .commands
            .first()
            .map(|p| {
                p.actor
                    .org
                    .split('/')
                    .next()
                    .unwrap_or_default()
                    .to_string()
            })
            .unwrap_or_default();
        e.election_id = format!("{namespace}:{local}");
        for p in &mut e.commands {
            p.command.election_id = e.election_id.clone();
        }
    }
    Ok(elections)
}

/// The demo's actors (the district's recorders), each with whether any of its
/// commands carries an override (only an admin may record one).
fn actors(elections: &[DemoElection]) -> BTreeMap<String, (jishi_projections::Actor, bool)> {
    let mut out: BTreeMap<String, (jishi_projections::Actor, bool)> = BTreeMap::new();
    for p in elections.iter().flat_map(|e| &e.commands) {
        let entry = out
            .entry(p.actor.id.clone())
            .or_insert_with(|| (p.actor.clone(), false));
        entry.1 |= !p.command.overrides.is_empty();
    }
    out
}

/// One command a client recorded, kept for the baseline's replay.
#[derive(Clone)]
struct Done {
    election: Arc<DemoElection>,
    /// Commands of `election` acknowledged, from the first.
    commands: usize,
}

/// What one client (or one direct task) did.
#[derive(Default)]
struct ClientRun {
    latencies: Vec<Duration>,
    /// (position, event_id) of every acknowledged event.
    acknowledged: Vec<(u64, String)>,
    errors: usize,
    first_error: Option<String>,
    done: Vec<Done>,
}

impl ClientRun {
    fn error(&mut self, text: String) {
        self.errors += 1;
        if self.first_error.is_none() {
            self.first_error = Some(text);
        }
    }
}

/// Figures of one path (HTTP or direct).
struct Measured {
    requests: usize,
    events: usize,
    errors: usize,
    first_error: Option<String>,
    elapsed: Duration,
    latencies: Vec<Duration>,
}

impl Measured {
    fn of(runs: &[ClientRun], events: usize, elapsed: Duration) -> Measured {
        let mut latencies: Vec<Duration> = runs
            .iter()
            .flat_map(|r| r.latencies.iter().copied())
            .collect();
        latencies.sort_unstable();
        Measured {
            requests: latencies.len(),
            events,
            errors: runs.iter().map(|r| r.errors).sum(),
            first_error: runs.iter().find_map(|r| r.first_error.clone()),
            elapsed,
            latencies,
        }
    }

    fn per_s(&self, n: usize) -> f64 {
        n as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }

    fn ms(&self, p: f64) -> f64 {
        super::harness::ms(percentile(&self.latencies, p))
    }
}

/// A store for one path, and what keeps it (a temporary file or a schema).
struct Store {
    store: Arc<dyn ProofStore>,
    label: String,
    _dir: Option<tempfile::TempDir>,
    schema: Option<Schema>,
}

impl Store {
    async fn fresh(postgres: Option<&str>, kind: &str, clients: usize) -> anyhow::Result<Store> {
        match postgres {
            None => {
                let dir = tempfile::tempdir().context("temporary directory")?;
                let path = dir.path().join(format!("{kind}.db"));
                let store = tokio::task::spawn_blocking(move || SqliteStore::open(path))
                    .await
                    .context("opening the SQLite store")??;
                Ok(Store {
                    store: Arc::new(store),
                    label: "SQLite, temporary file".into(),
                    _dir: Some(dir),
                    schema: None,
                })
            }
            Some(url) => {
                let schema = Schema::create(url, &format!("http_{kind}"), clients).await?;
                let store =
                    PostgresStore::open_with(schema.config()?, PgOptions::default()).await?;
                Ok(Store {
                    store: Arc::new(store),
                    label: format!("PostgreSQL, schema {}", schema.name),
                    _dir: None,
                    schema: Some(schema),
                })
            }
        }
    }

    async fn drop(self) -> anyhow::Result<()> {
        let Store { store, schema, .. } = self;
        drop(store);
        if let Some(s) = schema {
            s.drop().await?;
        }
        Ok(())
    }
}

pub async fn run(bench: &HttpBench) -> anyhow::Result<()> {
    let clients = bench.clients.max(1);
    let duration = Duration::from_secs_f64(bench.seconds.max(0.1));
    let http = Store::fresh(bench.postgres.as_deref(), "server", clients).await?;
    let store = http.store.clone();

    // One district ahead: its actors are the users the clients sign in as.
    let first = district(0, clients)?;
    let cast = actors(&first);
    let admin = jishi_ledger::Actor {
        id: "bench-admin".into(),
        name: "压测管理员".into(),
        role: "admin".into(),
        org: "天元区".into(),
    };
    let mut tokens: HashMap<String, String> = HashMap::new();
    for (id, (a, overrides)) in &cast {
        let role = if *overrides {
            AccessRole::Admin
        } else {
            AccessRole::Recorder
        };
        let (_, token) = users::add_user(
            store.as_ref(),
            &admin,
            NewUser {
                id: id.clone(),
                name: a.name.clone(),
                role,
                org: a.org.clone(),
                acts_as: Some(a.role.clone()),
            },
        )
        .await
        .with_context(|| format!("adding user {id}"))?;
        tokens.insert(id.clone(), token);
    }
    let source = Arc::new(Mutex::new(Source::new(first, clients)));
    let tokens = Arc::new(tokens);

    let state = Arc::new(AppState::new(store.clone(), None, "bench".into()));
    *state.users.write().await = users::load_users(state.events.as_ref()).await?;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .context("binding 127.0.0.1:0")?;
    let addr = listener.local_addr()?;
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(jishi_server::serve(
        listener,
        state,
        Limits::default(),
        async move {
            let _ = stopped.await;
        },
    ));

    println!(
        "HTTP recording: jishi serve in this process on http://{addr} ({}), {clients} clients \
         (one request in flight each) for {:.0} s, generated township elections, every command \
         through POST /api/record/{{kind}}",
        http.label,
        duration.as_secs_f64()
    );

    let started = Instant::now();
    let deadline = started + duration;
    let mut tasks = Vec::new();
    for _ in 0..clients {
        let (source, tokens) = (source.clone(), tokens.clone());
        let base = format!("http://{addr}/api/record");
        tasks.push(tokio::spawn(async move {
            http_client(&base, &source, &tokens, deadline).await
        }));
    }
    let mut runs = Vec::new();
    for t in tasks {
        runs.push(t.await.context("client task")??);
    }
    let elapsed = started.elapsed();
    let _ = stop.send(());
    server
        .await
        .context("server task")?
        .context("serving on loopback")?;
    let acknowledged: Vec<(u64, String)> = runs
        .iter()
        .flat_map(|r| r.acknowledged.iter().cloned())
        .collect();
    let served = Measured::of(&runs, acknowledged.len(), elapsed);

    // Not timed: the ledger verifies, and holds every acknowledged event.
    let report = jishi_ledger::verify_with_proofs(store.as_ref(), &Quiet).await?;
    anyhow::ensure!(
        report.is_ok(),
        "the server's ledger does not verify: {:?} {:?}",
        report.fault,
        report.tree
    );
    let checked = report.checked;
    let missing = missing(store.as_ref(), &acknowledged).await?;
    anyhow::ensure!(
        missing.is_empty(),
        "{} of {} acknowledged events are not in the ledger at their acknowledged positions \
         (first: {:?})",
        missing.len(),
        acknowledged.len(),
        missing.first()
    );
    drop(store);
    http.drop().await?;

    // The baseline: the same commands, directly, on a fresh store.
    let direct_store = Store::fresh(bench.postgres.as_deref(), "direct", clients).await?;
    let events: Arc<dyn EventStore> = direct_store.store.clone();
    let started = Instant::now();
    let mut tasks = Vec::new();
    for r in &runs {
        let (events, done) = (events.clone(), r.done.clone());
        tasks.push(tokio::spawn(async move { direct(&events, &done).await }));
    }
    let mut direct_runs = Vec::new();
    for t in tasks {
        direct_runs.push(t.await.context("direct task")?);
    }
    let elapsed = started.elapsed();
    let direct_events = direct_runs.iter().map(|r| r.acknowledged.len()).sum();
    let direct = Measured::of(&direct_runs, direct_events, elapsed);
    drop(events);
    direct_store.drop().await?;

    print_figures(&served, &direct);
    println!(
        "verify: ok, {checked} events checked (hash chain and Merkle tree), {} of them user \
         events",
        cast.len()
    );
    println!(
        "acknowledged: all {} acknowledged events present at their acknowledged positions",
        acknowledged.len()
    );
    println!(
        "errors {} (server), {} (direct)",
        served.errors, direct.errors
    );
    if let Some(e) = served.first_error.as_ref().or(direct.first_error.as_ref()) {
        println!("first error: {e}");
    }
    anyhow::ensure!(
        served.errors == 0 && direct.errors == 0,
        "{} requests to the server and {} direct recordings failed",
        served.errors,
        direct.errors
    );
    Ok(())
}

/// One client: its own HTTP connection, its own elections, one request at a
/// time, until the deadline.
async fn http_client(
    base: &str,
    source: &Mutex<Source>,
    tokens: &HashMap<String, String>,
    deadline: Instant,
) -> anyhow::Result<ClientRun> {
    let client = reqwest::Client::builder()
        .no_proxy()
        .build()
        .context("building the HTTP client")?;
    let mut run = ClientRun::default();
    'elections: while Instant::now() < deadline {
        let election = source
            .lock()
            .map_err(|_| anyhow::anyhow!("election source poisoned"))?
            .next()?;
        let mut done = 0;
        for p in &election.commands {
            if Instant::now() >= deadline {
                run.done.push(Done {
                    election: election.clone(),
                    commands: done,
                });
                break 'elections;
            }
            let Some(token) = tokens.get(&p.actor.id) else {
                anyhow::bail!("no user for actor {} (a new demo actor?)", p.actor.id);
            };
            let kind = p.command.kind();
            let t0 = Instant::now();
            let answer = client
                .post(format!("{base}/{kind}"))
                .bearer_auth(token)
                .json(&p.command.to_json())
                .send()
                .await;
            let outcome = match answer {
                Ok(resp) if resp.status() == reqwest::StatusCode::CREATED => {
                    match resp.json::<serde_json::Value>().await {
                        Ok(body) => Ok(body),
                        Err(e) => Err(format!("{kind}: unreadable answer: {e}")),
                    }
                }
                Ok(resp) => {
                    let status = resp.status();
                    let text = resp.text().await.unwrap_or_default();
                    Err(format!(
                        "{kind} in {}: {status}: {text}",
                        p.command.election_id
                    ))
                }
                Err(e) => Err(format!("{kind}: {e}")),
            };
            run.latencies.push(t0.elapsed());
            match outcome.and_then(|body| acknowledged(&body)) {
                Ok(events) => {
                    run.acknowledged.extend(events);
                    done += 1;
                }
                Err(e) => {
                    // Later steps of this election depend on this one:
                    // move on to another election.
                    run.error(e);
                    break;
                }
            }
        }
        run.done.push(Done {
            election: election.clone(),
            commands: done,
        });
    }
    Ok(run)
}

/// The (position, event_id) pairs of a 201 answer.
fn acknowledged(body: &serde_json::Value) -> Result<Vec<(u64, String)>, String> {
    let events = body["events"]
        .as_array()
        .ok_or_else(|| format!("answer without events: {body}"))?;
    events
        .iter()
        .map(|e| match (e["position"].as_u64(), e["event_id"].as_str()) {
            (Some(p), Some(id)) => Ok((p, id.to_string())),
            _ => Err(format!("event without position or event_id: {e}")),
        })
        .collect()
}

/// The baseline task: what one client recorded, through `jishi_app::record`.
async fn direct(store: &Arc<dyn EventStore>, done: &[Done]) -> ClientRun {
    let mut run = ClientRun::default();
    for d in done {
        for p in &d.election.commands[..d.commands] {
            let t0 = Instant::now();
            let recorded =
                jishi_app::record(store, None, &jishi_app::ledger_actor(&p.actor), &p.command)
                    .await;
            run.latencies.push(t0.elapsed());
            match recorded {
                Ok(r) => run.acknowledged.extend(
                    r.events
                        .iter()
                        .map(|(_, at)| (at.position, at.event_id.to_string())),
                ),
                Err(e) => {
                    run.error(format!(
                        "{} in {}: {e}",
                        p.command.kind(),
                        p.command.election_id
                    ));
                    break;
                }
            }
        }
    }
    run
}

/// The acknowledged events that are not in the ledger at their position.
async fn missing(
    store: &dyn ProofStore,
    acknowledged: &[(u64, String)],
) -> anyhow::Result<Vec<(u64, String)>> {
    let mut at: HashMap<u64, String> = HashMap::new();
    let mut from = 1;
    loop {
        let page = store.read_all(from, 10_000).await?;
        let Some(last) = page.last() else { break };
        from = last.position + 1;
        for e in &page {
            at.insert(e.position, e.event_id.hyphenated().to_string());
        }
    }
    let mut seen = std::collections::HashSet::new();
    Ok(acknowledged
        .iter()
        .filter(|(p, id)| at.get(p) != Some(id) || !seen.insert(*p))
        .cloned()
        .collect())
}

fn print_figures(served: &Measured, direct: &Measured) {
    println!(
        "{:<34} {:>8} {:>8} {:>7} {:>9} {:>9} {:>7} {:>7} {:>7} {:>6}",
        "path",
        "requests",
        "events",
        "s",
        "req/s",
        "events/s",
        "p50 ms",
        "p99 ms",
        "max ms",
        "errors"
    );
    for (name, p) in [
        ("HTTP: POST /api/record (server)", served),
        ("direct: jishi_app::record (base)", direct),
    ] {
        println!(
            "{:<34} {:>8} {:>8} {:>7.1} {:>9.0} {:>9.0} {:>7.2} {:>7.2} {:>7.2} {:>6}",
            name,
            p.requests,
            p.events,
            p.elapsed.as_secs_f64(),
            p.per_s(p.requests),
            p.per_s(p.events),
            p.ms(0.50),
            p.ms(0.99),
            p.ms(1.0),
            p.errors
        );
    }
    println!(
        "HTTP ÷ direct: {:.2} (requests/s); base: the commands the server acknowledged, recorded \
         again through jishi_app::record by as many tasks on a fresh store, each replaying its \
         client's commands in order",
        served.per_s(served.requests) / direct.per_s(direct.requests).max(1e-9)
    );
}
