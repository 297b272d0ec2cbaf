//! Signals the running server answers besides SIGTERM/Ctrl-C (which `cli/serve.rs` turns
//! into a shutdown).

use tokio_util::sync::CancellationToken;

/// Reloads the rules on SIGHUP until `stop`; the outcome or the errors go to the log.
pub(super) async fn reload_on_sighup(
    reload: tokio::sync::mpsc::Sender<crate::pipeline::ReloadRequest>,
    stop: CancellationToken,
) {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let Ok(mut hup) = signal(SignalKind::hangup()) else {
            return;
        };
        loop {
            tokio::select! {
                _ = stop.cancelled() => return,
                Some(()) = hup.recv() => {}
            }
            let (tx, rx) = tokio::sync::oneshot::channel();
            if reload.send(tx).await.is_err() {
                return;
            }
            match rx.await {
                Ok(Ok(o)) => tracing::info!(
                    rules = o.rules,
                    unchanged = o.unchanged,
                    "SIGHUP: rules reloaded"
                ),
                Ok(Err(e)) => {
                    tracing::error!("SIGHUP: rules not reloaded, the running set stays:\n{e}")
                }
                Err(_) => return,
            }
        }
    }
    #[cfg(not(unix))]
    stop.cancelled().await;
}
