//! Memory a user would notice: what the process holds once it is up.

mod common;

use common::*;
use std::time::Duration;

/// A password hash takes 19 MiB (argon2). `serve --demo` creates its demo and crew users at
/// start, and glibc's malloc used to keep those blocks in every thread's arena for good:
/// about 415 MB resident once the crew is at work (a debug build), against about 70 MB
/// when the blocks are returned. Half-way between is the line.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_demo_does_not_keep_its_password_hashes_after_start() {
    let c = Cityops::start(&ServeSpec {
        extra_env: vec![("CITYOPS_DEMO_SIMULATE".into(), "true".into())],
        ..Default::default()
    });
    c.wait_ready().await;
    // The crew creates its users (a dozen more hashes) before it starts work.
    c.wait_log("demo crew at work", Duration::from_secs(60));
    let rss = c.rss_kb();
    assert!(
        rss < 250_000,
        "serve --demo holds {rss} kB right after start (users created, hashes done)"
    );
}
