//! `user add|passwd|list|disable|enable`: the users who log in, managed in the database;
//! passwords are read from standard input or the terminal, never from an argument.

use super::load_config;
use crate::UserCommand;
use anyhow::Context;
use cityops::clock::SystemClock;
use std::path::{Path, PathBuf};

pub async fn user(config: Option<&PathBuf>, data: &Path, cmd: UserCommand) -> anyhow::Result<()> {
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

/// `device-password`: sets `name`'s line in a device password file.
pub fn device_password(file: &Path, name: &str, password_stdin: bool) -> anyhow::Result<()> {
    use cityops::endpoint::DevicePasswords;
    anyhow::ensure!(
        !name.is_empty() && !name.contains([':', '\n', '\r']) && !name.starts_with('#'),
        "a device name may not be empty, start with '#', or hold ':' or a line break"
    );
    let text = match std::fs::read_to_string(file) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
        Err(e) => return Err(e).with_context(|| format!("reading {}", file.display())),
    };
    // A file that does not parse now is not made worse without a word.
    DevicePasswords::parse(&text).with_context(|| format!("in {}", file.display()))?;
    let password = read_new_password(password_stdin)?;
    let hash = cityops::auth::password::hash_blocking(&password)?;
    let text = DevicePasswords::with_entry(&text, name, &hash);
    let tmp = file.with_extension("new");
    {
        use std::io::Write;
        use std::os::unix::fs::OpenOptionsExt;
        // Hashes, but still nobody else's business.
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .open(&tmp)
            .with_context(|| format!("writing {}", tmp.display()))?;
        f.write_all(text.as_bytes())
            .with_context(|| format!("writing {}", tmp.display()))?;
    }
    std::fs::rename(&tmp, file).with_context(|| format!("replacing {}", file.display()))?;
    println!("password of device {name} set in {}", file.display());
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
