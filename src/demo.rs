//! Demo mode: the simulator in-process, feeding the city's sensors to the broker.
use tokio_util::sync::CancellationToken;
pub fn spawn_simulator(
    _c: &crate::config::Config,
    _h: &str,
    _p: u16,
    _s: CancellationToken,
) -> tokio::task::JoinHandle<()> {
    todo!()
}
