//! `jishi`: the command line. It parses arguments, calls the library crates and
//! prints; anything a server would need again lives in `ledger` or `projections`.

mod bench;
mod demo_cmd;
mod domain_cmds;
mod domain_verify;
mod export_cmds;
mod import_cmd;
mod ledger_cmds;
mod mirror_cmds;
mod output;
mod person_cmds;
mod proof_cmds;
mod query_cmds;
mod recording;
mod serve_ledgers;
mod server_cmds;
mod view_cmds;
mod witness_cmds;

use std::process::ExitCode;

/// mimalloc rather than the system allocator: recording allocates many small
/// strings per event (canonical JSON, the envelope, the row's columns), and
/// with glibc's allocator malloc and free took about a third of the client's
/// CPU under `jishi bench --postgres` (perf, 2026-11-28; D39).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use clap::{Parser, Subcommand};

/// 纪实 jishi — a tamper-evident ledger of every step of candidate selection
/// (全程纪实), so that each selection is traceable and checkable backwards.
#[derive(Debug, Parser)]
#[command(name = "jishi", version, about, long_about = None)]
pub struct Cli {
    /// The ledger: a SQLite file path (the embedded default) or a postgres:// URL.
    #[arg(long, global = true, env = "JISHI_DB", default_value = "jishi.db")]
    db: String,

    /// The recording key that attests every write (a private key file, kept
    /// outside the database). Default beside a SQLite ledger X:
    /// X.recording-key; a PostgreSQL ledger has none.
    #[arg(long, global = true, env = "JISHI_RECORDING_KEY")]
    recording_key: Option<std::path::PathBuf>,

    /// More log output on stderr (-v info, -vv debug, -vvv trace).
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    verbose: u8,

    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Create the ledger (or bring its schema up to date), with its recording key. Safe to run twice.
    Init {
        /// The recording key's suite when one is created: ed25519 (default) or sm2-sm3.
        #[arg(long, default_value = "ed25519", value_parser = recording::parse_suite)]
        suite: jishi_ledger::Suite,
    },
    /// Append one event, from flags or from a JSON object on stdin.
    Append(ledger_cmds::AppendArgs),
    /// Append many events from a JSON Lines file (one event a line).
    Import(import_cmd::ImportArgs),
    /// List events in ledger order.
    Log(ledger_cmds::LogArgs),
    /// List the events of one stream.
    Stream(ledger_cmds::StreamArgs),
    /// Print the last event's position and hash.
    Head {
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Recompute every digest and hash; name the first bad position if any.
    Verify {
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
        /// Also replay every election through the procedure's gates, under the
        /// procedure recorded for it, and report what they would have refused
        /// or what was recorded outside them (exit 5 on any finding).
        #[arg(long)]
        domain: bool,
        /// The recording key this ledger's attestations must start from (a
        /// vkey or a `.pub` file; repeatable): a history rewritten under
        /// another key is then a fault, not a valid ledger (D69).
        #[arg(long = "expect-key", value_name = "VKEY")]
        expect_keys: Vec<String>,
        /// Check only what was appended since the newest stored checkpoint
        /// signed by a registered checkpoint key: the rows after it, chained
        /// from its last event, and the stored tree's consistency with it.
        /// The rows before it are not checked again (the report says so).
        #[arg(long, conflicts_with_all = ["domain", "expect_keys"])]
        since_checkpoint: bool,
    },
    /// Record a step of a selection; refused (nothing written) when it breaks the procedure.
    Record(domain_cmds::RecordArgs),
    /// The selection procedures (stages, steps, roles, periods).
    #[command(subcommand)]
    Procedure(domain_cmds::ProcedureCmd),
    /// Measure append and verify against baselines in the same run.
    Bench(bench::BenchArgs),
    /// Create a signing key (private file 0600, public `.pub`): ed25519,
    /// sm2-sm3, or a witness's cosignature-v1.
    Keygen(proof_cmds::KeygenArgs),
    /// Verify the ledger, then sign and store its tree head as a checkpoint.
    Checkpoint(proof_cmds::CheckpointArgs),
    /// As a witness: cosign a checkpoint if it extends the last one cosigned.
    Cosign(proof_cmds::CosignArgs),
    /// Run a C2SP tlog-witness: cosign (cosignature/v1) checkpoints of the
    /// logs it follows that extend what it cosigned; refuse and keep forks.
    Witness(witness_cmds::WitnessArgs),
    /// Run a C2SP tlog-mirror: keep a verified replica of each log it
    /// follows, serve it as tiles, cosign what it has durably stored.
    Mirror(mirror_cmds::MirrorArgs),
    /// Push this ledger, up to its latest checkpoint, to a mirror (resumes
    /// from what the mirror holds) and print the mirror's cosignature.
    MirrorPush(mirror_cmds::MirrorPushArgs),
    /// Pull mode: fetch a county's log from its tiles (`jishi serve`),
    /// check it, and feed it to a mirror.
    MirrorPull(mirror_cmds::MirrorPullArgs),
    /// Turn two inconsistent signed checkpoints of one log into evidence.
    SplitView(witness_cmds::SplitViewArgs),
    /// Check split-view evidence offline with the log's public key.
    VerifyEvidence(witness_cmds::VerifyEvidenceArgs),
    /// Print the inclusion proof of one event (JSON).
    Prove(proof_cmds::ProveArgs),
    /// Print the consistency proof between two tree sizes (JSON).
    ProveConsistency(proof_cmds::ProveConsistencyArgs),
    /// Check a proof against a signed checkpoint or given roots, offline.
    VerifyProof(proof_cmds::VerifyProofArgs),
    /// Write a self-contained case file: events, inclusion proofs, checkpoint.
    Export(export_cmds::ExportArgs),
    /// Check a case file offline with the public key(s) only.
    VerifyExport(export_cmds::VerifyExportArgs),
    /// A candidate's full trail (全程纪实), optionally as of a position or time.
    Trail(view_cmds::CandidateArgs),
    /// Who nominated, inspected, checked, decided and approved a candidate.
    Accountability(view_cmds::CandidateArgs),
    /// 上查一级: a candidate's serious breaches, the direct chain, and those
    /// one level up (the deciding meeting, the approving body, the
    /// organisation department's staff, the supervision group).
    UpOneLevel(view_cmds::CandidateArgs),
    /// Compliance findings for an election, with evidence positions.
    Check(view_cmds::ElectionArgs),
    /// Team statistics for one or more elections.
    Stats(view_cmds::StatsArgs),
    /// The candidates of an election and where each stands.
    Candidates(view_cmds::ElectionArgs),
    /// The joint review (联审) of an election: candidates by department, the
    /// departments that gave no verdict, and who flagged whom.
    JointReview(view_cmds::ElectionArgs),
    /// Every deferral (暂缓提名) of an election and how it ended.
    Deferrals(view_cmds::ElectionArgs),
    /// One election unit across its elections, term by term.
    Unit(query_cmds::UnitArgs),
    /// The composition of the elected representatives of several elections
    /// (a congress): front-line, professionals, migrant workers, women,
    /// minorities.
    Composition(query_cmds::CompositionArgs),
    /// Every selection one person went through, across elections, found by
    /// the keyed hash of their id number (never the number itself).
    Person(person_cmds::PersonArgs),
    /// The person key that turns id numbers into person references.
    #[command(subcommand)]
    PersonKey(person_cmds::PersonKeyCmd),
    /// Record a realistic district transition on a fresh ledger (a SQLite file, or an empty PostgreSQL schema) and show its views.
    Demo(demo_cmd::DemoArgs),
    /// Serve the JSON API and the pages (http://127.0.0.1:8080 by default).
    Serve(server_cmds::ServeArgs),
    /// Users of the server: add (prints a token), list, revoke.
    #[command(subcommand)]
    User(server_cmds::UserCmd),
    /// The ledger's recording keys: show, register, rotate, declare compromised.
    #[command(subcommand)]
    RecordingKey(recording::RecordingKeyCmd),
    /// The keys whose signatures on stored checkpoints verify counts: add, list.
    #[command(subcommand)]
    CheckpointKey(recording::CheckpointKeyCmd),
    /// The keys that seal petitioners' identities: shred one at the end of retention.
    #[command(subcommand)]
    SealingKey(server_cmds::SealingKeyCmd),
}

/// A failure that has its own exit code: 3 when verification found a fault.
#[derive(Debug)]
pub struct VerifyFailed;

impl std::fmt::Display for VerifyFailed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ledger verification failed")
    }
}
impl std::error::Error for VerifyFailed {}

fn init_tracing(verbose: u8) {
    let level = match verbose {
        0 => "warn",
        1 => "info",
        2 => "debug",
        _ => "trace",
    };
    let filter = tracing_subscriber::EnvFilter::try_from_env("JISHI_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(level));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .init();
}

/// Whether a panic is the standard library's `println!` failing because
/// the reader of stdout (or stderr) has gone, as with `jishi log | head -1`.
fn is_closed_pipe_panic(info: &std::panic::PanicHookInfo<'_>) -> bool {
    let payload = info.payload();
    let message = payload
        .downcast_ref::<String>()
        .map(String::as_str)
        .or_else(|| payload.downcast_ref::<&str>().copied())
        .unwrap_or("");
    message.starts_with("failed printing to std") && message.contains("Broken pipe")
}

/// Whether an error is a write to a closed pipe (`writeln!` with `?`).
fn is_closed_pipe_error(e: &anyhow::Error) -> bool {
    use std::io::ErrorKind::BrokenPipe;
    e.chain().any(|c| {
        c.downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == BrokenPipe)
            || c.downcast_ref::<serde_json::Error>()
                .is_some_and(|j| j.io_error_kind() == Some(BrokenPipe))
    })
}

fn main() -> ExitCode {
    // A reader that stops reading (`| head -1`) ends the command quietly,
    // with exit 0, once for every command (D45). Rust ignores SIGPIPE, so a
    // write to the closed pipe fails, and `println!` panics on that; the
    // default SIGPIPE action instead would also kill `jishi serve` when a
    // client disconnects mid-response (a socket written with `writev`).
    let default_hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        if is_closed_pipe_panic(info) {
            std::process::exit(0);
        }
        default_hook(info);
    }));
    let cli = Cli::parse();
    init_tracing(cli.verbose);
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) if e.is::<VerifyFailed>() => ExitCode::from(3),
        Err(e) if e.is::<domain_verify::DomainFindings>() => {
            eprintln!("error: {e}");
            ExitCode::from(5)
        }
        Err(e) if is_closed_pipe_error(&e) => ExitCode::SUCCESS,
        Err(e) if e.is::<import_cmd::PartlyWritten>() => {
            eprintln!("error: {e:#}");
            ExitCode::from(4)
        }
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

async fn run(cli: Cli) -> anyhow::Result<()> {
    let spec = jishi_ledger::StoreSpec::parse(&cli.db);
    recording::set_given(cli.recording_key.clone());
    tracing::info!(db = %spec, "opening ledger");
    match cli.command {
        Command::Init { suite } => ledger_cmds::init(&spec, suite).await,
        Command::Append(args) => ledger_cmds::append(&spec, args).await,
        Command::Import(args) => import_cmd::import(&spec, args).await,
        Command::Log(args) => ledger_cmds::log(&spec, args).await,
        Command::Stream(args) => ledger_cmds::stream(&spec, args).await,
        Command::Head { json } => ledger_cmds::head(&spec, json).await,
        Command::Verify {
            json,
            since_checkpoint: true,
            ..
        } => ledger_cmds::verify_since_checkpoint(&spec, json).await,
        Command::Verify {
            json,
            domain,
            expect_keys,
            since_checkpoint: false,
        } => ledger_cmds::verify(&spec, json, domain, &expect_keys).await,
        Command::Record(args) => domain_cmds::record(&spec, args).await,
        Command::Procedure(cmd) => domain_cmds::procedure(cmd),
        Command::Bench(args) => bench::run(args).await,
        Command::Keygen(args) => proof_cmds::keygen(args),
        Command::Checkpoint(args) => proof_cmds::checkpoint(&spec, args).await,
        Command::Cosign(args) => proof_cmds::cosign(&spec, args).await,
        Command::Witness(args) => witness_cmds::witness(args).await,
        Command::Mirror(args) => mirror_cmds::mirror(args).await,
        Command::MirrorPush(args) => mirror_cmds::mirror_push(&spec, args).await,
        Command::MirrorPull(args) => mirror_cmds::mirror_pull(args).await,
        Command::SplitView(args) => witness_cmds::split_view(&spec, args).await,
        Command::VerifyEvidence(args) => witness_cmds::verify_evidence(args),
        Command::Prove(args) => proof_cmds::prove(&spec, args).await,
        Command::ProveConsistency(args) => proof_cmds::prove_consistency(&spec, args).await,
        Command::VerifyProof(args) => proof_cmds::verify_proof(args),
        Command::Export(args) => export_cmds::export_case(&spec, args).await,
        Command::VerifyExport(args) => export_cmds::verify_export(args),
        Command::Trail(args) => view_cmds::trail(&spec, args).await,
        Command::Accountability(args) => view_cmds::accountability(&spec, args).await,
        Command::UpOneLevel(args) => query_cmds::up_one_level(&spec, args).await,
        Command::Check(args) => view_cmds::check(&spec, args).await,
        Command::Stats(args) => view_cmds::stats(&spec, args).await,
        Command::Candidates(args) => view_cmds::candidates(&spec, args).await,
        Command::Person(args) => person_cmds::person(&spec, args).await,
        Command::JointReview(args) => query_cmds::joint_review(&spec, args).await,
        Command::Deferrals(args) => query_cmds::deferrals(&spec, args).await,
        Command::Unit(args) => query_cmds::unit(&spec, args).await,
        Command::Composition(args) => query_cmds::composition(&spec, args).await,
        Command::PersonKey(cmd) => person_cmds::person_key(cmd),
        Command::Demo(args) => demo_cmd::run(&cli.db, args).await,
        Command::Serve(args) => server_cmds::serve(&spec, args).await,
        Command::User(cmd) => server_cmds::user(&spec, cmd).await,
        Command::SealingKey(cmd) => server_cmds::sealing_key(cmd),
        Command::RecordingKey(cmd) => recording::recording_key(&spec, cmd).await,
        Command::CheckpointKey(cmd) => recording::checkpoint_key(&spec, cmd).await,
    }
}
