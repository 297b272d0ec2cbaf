// The store as a whole and its evaluation entry point, the same for both backends
// (included by each; see `store/mod.rs`). The evaluation SQL itself is the backend's
// (`evaluation.rs`): SQLite has no `percentile_cont`.

use super::{BACKEND, This};
use crate::model::Timestamp;
use crate::store::{
    EvaluationGroup, EvaluationRow, EvaluationScope, EvaluationStore, Store, StoreResult,
};
use async_trait::async_trait;

#[async_trait]
impl Store for This {
    fn backend(&self) -> &'static str {
        BACKEND
    }

    async fn ping(&self) -> StoreResult<()> {
        sqlx::query("SELECT 1").execute(self.reader()).await?;
        Ok(())
    }
}

#[async_trait]
impl EvaluationStore for This {
    async fn evaluation(
        &self,
        from: Timestamp,
        to: Timestamp,
        by: EvaluationGroup,
        scope: &EvaluationScope,
    ) -> StoreResult<Vec<EvaluationRow>> {
        super::evaluation::evaluation(self.reader(), from, to, by, scope).await
    }
}
