//! The history table on SQLite and, when configured, PostgreSQL: a change
//! recorded twice (by two replicas, or seen again in a later snapshot) is
//! kept once; pruning keeps the newest rows.

use remotepc_gateway::store::{HistoryQuery, HistoryRow};

use crate::store::backends;

fn row(
    account: &str,
    subject: &str,
    kind: &'static str,
    at_ms: i64,
    to: Option<&str>,
) -> HistoryRow {
    HistoryRow {
        account: account.to_owned(),
        collection: "devices",
        subject: subject.to_owned(),
        kind,
        at_ms,
        from: None,
        to: to.map(str::to_owned),
    }
}

#[tokio::test]
async fn a_change_already_recorded_is_kept_once_and_a_real_change_back_is_kept() {
    for (tag, store) in backends().await {
        let account = format!("history-{tag}");
        let rows = [
            row(&account, "PC-1", "STATUS_CHANGED", 1_000, Some("OFFLINE")),
            // Another replica's view of the same change, a moment later.
            row(&account, "PC-1", "STATUS_CHANGED", 1_040, Some("OFFLINE")),
            row(&account, "PC-1", "STATUS_CHANGED", 2_000, Some("ONLINE")),
            row(&account, "PC-1", "STATUS_CHANGED", 3_000, Some("OFFLINE")),
            row(&account, "PC-2", "REMOVED", 1_000, None),
            row(&account, "PC-2", "REMOVED", 1_050, None),
            row(&account, "PC-2", "ADDED", 2_000, None),
            row(&account, "PC-2", "REMOVED", 3_000, None),
        ];
        for one in &rows {
            store
                .record_history(std::slice::from_ref(one))
                .await
                .expect("recorded");
        }
        let kept = store
            .history(&account, "devices", &HistoryQuery::default(), 100)
            .await
            .expect("read");
        let seen: Vec<(&str, &str, i64)> = kept
            .iter()
            .map(|change| (change.subject.as_str(), change.kind.as_str(), change.at_ms))
            .collect();
        assert_eq!(
            seen,
            vec![
                ("PC-1", "STATUS_CHANGED", 3_000),
                ("PC-2", "REMOVED", 3_000),
                ("PC-1", "STATUS_CHANGED", 2_000),
                ("PC-2", "ADDED", 2_000),
                ("PC-1", "STATUS_CHANGED", 1_000),
                ("PC-2", "REMOVED", 1_000),
            ]
        );
    }
}
