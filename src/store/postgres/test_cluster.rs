//! A throwaway PostgreSQL cluster for tests, from the machine's PostgreSQL binaries (Debian's
//! `postgresql` package): `initdb` into a temporary directory, `pg_ctl` starts it on a Unix
//! socket only, and each test gets a database of its own. One cluster per test process, stopped
//! when the process exits.
//!
//! `initdb` refuses to run as root, and CI runs as root: then the cluster runs as the
//! `postgres` system user (`runuser`), its directory owned by that user.
//!
//! Without PostgreSQL the tests that need it say plainly that they were skipped, and how to run
//! them; with `POSTGRES_TESTS=require` (CI) they fail instead.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::OnceLock;

/// The running cluster: where its sockets are and how to reach its binaries.
pub struct Cluster {
    root: PathBuf,
    bin: PathBuf,
    run_as: Option<String>,
}

const PORT: u16 = 5432;

static CLUSTER: OnceLock<Result<Cluster, String>> = OnceLock::new();

/// A cluster a test owns: it may stop and start it; dropped, it is stopped and removed.
pub struct OwnCluster(Cluster);

impl OwnCluster {
    /// The URL of a new, empty database on it.
    pub fn database(&self) -> String {
        self.0.create_database()
    }

    /// Stops the server (`pg_ctl stop -m fast`): every connection breaks.
    pub fn stop(&self) {
        if let Err(e) = self.0.stop() {
            panic!("stopping the test cluster: {e}");
        }
    }

    /// Starts it again after [`Self::stop`].
    pub fn start(&self) {
        if let Err(e) = self.0.resume() {
            panic!("starting the test cluster again: {e}");
        }
    }
}

impl Drop for OwnCluster {
    fn drop(&mut self) {
        if let Ok(data) = path(&self.0.data()) {
            let _ = self
                .0
                .run("pg_ctl", &["-D", data, "-m", "immediate", "-w", "stop"]);
        }
        let _ = std::fs::remove_dir_all(&self.0.root);
    }
}
static DATABASES: AtomicUsize = AtomicUsize::new(0);

/// The URL of a new, empty database on the process's cluster (started on first use), or `None`
/// when PostgreSQL is not installed and not required (a loud note says the test was skipped).
pub fn database(test: &str) -> Option<String> {
    let shared = CLUSTER.get_or_init(|| {
        let started = Cluster::start();
        if started.is_ok() {
            // SAFETY: `stop_at_exit` only reads the initialised static and runs commands.
            unsafe { libc::atexit(stop_at_exit) };
        }
        started
    });
    match shared {
        Ok(cluster) => Some(cluster.create_database()),
        Err(why) => {
            if std::env::var("POSTGRES_TESTS").as_deref() == Ok("require") {
                panic!("POSTGRES_TESTS=require, but no PostgreSQL cluster: {why}");
            }
            eprintln!(
                "SKIPPED {test} on PostgreSQL: {why}. Install Debian's `postgresql` package \
                 (apt-get install postgresql) to run it; POSTGRES_TESTS=require makes this a \
                 failure."
            );
            None
        }
    }
}

/// The process's cluster's server processes, the postmaster first (empty before it started):
/// for measuring the database's CPU.
pub fn server_pids() -> Vec<u32> {
    let Some(Ok(cluster)) = CLUSTER.get() else {
        return Vec::new();
    };
    let Some(postmaster) = std::fs::read_to_string(cluster.data().join("postmaster.pid"))
        .ok()
        .and_then(|text| text.lines().next()?.trim().parse::<u32>().ok())
    else {
        return Vec::new();
    };
    let children = std::fs::read_dir("/proc")
        .into_iter()
        .flatten()
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| {
            std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|stat| {
                // The parent is the second field after the command name, which may hold spaces.
                stat.rsplit_once(')')
                    .and_then(|(_, rest)| rest.split_whitespace().nth(1)?.parse::<u32>().ok())
                    == Some(postmaster)
            })
        });
    std::iter::once(postmaster).chain(children).collect()
}

/// The cluster's binaries: `PG_BIN`, else the newest `/usr/lib/postgresql/*/bin`.
fn find_bin() -> Result<PathBuf, String> {
    if let Ok(dir) = std::env::var("PG_BIN") {
        return Ok(PathBuf::from(dir));
    }
    let mut found: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .map_err(|_| "no /usr/lib/postgresql".to_string())?
        .filter_map(|e| e.ok())
        .filter_map(|e| {
            let version = e.file_name().to_str()?.parse().ok()?;
            let bin = e.path().join("bin");
            bin.join("initdb").exists().then_some((version, bin))
        })
        .collect();
    found.sort();
    found
        .pop()
        .map(|(_, bin)| bin)
        .ok_or_else(|| "no initdb under /usr/lib/postgresql/*/bin".into())
}

fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions and cannot fail.
    unsafe { libc::geteuid() == 0 }
}

impl Cluster {
    fn start() -> Result<Self, String> {
        let bin = find_bin()?;
        let run_as = is_root().then(|| "postgres".to_string());
        let root = std::env::temp_dir().join(format!(
            "impulses-gcal-pg-{}-{}",
            std::process::id(),
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.subsec_nanos())
        ));
        std::fs::create_dir_all(&root).map_err(|e| format!("{}: {e}", root.display()))?;
        if let Some(user) = &run_as {
            let status = Command::new("chown")
                .arg(format!("{user}:"))
                .arg(&root)
                .status()
                .map_err(|e| format!("chown: {e}"))?;
            if !status.success() {
                return Err(format!("cannot give {} to the {user} user", root.display()));
            }
        }
        let cluster = Self { root, bin, run_as };
        let data = cluster.data();
        cluster.run(
            "initdb",
            &[
                "-D",
                path(&data)?,
                "-U",
                "postgres",
                "-A",
                "trust",
                "-E",
                "UTF8",
                "--no-sync",
            ],
        )?;
        cluster.resume()?;
        Ok(cluster)
    }

    /// A cluster of the caller's own (not the process's shared one), for a test that stops and
    /// starts its database; stopped and removed when dropped. `None` as [`database`] says.
    pub fn own(test: &str) -> Option<OwnCluster> {
        match Self::start() {
            Ok(cluster) => Some(OwnCluster(cluster)),
            Err(why) => {
                if std::env::var("POSTGRES_TESTS").as_deref() == Ok("require") {
                    panic!("POSTGRES_TESTS=require, but no PostgreSQL cluster: {why}");
                }
                eprintln!("SKIPPED {test}: {why}");
                None
            }
        }
    }

    fn stop(&self) -> Result<(), String> {
        self.run(
            "pg_ctl",
            &["-D", path(&self.data())?, "-m", "fast", "-w", "stop"],
        )
    }

    /// Starts the server: on a Unix socket in its directory only, without the durability a
    /// test does not need (`TEST_CLUSTER_DURABLE=1` keeps it, for measurements).
    fn resume(&self) -> Result<(), String> {
        let log = self.root.join("log");
        let fast = match std::env::var("TEST_CLUSTER_DURABLE").as_deref() {
            Ok("1") => "",
            _ => "-c fsync=off -c synchronous_commit=off -c full_page_writes=off",
        };
        let options = format!(
            "-k {} -p {PORT} -c listen_addresses='' {fast} -c max_connections=300",
            path(&self.root)?
        );
        self.run(
            "pg_ctl",
            &[
                "-D",
                path(&self.data())?,
                "-l",
                path(&log)?,
                "-o",
                &options,
                "-w",
                "start",
            ],
        )
    }

    fn data(&self) -> PathBuf {
        self.root.join("data")
    }

    /// Runs one of the cluster's binaries, as the cluster's user.
    fn run(&self, program: &str, args: &[&str]) -> Result<(), String> {
        let exe = self.bin.join(program);
        let mut cmd = match &self.run_as {
            Some(user) => {
                let mut c = Command::new("runuser");
                c.args(["-u", user, "--"]).arg(&exe);
                c
            }
            None => Command::new(&exe),
        };
        let out = cmd
            .args(args)
            .current_dir(&self.root)
            .stdin(Stdio::null())
            .output()
            .map_err(|e| format!("{program}: {e}"))?;
        if out.status.success() {
            Ok(())
        } else {
            Err(format!(
                "{program} failed: {}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            ))
        }
    }

    fn create_database(&self) -> String {
        let name = format!("t{}", DATABASES.fetch_add(1, Ordering::Relaxed));
        let host = self.root.display().to_string();
        let port = PORT.to_string();
        let sql = format!("CREATE DATABASE {name}");
        let result = self.run(
            "psql",
            &[
                "-h", &host, "-p", &port, "-U", "postgres", "-d", "postgres", "-q", "-c", &sql,
            ],
        );
        if let Err(e) = result {
            panic!("creating a test database: {e}");
        }
        format!(
            "postgresql://postgres@{}:{PORT}/{name}",
            url::form_urlencoded::byte_serialize(host.as_bytes()).collect::<String>()
        )
    }
}

fn path(p: &Path) -> Result<&str, String> {
    p.to_str()
        .ok_or_else(|| format!("{} is not UTF-8", p.display()))
}

extern "C" fn stop_at_exit() {
    if let Some(Ok(cluster)) = CLUSTER.get() {
        if let Ok(data) = path(&cluster.data()) {
            let _ = cluster.run("pg_ctl", &["-D", data, "-m", "immediate", "-w", "stop"]);
        }
        let _ = std::fs::remove_dir_all(&cluster.root);
    }
}
