//! The `cityops` command: `serve`, `migrate`, `check-config`, `rules check|test`,
//! `user add|passwd|list|disable|enable`.
//!
//! This file parses the command line and dispatches; each subcommand's body is in `cli/`.

mod cli;

use clap::{Parser, Subcommand};
use std::net::SocketAddr;
use std::path::PathBuf;

/// Real-time command system for a city operations center: ingests IoT sensor readings
/// and video-AI alerts, places them on the city map, raises incidents and streams live
/// state to the command hall's pages.
#[derive(Parser)]
#[command(name = "cityops", version, about, long_about = None)]
struct Cli {
    /// Configuration file (TOML; see cityops.example.toml). Without it the embedded
    /// defaults apply. CITYOPS_<SECTION>_<KEY> environment variables override it.
    #[arg(long, short, global = true, env = "CITYOPS_CONFIG")]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the system: MQTT intake (embedded broker unless configured otherwise),
    /// storage, incident detection, HTTP API, live feed and pages.
    ///
    /// On start it prints one line to standard output with the addresses it bound:
    /// `cityops listening http=ADDR mqtt=ADDR` (mqtt is `external` with an external
    /// broker), so scripts and tests can use port 0.
    Serve {
        /// HTTP/WebSocket listen address (overrides http.listen); port 0 picks one.
        #[arg(long, value_name = "ADDR")]
        http: Option<SocketAddr>,
        /// Embedded broker listen address (overrides mqtt.embedded_listen); port 0 picks one.
        #[arg(long, value_name = "ADDR")]
        mqtt: Option<SocketAddr>,
        /// Directory for the SQLite database and other local state.
        #[arg(long, value_name = "DIR", default_value = "data")]
        data: PathBuf,
        /// Also run the simulator, feeding the demo city's sensors and cameras.
        #[arg(long)]
        demo: bool,
    },
    /// Create or upgrade the database schema, then exit.
    Migrate {
        /// Directory for the SQLite database.
        #[arg(long, value_name = "DIR", default_value = "data")]
        data: PathBuf,
    },
    /// Check everything `serve` checks before it starts — the configuration (file and
    /// environment), the city, the rules, the category catalog, routing and calendar, and
    /// that the database answers (within 5 s) — print the effective configuration as
    /// TOML, and exit non-zero with every error found.
    CheckConfig {
        /// Directory of the SQLite database (as for `serve`).
        #[arg(long, value_name = "DIR", default_value = "data")]
        data: PathBuf,
    },
    /// Check or test the rule files (docs/rules.md).
    #[command(subcommand)]
    Rules(RulesCommand),
    /// Manage the users who log in to the pages and the API.
    User {
        /// Directory of the SQLite database (as for `serve`).
        #[arg(long, value_name = "DIR", default_value = "data", global = true)]
        data: PathBuf,
        #[command(subcommand)]
        command: UserCommand,
    },
    /// Set a device's MQTT password in a `mqtt.device_passwords` file (created if
    /// missing; the device's line added or replaced). The password is read as for `user
    /// add`. A running cityops reads the file when it starts.
    DevicePassword {
        /// The file (`name:argon2-hash` lines).
        #[arg(long, value_name = "FILE")]
        file: PathBuf,
        /// The device's MQTT user name.
        name: String,
        /// Read the password from standard input.
        #[arg(long)]
        password_stdin: bool,
    },
}

#[derive(Subcommand)]
enum UserCommand {
    /// Add a user. The password is read from standard input (`--password-stdin`, or when
    /// it is not a terminal), else prompted for without echo; never from an argument.
    Add {
        /// User name: a-z, 0-9, '.', '_', '-'.
        name: String,
        /// admin, duty_officer, dispatcher, department, grid_worker, engineer or wall.
        #[arg(long)]
        role: String,
        /// District code: a district center user (or a street's district).
        #[arg(long)]
        district: Option<String>,
        /// Street code: a street center user; needs --district.
        #[arg(long)]
        street: Option<String>,
        /// Department code: required for (and only for) the department role.
        #[arg(long)]
        department: Option<String>,
        /// Grid code, repeatable: required for (and only for) grid workers.
        #[arg(long = "grid", value_name = "GRID")]
        grids: Vec<String>,
        /// The name the pages show (default: the user name).
        #[arg(long)]
        display_name: Option<String>,
        /// Read the password as one line from standard input.
        #[arg(long)]
        password_stdin: bool,
    },
    /// Set a user's password (read as for `add`); ends their sessions.
    Passwd {
        name: String,
        #[arg(long)]
        password_stdin: bool,
    },
    /// List the users: name, role, jurisdiction, disabled.
    List,
    /// Disable a user: they cannot log in, and their sessions end at once.
    Disable { name: String },
    /// Enable a disabled user again.
    Enable { name: String },
}

#[derive(Subcommand)]
enum RulesCommand {
    /// Check every rule file and settings.toml in DIR (default: rules.dir of the
    /// configuration) against the city; print every error with file, line and what is
    /// wrong, and exit non-zero if there is one.
    Check {
        /// The rules directory.
        dir: Option<PathBuf>,
    },
    /// Run the rule tests in DIR/tests/*.test.toml (default: rules.dir) and print a
    /// readable diff for each failure; exit non-zero if one fails or a rule has no test.
    Test {
        /// The rules directory.
        dir: Option<PathBuf>,
    },
}

/// Blocks of this size and more get a mapping of their own, returned to the system when
/// freed.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
const MMAP_THRESHOLD: libc::c_int = 1 << 20;

/// glibc's malloc raises its mmap threshold to the size of each large block freed (up to
/// 32 MiB), so after the first password hash every thread's arena keeps argon2's 19 MiB
/// blocks for good: `serve --demo` held about 370 MB of them once it had created its
/// users, and each login could add to it. A fixed threshold keeps large blocks out of the
/// arenas. Called before any thread starts.
fn return_large_blocks_to_the_system() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only sets a malloc parameter, and no other thread exists yet.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, MMAP_THRESHOLD);
    }
}

fn main() -> std::process::ExitCode {
    use tracing_subscriber::prelude::*;
    return_large_blocks_to_the_system();
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| "info,sqlx=warn".into());
    tracing_subscriber::registry()
        .with(
            tracing_subscriber::fmt::layer()
                .with_writer(std::io::stderr)
                .with_filter(filter),
        )
        .init();
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("cityops: cannot start the runtime: {e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("cityops: error: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

async fn run(cli: Cli) -> anyhow::Result<()> {
    let config = cli.config.as_ref();
    match cli.command {
        Command::Rules(cmd) => cli::rules::rules(config, cmd),
        Command::User { data, command } => cli::user::user(config, &data, command).await,
        Command::DevicePassword {
            file,
            name,
            password_stdin,
        } => cli::user::device_password(&file, &name, password_stdin),
        Command::Serve {
            http,
            mqtt,
            data,
            demo,
        } => cli::serve::serve(config, http, mqtt, data, demo).await,
        Command::Migrate { data } => cli::migrate::migrate(config, data).await,
        Command::CheckConfig { data } => cli::check_config::check_config(config, &data).await,
    }
}
