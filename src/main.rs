//! The `cityops` command: `serve`, `migrate`, `check-config`, `rules check|test`,
//! `user add|passwd|list|disable|enable`.

use anyhow::Context;
use cityops::clock::SystemClock;
use cityops::config::Config;
use clap::{Parser, Subcommand};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

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
        .unwrap_or_else(|_| "info,rumqttd=warn,sqlx=warn".into());
    // The broker watch sees rumqttd's events whatever the log filter lets through: they
    // are how the embedded broker reports its listener and the clients it drops.
    tracing_subscriber::registry()
        .with(
            tracing_subscriber::fmt::layer()
                .with_writer(std::io::stderr)
                .with_filter(filter),
        )
        .with(cityops::broker::watch::layer())
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

fn load_config(path: Option<&PathBuf>) -> anyhow::Result<Config> {
    Ok(Config::load(path.map(|p| p.as_path()), std::env::vars())?)
}

async fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Rules(cmd) => rules(cli.config.as_ref(), cmd),
        Command::User { data, command } => user(cli.config.as_ref(), &data, command).await,
        Command::Serve {
            http,
            mqtt,
            data,
            demo,
        } => {
            let mut config = load_config(cli.config.as_ref())?;
            if let Some(a) = http {
                config.http.listen = a;
            }
            if let Some(a) = mqtt {
                config.mqtt.embedded_listen = a;
            }
            if demo {
                config.demo.simulate = true;
            }
            let running = cityops::server::start(cityops::server::ServeOptions {
                config,
                data_dir: data,
                clock: Arc::new(SystemClock),
            })
            .await?;
            let mqtt = running
                .mqtt_addr
                .map_or("external".to_owned(), |a| a.to_string());
            println!("cityops listening http={} mqtt={}", running.http_addr, mqtt);
            if !running.demo_users.is_empty() {
                println!(
                    "  demo users created (shown only now; `cityops user passwd` changes them):"
                );
                for (name, password) in &running.demo_users {
                    println!("    {name:<12} {password}");
                }
            }
            println!(
                "  live page:  http://{0}/\n  API:        http://{0}/api/v1/sensors\n  live feed:  ws://{0}/ws\n  metrics:    http://{0}/metrics",
                running.http_addr
            );
            let shutdown = running.shutdown.clone();
            tokio::spawn(async move {
                wait_for_signal().await;
                shutdown.cancel();
            });
            running.wait().await;
            Ok(())
        }
        Command::Migrate { data } => {
            let config = load_config(cli.config.as_ref())?;
            std::fs::create_dir_all(&data)
                .with_context(|| format!("creating {}", data.display()))?;
            let store =
                cityops::store::open(&config.database_url(&data), config.ingest.dead_letter_limit)
                    .await?;
            println!("database schema is up to date ({})", store.backend());
            Ok(())
        }
        Command::CheckConfig { data } => check_config(cli.config.as_ref(), &data).await,
    }
}

/// `check-config`: the checks `serve` makes before it starts, with the same loaders.
async fn check_config(path: Option<&PathBuf>, data: &Path) -> anyhow::Result<()> {
    let mut config = load_config(path)?;
    let city = Arc::new(
        cityops::spatial::City::load(&config.city.dir)
            .with_context(|| format!("loading the city from {}", config.city.dir.display()))?,
    );
    let mut problems: Vec<String> = Vec::new();
    let rules = match cityops::rules::load_dir(&config.rules.dir, Some(&city)) {
        Ok(set) => set.rules.len(),
        Err(errors) => {
            problems.push(format!(
                "rules in {}: {} error(s):\n{errors}",
                config.rules.dir.display(),
                errors.0.len()
            ));
            0
        }
    };
    if let Err(e) = cityops::incidents::desk::Desk::load(&config.rules.dir, &city, 0) {
        problems.push(format!(
            "loading the category catalog, routing and calendar: {e:#}"
        ));
    }
    let db_url = config.database_url(data);
    let database = match check_database(&db_url).await {
        Ok(what) => what,
        Err(e) => {
            problems.push(format!("database: {e:#}"));
            String::new()
        }
    };
    if !problems.is_empty() {
        anyhow::bail!("{}", problems.join("\n"));
    }
    if config.mqtt.password.is_some() {
        config.mqtt.password = Some("********".into());
    }
    config.database.url = redact_password(&config.database.url);
    print!("{}", toml::to_string_pretty(&config)?);
    let n = city.counts();
    println!(
        "# ok: city {:?}: {} districts, {} streets, {} grids, {} sensors, {} cameras; {} rules; database {}",
        city.name(),
        n.districts,
        n.streets,
        n.grids,
        n.sensors,
        n.cameras,
        rules,
        database
    );
    Ok(())
}

/// How long `check-config` waits for the database.
const DB_CHECK_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(5);

/// Connects to the database once, as `serve` would, and says what answered. A SQLite file
/// that does not exist yet is fine: `serve` creates it.
async fn check_database(url: &str) -> anyhow::Result<String> {
    use sqlx::ConnectOptions;
    use std::str::FromStr;
    let in_time = |what: &'static str| {
        move |_| {
            anyhow::anyhow!(
                "{what} did not answer within {} s",
                DB_CHECK_TIMEOUT.as_secs()
            )
        }
    };
    if let Some(path) = url.strip_prefix("sqlite://") {
        if !Path::new(path).exists() {
            return Ok(format!("sqlite {path} (serve creates it)"));
        }
        let opts = sqlx::sqlite::SqliteConnectOptions::from_str(url)?.read_only(true);
        tokio::time::timeout(DB_CHECK_TIMEOUT, opts.connect())
            .await
            .map_err(in_time("SQLite"))?
            .with_context(|| format!("cannot open {path}"))?;
        return Ok(format!("sqlite {path}"));
    }
    let opts = sqlx::postgres::PgConnectOptions::from_str(url)
        .context("the PostgreSQL URL cannot be read")?;
    let target = format!(
        "postgres {}:{}/{}",
        opts.get_host(),
        opts.get_port(),
        opts.get_database().unwrap_or_default()
    );
    tokio::time::timeout(DB_CHECK_TIMEOUT, opts.connect())
        .await
        .map_err(in_time("PostgreSQL"))?
        .with_context(|| format!("cannot connect to {target}"))?;
    Ok(target)
}

/// The URL with its password replaced, for printing.
fn redact_password(url: &str) -> String {
    match (url.split_once("://"), url.rfind('@')) {
        (Some((scheme, rest)), Some(_)) => match rest.split_once('@') {
            Some((cred, host)) => match cred.split_once(':') {
                Some((user, _)) => format!("{scheme}://{user}:********@{host}"),
                None => url.to_owned(),
            },
            None => url.to_owned(),
        },
        _ => url.to_owned(),
    }
}

fn rules(config: Option<&PathBuf>, cmd: RulesCommand) -> anyhow::Result<()> {
    let config = load_config(config)?;
    let (dir, test) = match cmd {
        RulesCommand::Check { dir } => (dir, false),
        RulesCommand::Test { dir } => (dir, true),
    };
    let dir = dir.unwrap_or(config.rules.dir.clone());
    let city = Arc::new(
        cityops::spatial::City::load(&config.city.dir)
            .with_context(|| format!("loading the city from {}", config.city.dir.display()))?,
    );
    let set = match cityops::rules::load_dir(&dir, Some(&city)) {
        Ok(set) => Arc::new(set),
        Err(errors) => {
            eprintln!("{errors}");
            anyhow::bail!("{} error(s) in {}", errors.0.len(), dir.display());
        }
    };
    if !test {
        println!(
            "ok: {} rules in {} files under {}",
            set.rules.len(),
            set.files.len(),
            dir.display()
        );
        return Ok(());
    }
    let results =
        cityops::rules::testing::run_dir(&dir, &set, &city).map_err(anyhow::Error::msg)?;
    let mut failed = 0;
    for r in &results {
        if r.failures.is_empty() {
            println!("ok      {}: {}", r.file.display(), r.name);
        } else {
            failed += 1;
            println!("FAILED  {}: {}", r.file.display(), r.name);
            for f in &r.failures {
                println!("  {}", f.replace('\n', "\n  "));
            }
        }
    }
    let untested = cityops::rules::testing::untested(&dir, &set);
    for name in &untested {
        println!("UNTESTED rule {name:?}: no test names it");
    }
    println!("{} passed, {} failed", results.len() - failed, failed);
    if failed > 0 || !untested.is_empty() {
        anyhow::bail!("rule tests failed");
    }
    Ok(())
}

async fn user(config: Option<&PathBuf>, data: &Path, cmd: UserCommand) -> anyhow::Result<()> {
    use cityops::auth::users;
    let config = load_config(config)?;
    std::fs::create_dir_all(data).with_context(|| format!("creating {}", data.display()))?;
    let store = cityops::store::open(&config.database_url(data), config.ingest.dead_letter_limit)
        .await
        .context("opening the database")?;
    match cmd {
        UserCommand::Add {
            name,
            role,
            district,
            street,
            department,
            grids,
            display_name,
            password_stdin,
        } => {
            let city = cityops::spatial::City::load(&config.city.dir)
                .with_context(|| format!("loading the city from {}", config.city.dir.display()))?;
            let spec = users::UserSpec {
                name,
                role,
                display_name,
                district,
                street,
                department,
                grids,
            };
            // Check before asking for a password, so a typo costs no typing.
            users::check(&spec, &city)?;
            let password = read_new_password(password_stdin)?;
            let u = users::add(&store, &city, &SystemClock, &spec, &password).await?;
            println!(
                "added {} ({}, {})",
                u.name,
                u.role.as_str(),
                users::jurisdiction(&u)
            );
        }
        UserCommand::Passwd {
            name,
            password_stdin,
        } => {
            if store.user(&name).await?.is_none() {
                anyhow::bail!("no user named {name:?}");
            }
            let password = read_new_password(password_stdin)?;
            users::set_password(&store, &name, &password).await?;
            println!("password of {name} changed; their sessions have ended");
        }
        UserCommand::List => print!("{}", users::table(&store.users().await?)),
        UserCommand::Disable { name } => {
            users::set_disabled(&store, &name, true).await?;
            println!("{name} disabled; their sessions have ended");
        }
        UserCommand::Enable { name } => {
            users::set_disabled(&store, &name, false).await?;
            println!("{name} enabled");
        }
    }
    Ok(())
}

/// A new password: one line of standard input when asked to or when it is not a
/// terminal; else prompted for twice on the terminal, without echo.
fn read_new_password(from_stdin: bool) -> anyhow::Result<String> {
    use std::io::IsTerminal;
    let password = if from_stdin || !std::io::stdin().is_terminal() {
        let mut line = String::new();
        std::io::stdin()
            .read_line(&mut line)
            .context("reading the password from standard input")?;
        line.trim_end_matches(['\n', '\r']).to_owned()
    } else {
        let first = rpassword::prompt_password("New password: ")?;
        let again = rpassword::prompt_password("Again: ")?;
        anyhow::ensure!(first == again, "the two passwords differ");
        first
    };
    cityops::auth::password::check_new(&password)?;
    Ok(password)
}

async fn wait_for_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(s) => s,
                Err(_) => {
                    let _ = ctrl_c.await;
                    return;
                }
            };
        tokio::select! {
            _ = ctrl_c => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    {
        let _ = ctrl_c.await;
    }
}
