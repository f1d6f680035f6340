//! A PostgreSQL cluster of a test's own: `initdb` in a temporary directory,
//! its own port on loopback, stopped when dropped; or a hot standby of one,
//! made with `pg_basebackup -R`. The crash test (tests/postgres_crash_cluster.rs)
//! kills one; the standby test (tests/postgres_standby.rs) runs a pair. The
//! shared server at 127.0.0.1:5432 is never touched.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The directory holding `initdb` and `pg_ctl`: the newest under
/// `/usr/lib/postgresql`, else `pg_config --bindir`.
pub fn server_binaries() -> Option<PathBuf> {
    let mut found: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let version = e.file_name().to_str()?.parse::<u32>().ok()?;
            let bin = e.path().join("bin");
            bin.join("initdb").exists().then_some((version, bin))
        })
        .collect();
    found.sort();
    if let Some((_, bin)) = found.pop() {
        return Some(bin);
    }
    let out = Command::new("pg_config").arg("--bindir").output().ok()?;
    let bin = PathBuf::from(String::from_utf8_lossy(&out.stdout).trim());
    bin.join("initdb").exists().then_some(bin)
}

/// The server binaries, or `None` after printing why the test is skipped
/// (under CI, where they are installed, their absence fails the test).
pub fn binaries_or_skip(needed: &[&str]) -> Option<PathBuf> {
    let found = server_binaries().filter(|bin| needed.iter().all(|n| bin.join(n).exists()));
    if found.is_none() {
        let why = format!(
            "skipped: PostgreSQL's server binaries ({}) not found under \
             /usr/lib/postgresql/*/bin or pg_config --bindir; install postgresql",
            needed.join(", ")
        );
        assert!(std::env::var_os("CI").is_none(), "{why} (CI is set)");
        eprintln!("{why}");
    }
    found
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
        .unwrap_or(false)
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

pub fn path(p: &Path) -> &str {
    p.to_str().expect("a UTF-8 temp path")
}

/// A cluster of the test's own, stopped (immediately) when dropped.
pub struct Cluster {
    pub dir: tempfile::TempDir,
    pub bin: PathBuf,
    pub port: u16,
    /// initdb refuses to run as root: then every server command runs as
    /// the `postgres` user, who owns the directory.
    as_postgres: bool,
    /// Server settings (`-c name=value …`) beyond the port and sockets.
    settings: String,
}

/// The settings every cluster starts with.
const SETTINGS: &str = "-c max_connections=60 -c fsync=on -c synchronous_commit=on";

impl Cluster {
    pub fn data(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    pub fn run(&self, program: &str, args: &[&str]) -> Output {
        let exe = self.bin.join(program);
        let mut cmd = if self.as_postgres {
            let mut c = Command::new("runuser");
            c.args(["-u", "postgres", "--"]).arg(&exe);
            c
        } else {
            Command::new(&exe)
        };
        let out = cmd.args(args).output().expect("run a server command");
        assert!(
            out.status.success() || program == "pg_ctl" && args.contains(&"stop"),
            "{program} {args:?}: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        out
    }

    /// An empty directory for a cluster, owned by whoever runs the server.
    fn empty(bin: PathBuf, prefix: &str) -> Cluster {
        let dir = tempfile::Builder::new()
            .prefix(prefix)
            .tempdir()
            .expect("temp dir");
        let as_postgres = is_root();
        if as_postgres {
            let ok = Command::new("chown")
                .args(["-R", "postgres:postgres"])
                .arg(dir.path())
                .status()
                .expect("chown");
            assert!(ok.success(), "chown the cluster directory to postgres");
        }
        Cluster {
            dir,
            bin,
            port: free_port(),
            as_postgres,
            settings: SETTINGS.into(),
        }
    }

    /// A new cluster (not started), trusting every local connection.
    pub fn init(bin: PathBuf) -> Cluster {
        Cluster::init_named(bin, "jishi-pg-crash-")
    }

    pub fn init_named(bin: PathBuf, prefix: &str) -> Cluster {
        let cluster = Cluster::empty(bin, prefix);
        let data = cluster.data();
        cluster.run(
            "initdb",
            &[
                "-D",
                path(&data),
                "-A",
                "trust",
                "-U",
                "postgres",
                "--no-sync",
            ],
        );
        cluster
    }

    /// The same cluster, started with `settings` added to the defaults.
    pub fn with_settings(mut self, settings: &str) -> Cluster {
        self.settings = format!("{SETTINGS} {settings}");
        self
    }

    /// A primary that a standby can stream from: WAL for replicas, senders,
    /// and replication connections from loopback trusted (initdb's file has
    /// such a line already; it is added again so the test does not depend
    /// on that default).
    pub fn init_primary(bin: PathBuf) -> Cluster {
        let cluster = Cluster::init_named(bin, "jishi-pg-primary-")
            .with_settings("-c wal_level=replica -c max_wal_senders=4 -c hot_standby=on");
        let hba = cluster.data().join("pg_hba.conf");
        let mut text = std::fs::read_to_string(&hba).expect("read pg_hba.conf");
        text.push_str("\nhost replication all 127.0.0.1/32 trust\n");
        std::fs::write(&hba, text).expect("write pg_hba.conf");
        cluster
    }

    /// A hot standby of the running `primary`: `pg_basebackup -R` (which
    /// writes `standby.signal` and the primary's connection string) into a
    /// directory of its own, with its own port. Not started.
    pub fn base_backup(primary: &Cluster) -> Cluster {
        let mut standby = Cluster::empty(primary.bin.clone(), "jishi-pg-standby-");
        standby.settings = format!("{} -c hot_standby=on", primary.settings);
        let data = standby.data();
        let port = primary.port.to_string();
        standby.run(
            "pg_basebackup",
            &[
                "-D",
                path(&data),
                "-h",
                "127.0.0.1",
                "-p",
                &port,
                "-U",
                "postgres",
                "-R",
                "-X",
                "stream",
                "--no-sync",
            ],
        );
        standby
    }

    pub fn start(&self) {
        let data = self.data();
        let log = self.dir.path().join("server.log");
        let options = format!(
            "-p {} -c listen_addresses=127.0.0.1 -c unix_socket_directories={} {}",
            self.port,
            path(self.dir.path()),
            self.settings
        );
        self.run(
            "pg_ctl",
            &[
                "-D",
                path(&data),
                "-l",
                path(&log),
                "-w",
                "-t",
                "60",
                "-o",
                &options,
                "start",
            ],
        );
    }

    /// Every server process quits at once: no checkpoint, and WAL still in
    /// the server's buffers is lost.
    pub fn kill(&self) {
        let data = self.data();
        self.run(
            "pg_ctl",
            &["-D", path(&data), "-m", "immediate", "-w", "stop"],
        );
    }

    pub fn url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/postgres", self.port)
    }

    pub fn config(&self) -> super::tokio_postgres::Config {
        self.url().parse().expect("cluster URL")
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        let data = self.data();
        let _ = self.run("pg_ctl", &["-D", path(&data), "-m", "immediate", "stop"]);
    }
}
