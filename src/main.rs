//! The `impulses-gcal` binary: a thin shell that reads settings, opens the store, starts the
//! system and the HTTP server, handles signals, and maps failures to exit codes (2: bad
//! setting or command line, 1: runtime). `impulses-gcal sandbox` does the same next to a sandbox
//! Google; `impulses-gcal migrate-store` copies a sled store into PostgreSQL.

use std::net::TcpListener;
use std::process::ExitCode;

use actix_web::rt::signal::unix::{signal, SignalKind};
use futures_util::future::{select, Either};
use impulses_gcal::demo::{self, DemoError, SandboxMode};
use impulses_gcal::server::http_server;
use impulses_gcal::settings::{Settings, SettingsError};
use impulses_gcal::store::postgres::Database;
use impulses_gcal::store::{Store, StoreError};
use impulses_gcal::system::SyncSystem;

/// mimalloc instead of the system allocator: sled and the sync path allocate many small,
/// short-lived buffers, and glibc's allocator spent a quarter of a big sync commit consolidating
/// its free lists (`benches/targets`: store upserts 134,000 → 217,000 points/s, incremental
/// syncs about 4x faster). Built with `no_thp`: on a kernel with transparent huge pages in
/// `madvise` mode mimalloc would ask for huge pages and commit its arenas eagerly, which made an
/// idle 1,000-token server 81 MiB resident instead of 37 MiB.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Turns people's Google Calendars into time-series metrics. Settings come from environment
/// variables (see config/default.toml).
#[derive(clap::Parser)]
#[command(name = "impulses-gcal", version)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(clap::Subcommand)]
enum Command {
    /// Run the server (the default); settings come from environment variables, see
    /// config/default.toml.
    Serve,
    /// Run the server next to a built-in sandbox Google with a demo calendar, connected and
    /// synced; needs no Google account.
    Sandbox,
    /// Copy a sled store into an empty PostgreSQL database, verified by counts and checksums;
    /// needs CREDENTIALS_KEY (the key the database's secrets will be sealed under). Stop the
    /// server on DATA_DIR first.
    MigrateStore {
        /// The sled store's directory (the server's DATA_DIR).
        #[arg(long, value_name = "DATA_DIR")]
        from: std::path::PathBuf,
        /// The PostgreSQL database (a DATABASE_URL); default: the DATABASE_URL variable.
        #[arg(
            long,
            value_name = "DATABASE_URL",
            env = "DATABASE_URL",
            hide_env_values = true
        )]
        to: String,
    },
}

type Error = Box<dyn std::error::Error>;

fn main() -> ExitCode {
    // Everything this process creates (the store's files, the key file) is private to its user,
    // not just the data directory that holds them.
    // SAFETY: umask only changes this process's file-creation mask; it cannot fail.
    unsafe { libc::umask(0o077) };
    // A bad command line exits 2 with clap's message; --help and --version exit 0.
    let cli = <Cli as clap::Parser>::parse();
    let filter = std::env::var("RUST_LOG").unwrap_or_else(|_| "info".into());
    env_logger::Builder::new().parse_filters(&filter).init();
    let result = actix_web::rt::System::new().block_on(async move {
        match cli.command.unwrap_or(Command::Serve) {
            Command::Sandbox => {
                let mode = demo::prepare(|name| std::env::var(name).ok())?;
                run_sandbox(mode).await
            }
            Command::Serve => {
                let settings = Settings::from_env()?;
                let listener = bind(&settings)?;
                serve(settings, listener, None).await
            }
            Command::MigrateStore { from, to } => migrate_store(&from, &to),
        }
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            // One line on stderr, not also a log line: a deployer reads exactly one message.
            eprintln!("impulses-gcal: {e}");
            let bad_setting = e.downcast_ref::<SettingsError>().is_some()
                || matches!(e.downcast_ref::<DemoError>(), Some(DemoError::Settings(_)))
                || matches!(
                    e.downcast_ref::<StoreError>(),
                    Some(StoreError::KeyRequired)
                );
            ExitCode::from(if bad_setting { 2 } else { 1 })
        }
    }
}

/// Copies the sled store into PostgreSQL and prints what it copied.
fn migrate_store(from: &std::path::Path, to: &str) -> Result<(), Error> {
    let bad = |setting: &'static str, problem: String| SettingsError { setting, problem };
    let database = Database::parse(to, 2).map_err(|p| bad("--to", p))?;
    let keys = Settings::from_env()?.store.keys;
    let summary = impulses_gcal::store::migrate_store::migrate_store(from, &keys, &database)?;
    println!(
        "copied {} into {} and read it back: identical (sha256 {})",
        from.display(),
        database.describe(),
        summary.digest
    );
    for (kind, n) in summary.counts {
        println!("  {kind}: {n}");
    }
    Ok(())
}

fn bind(settings: &Settings) -> Result<TcpListener, Error> {
    TcpListener::bind((settings.bind_address, settings.port)).map_err(|e| {
        format!(
            "cannot listen on {}:{}: {e}",
            settings.bind_address, settings.port
        )
        .into()
    })
}

async fn run_sandbox(mode: SandboxMode) -> Result<(), Error> {
    let SandboxMode {
        settings,
        listener,
        sandbox,
        account,
        admin_token,
        temp_dir,
        ..
    } = mode;
    let poll = settings.poll_interval.as_secs();
    let addr = listener.local_addr()?;
    let data_dir = settings.data_dir.display().to_string();
    let demo = async move {
        match demo::connect_and_report(addr, &sandbox, &account, &admin_token, poll, &data_dir)
            .await
        {
            Ok(text) => println!("{text}"),
            Err(e) => log::error!("{e}"),
        }
        sandbox
    };
    let result = serve(settings, listener, Some(Box::pin(demo))).await;
    if let Some(dir) = temp_dir {
        let _ = std::fs::remove_dir_all(dir);
    }
    result
}

type Demo = std::pin::Pin<Box<dyn std::future::Future<Output = impulses_gcal::sandbox::Sandbox>>>;

async fn serve(settings: Settings, listener: TcpListener, demo: Option<Demo>) -> Result<(), Error> {
    let store = Store::open_patiently(&settings.data_dir, &settings.store).await?;
    let addr = listener.local_addr()?;
    let system = SyncSystem::start(settings, store);
    let server = http_server(system.app_state(), listener)?;
    let handle = server.handle();
    // Handlers are installed before "listening" is logged, so a signal sent as soon as the
    // server is up is already a graceful stop.
    let mut term = signal(SignalKind::terminate())?;
    let mut int = signal(SignalKind::interrupt())?;
    let mut running = actix_web::rt::spawn(server);
    log::info!("listening on http://{addr}");
    // The demo (sandbox mode) runs beside the server; its sandbox lives until the end.
    let keep = demo.map(actix_web::rt::spawn);
    let signals = select(Box::pin(term.recv()), Box::pin(int.recv()));
    let result = match select(&mut running, signals).await {
        Either::Left((ended, _)) => ended,
        Either::Right(_) => {
            log::info!("signal received: finishing in-flight requests");
            handle.stop(true).await;
            running.await
        }
    };
    result??;
    log::info!("shutting down: flushing the store");
    system.shutdown().await?;
    if let Some(k) = keep {
        k.abort();
    }
    log::info!("stopped");
    Ok(())
}
