//! A full disk loses nothing: readings that arrive while the database cannot write are
//! not acknowledged, `/readyz` says the database is failing for as long as writes fail,
//! and once space is freed everything is stored — visible to every connection and still
//! there after a clean stop. Run on SQLite (its data directory on a small tmpfs) and on
//! PostgreSQL (a test database in a tablespace on a small tmpfs).
//!
//! Mounting a tmpfs needs root. Outside CI a test that cannot mount says SKIP; in CI it
//! fails, since CI runs as root.

mod common;

use common::*;
use serde_json::json;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

const WAIT: Duration = Duration::from_secs(60);

/// A tmpfs mounted on a fresh temporary directory, unmounted on drop.
struct Tmpfs {
    dir: tempfile::TempDir,
}

impl Tmpfs {
    /// Mounts a tmpfs of `size` (e.g. `24m`) with extra mount `options`, or `None` when
    /// this is not root outside CI.
    fn mount(size: &str, options: &str) -> Option<Self> {
        let dir = tempfile::tempdir().expect("tempdir");
        let opts = if options.is_empty() {
            format!("size={size}")
        } else {
            format!("size={size},{options}")
        };
        let ok = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &opts, "tmpfs"])
            .arg(dir.path())
            .status()
            .is_ok_and(|s| s.success());
        if !ok {
            if std::env::var_os("CI").is_some() {
                panic!("cannot mount a tmpfs (CI runs as root, so this must work)");
            }
            eprintln!("SKIP: cannot mount a tmpfs here (needs root)");
            return None;
        }
        Some(Self { dir })
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    /// Fills the file system with a file of zeros until it is full; returns its path.
    fn fill(&self) -> PathBuf {
        let path = self.path().join("filler");
        let mut f = std::fs::File::create(&path).expect("create filler");
        let block = vec![0u8; 64 * 1024];
        loop {
            match f.write(&block) {
                Ok(0) => break,
                Ok(_) => {}
                Err(e) if e.raw_os_error() == Some(28) => break, // ENOSPC
                Err(e) => panic!("filling the disk: {e}"),
            }
        }
        // Whatever is left below one block.
        while f.write(&[0u8; 512]).is_ok_and(|n| n > 0) {}
        let _ = f.sync_all();
        path
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(self.path()).status();
    }
}

fn sensors() -> Vec<DemoSensor> {
    (0..5).map(|i| demo_sensor("air_quality", i)).collect()
}

/// Publishes readings `from..to`, each with its own time, spread over `sensors`.
async fn publish(p: &mut Publisher, sensors: &[DemoSensor], t0: f64, from: usize, to: usize) {
    for i in from..to {
        let s = &sensors[i % sensors.len()];
        let payload =
            json!([{ "n": s.metrics[0], "v": 1.0, "t": t0 + i as f64 / 1000.0 }]).to_string();
        p.publish(&sensor_topic(s), payload).await;
        if i % 200 == 0 {
            p.flush().await;
        }
    }
    p.flush().await;
}

async fn wait_visible(c: &Cityops, sensors: &[DemoSensor], n: usize, what: &str) {
    eventually(&format!("{n} readings visible ({what})"), WAIT, || async {
        let got = readings_of(c, sensors).await;
        assert!(got <= n, "{got} readings visible, only {n} published");
        (got == n).then_some(())
    })
    .await;
}

/// `/readyz` as (status, database error).
async fn readiness(c: &Cityops) -> (u16, String) {
    let (status, v) = c.get_json("/readyz").await;
    (
        status,
        v["database"]["error"].as_str().unwrap_or("").to_owned(),
    )
}

/// The whole path on one backend: readings flow, the disk fills, more readings arrive,
/// `/readyz` goes 503 and stays so while writes fail, space is freed, everything is
/// stored, and the count the server reports matches what any connection sees.
///
/// `strict`: no write can succeed while the disk is full, so `/readyz` must stay 503.
/// (PostgreSQL may still fit rows into free space inside pages it already has.)
async fn full_disk_then_recovery(c: &Cityops, fs: &Tmpfs, strict: bool) {
    let sensors = sensors();
    c.wait_ready().await;
    let mqtt = c.mqtt.expect("embedded broker");
    let mut p = Publisher::connect(mqtt, "disk-full-device").await;
    let t0 = now_secs() - 3600.0;

    publish(&mut p, &sensors, t0, 0, 300).await;
    wait_visible(c, &sensors, 300, "before the disk fills").await;

    let filler = fs.fill();
    // The endpoint acknowledges only what is committed: while the disk is full the
    // device gets no PUBACK for these, so it does not wait for them here.
    for i in 300..1500 {
        let s = &sensors[i % sensors.len()];
        let payload =
            json!([{ "n": s.metrics[0], "v": 1.0, "t": t0 + i as f64 / 1000.0 }]).to_string();
        p.publish(&sensor_topic(s), payload).await;
    }
    let error = eventually("/readyz 503 while the disk is full", WAIT, || async {
        let (status, error) = readiness(c).await;
        (status == 503).then_some(error)
    })
    .await;
    assert!(!error.is_empty(), "/readyz names the database error");

    // While the disk stays full, every write fails: readiness must not come back, and
    // what the server counts as stored must be what a reader sees. Checked over several
    // of the writer's retries (100 ms apart in the harness), observed through its
    // failure counter rather than a sleep.
    let failures = c.counter("cityops_store_errors_total", "").await;
    eventually("several more failed write attempts", WAIT, || async {
        let (status, _) = readiness(c).await;
        if strict {
            assert_eq!(
                status, 503,
                "/readyz went ready while the disk is still full"
            );
        }
        let now = c.counter("cityops_store_errors_total", "").await;
        (now >= failures + 5.0).then_some(())
    })
    .await;
    let counted = c.counter("cityops_readings_stored_total", "").await as usize;
    let seen = readings_of(c, &sensors).await;
    assert_eq!(
        counted, seen,
        "the server counts {counted} readings stored while readers see {seen}"
    );

    std::fs::remove_file(&filler).expect("free the space");
    eventually("/readyz 200 once space is freed", WAIT, || async {
        (readiness(c).await.0 == 200).then_some(())
    })
    .await;
    publish(&mut p, &sensors, t0, 1500, 1800).await;
    wait_visible(c, &sensors, 1800, "after space was freed").await;
    assert_eq!(
        c.counter("cityops_readings_stored_total", "").await as usize,
        1800
    );
    p.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_full_disk_loses_nothing_and_recovers() {
    let Some(fs) = Tmpfs::mount("24m", "") else {
        return;
    };
    let data = fs.path().join("data");
    let mut c = Cityops::start(&ServeSpec {
        data_dir: Some(data.clone()),
        ..Default::default()
    });
    full_disk_then_recovery(&c, &fs, true).await;

    // After a clean stop (which checkpoints and truncates the WAL) every reading is in
    // the database file.
    c.sigterm();
    let url = format!("sqlite://{}?mode=ro", data.join("cityops.db").display());
    let mut conn = <sqlx::SqliteConnection as sqlx::Connection>::connect(&url)
        .await
        .expect("open the database after the stop");
    let ids: Vec<String> = sensors().into_iter().map(|s| s.id).collect();
    let n: i64 =
        sqlx::query_scalar("SELECT COUNT(*) FROM readings WHERE sensor_id IN (?, ?, ?, ?, ?)")
            .bind(&ids[0])
            .bind(&ids[1])
            .bind(&ids[2])
            .bind(&ids[3])
            .bind(&ids[4])
            .fetch_one(&mut conn)
            .await
            .expect("count readings");
    assert_eq!(n, 1800, "readings in the file after a clean stop");
}

/// A database whose default tablespace lives on a small tmpfs, created and dropped as
/// the `postgres` superuser (tablespaces need one).
struct PgOnTmpfs {
    db: String,
    tablespace: String,
    url: String,
}

fn psql_superuser(sql: &str) -> Result<(), String> {
    let out = Command::new("su")
        .args(["postgres", "-c"])
        .arg(format!(
            "psql -v ON_ERROR_STOP=1 -qtA -c {}",
            shell_quote(sql)
        ))
        .output()
        .map_err(|e| e.to_string())?;
    if out.status.success() {
        Ok(())
    } else {
        Err(String::from_utf8_lossy(&out.stderr).into_owned())
    }
}

fn shell_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', r"'\''"))
}

impl PgOnTmpfs {
    fn create(fs: &Tmpfs) -> Option<Self> {
        let id = uuid::Uuid::now_v7().simple().to_string();
        let tablespace = format!("cityops_full_{id}");
        let db = format!("cityops_it_full_{id}");
        let location = fs.path().join("pg");
        std::fs::create_dir(&location).expect("tablespace dir");
        let owned = Command::new("chown")
            .args(["postgres:postgres"])
            .arg(&location)
            .status()
            .is_ok_and(|s| s.success());
        let created = owned
            && psql_superuser(&format!(
                "CREATE TABLESPACE {tablespace} LOCATION '{}'",
                location.display()
            ))
            .and_then(|()| {
                psql_superuser(&format!(
                    "GRANT CREATE ON TABLESPACE {tablespace} TO cityops"
                ))
            })
            .and_then(|()| {
                psql_superuser(&format!(
                    "CREATE DATABASE {db} OWNER cityops TABLESPACE {tablespace}"
                ))
            })
            .map_err(|e| eprintln!("{e}"))
            .is_ok();
        if !created {
            if std::env::var_os("CI").is_some() {
                panic!("cannot create a PostgreSQL tablespace on a tmpfs as postgres");
            }
            eprintln!(
                "SKIP: cannot create a PostgreSQL tablespace here (needs root and a local PostgreSQL)"
            );
            return None;
        }
        let admin = pg_admin_url();
        let url = match admin.rsplit_once('/') {
            Some((base, _)) => format!("{base}/{db}"),
            None => panic!("admin URL without a database: {admin}"),
        };
        Some(Self {
            db,
            tablespace,
            url,
        })
    }
}

impl Drop for PgOnTmpfs {
    fn drop(&mut self) {
        let _ = psql_superuser(&format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.db));
        let _ = psql_superuser(&format!("DROP TABLESPACE IF EXISTS {}", self.tablespace));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_full_tablespace_loses_nothing_and_recovers() {
    let Some(fs) = Tmpfs::mount("48m", "mode=0755") else {
        return;
    };
    let Some(pg) = PgOnTmpfs::create(&fs) else {
        return;
    };
    let mut c = Cityops::start(&ServeSpec {
        database: Some(pg.url.clone()),
        ..Default::default()
    });
    full_disk_then_recovery(&c, &fs, false).await;
    c.sigterm();
    drop(pg);
}
