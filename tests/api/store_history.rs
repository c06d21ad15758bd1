//! The change log on SQLite and, when configured, PostgreSQL: positions
//! are given in commit order without holes; a change recorded twice (by
//! two replicas, or seen again in a later snapshot) is kept once and takes
//! no position; gaps are read back; pruning moves the floor; items' last
//! states follow the appends.

use remotepc_gateway::store::{Append, HistoryQuery, LogBounds, NewChange};

use crate::store::backends;

fn change(subject: &str, kind: &'static str, at_ms: i64, to: Option<&str>) -> NewChange {
    NewChange {
        subject: subject.to_owned(),
        kind,
        at_ms,
        from: None,
        to: to.map(str::to_owned),
        item: Some(format!("{{\"name\":\"{subject}\"}}")),
    }
}

fn append(account: &str, changes: Vec<NewChange>) -> Append {
    Append {
        account: account.to_owned(),
        collection: "devices",
        changes,
        ..Append::default()
    }
}

#[tokio::test]
async fn a_change_already_recorded_is_kept_once_and_takes_no_position() {
    for (tag, store) in backends().await {
        let account = format!("history-{tag}");
        let changes = [
            change("PC-1", "STATUS_CHANGED", 1_000, Some("OFFLINE")),
            // Another replica's view of the same change, a moment later.
            change("PC-1", "STATUS_CHANGED", 1_040, Some("OFFLINE")),
            change("PC-1", "STATUS_CHANGED", 2_000, Some("ONLINE")),
            change("PC-1", "STATUS_CHANGED", 3_000, Some("OFFLINE")),
            change("PC-2", "REMOVED", 1_000, None),
            change("PC-2", "REMOVED", 1_050, None),
            change("PC-2", "ADDED", 2_000, None),
            change("PC-2", "REMOVED", 3_000, None),
        ];
        let mut heads = Vec::new();
        for one in &changes {
            let head = store
                .append_changes(&append(&account, vec![one.clone()]))
                .await
                .expect("appended");
            heads.push(head);
        }
        assert_eq!(heads, vec![1, 1, 2, 3, 4, 4, 5, 6], "{tag}");
        let kept = store
            .history(&account, "devices", &HistoryQuery::default(), 100)
            .await
            .expect("read");
        let seen: Vec<(i64, &str, &str, i64)> = kept
            .iter()
            .map(|row| (row.seq, row.subject.as_str(), row.kind.as_str(), row.at_ms))
            .collect();
        assert_eq!(
            seen,
            vec![
                (6, "PC-2", "REMOVED", 3_000),
                (5, "PC-2", "ADDED", 2_000),
                (4, "PC-2", "REMOVED", 1_000),
                (3, "PC-1", "STATUS_CHANGED", 3_000),
                (2, "PC-1", "STATUS_CHANGED", 2_000),
                (1, "PC-1", "STATUS_CHANGED", 1_000),
            ],
            "{tag}"
        );
    }
}

#[tokio::test]
async fn concurrent_appends_get_every_position_once_in_commit_order() {
    for (tag, store) in backends().await {
        let account = format!("race-{tag}");
        let writers = (0..8).map(|writer| {
            let (store, account) = (store.clone(), account.clone());
            tokio::spawn(async move {
                for round in 0..5 {
                    let subject = format!("PC-{writer}");
                    let to = format!("comment {round}");
                    let at_ms = 1_000 + round;
                    let one = change(&subject, "COMMENT_CHANGED", at_ms, Some(&to));
                    store
                        .append_changes(&append(&account, vec![one]))
                        .await
                        .expect("appended");
                }
            })
        });
        for writer in futures::future::join_all(writers).await {
            writer.expect("writer ran");
        }
        let logged = store
            .changes_after(&account, "devices", 0, 100)
            .await
            .expect("read");
        let positions: Vec<i64> = logged.iter().map(|row| row.seq).collect();
        assert_eq!(positions, (1..=40).collect::<Vec<_>>(), "{tag}");
        let bounds = store.log_bounds(&account).await.expect("bounds");
        assert_eq!(bounds, LogBounds { head: 40, floor: 0 }, "{tag}");
    }
}

/// Before the epoch: older than any other test's rows.
const LONG_AGO: i64 = -9_000_000_000;

#[tokio::test]
async fn a_gap_is_read_back_in_its_place_and_pruning_moves_the_floor() {
    for (tag, store) in backends().await {
        let account = format!("gap-{tag}");
        store
            .append_changes(&append(
                &account,
                vec![change("PC-1", "ADDED", LONG_AGO, None)],
            ))
            .await
            .expect("appended");
        let mut after_loss = append(&account, vec![change("PC-2", "ADDED", 5_000, None)]);
        after_loss.gap_at_ms = Some(5_000);
        assert_eq!(
            store.append_changes(&after_loss).await.expect("appended"),
            3
        );
        let logged = store
            .changes_after(&account, "devices", 0, 10)
            .await
            .expect("read");
        let kinds: Vec<(i64, &str)> = logged
            .iter()
            .map(|row| (row.seq, row.kind.as_str()))
            .collect();
        assert_eq!(kinds, vec![(1, "ADDED"), (2, "GAP"), (3, "ADDED")], "{tag}");
        let history = store
            .history(&account, "devices", &HistoryQuery::default(), 10)
            .await
            .expect("read");
        assert_eq!(history.len(), 2, "history lists no gaps ({tag})");

        // Only rows of this test are that old in a database that other
        // tests share.
        store
            .prune_history(LONG_AGO + 1, u64::MAX)
            .await
            .expect("pruned");
        let bounds = store.log_bounds(&account).await.expect("bounds");
        assert_eq!(bounds, LogBounds { head: 3, floor: 1 }, "{tag}");
    }
}

#[tokio::test]
async fn items_last_states_follow_the_appends() {
    for (tag, store) in backends().await {
        let account = format!("states-{tag}");
        let mut first = append(&account, vec![]);
        first.states = vec![
            ("PC-1".to_owned(), Some("{\"v\":1}".to_owned())),
            ("PC-2".to_owned(), Some("{\"v\":1}".to_owned())),
        ];
        store.append_changes(&first).await.expect("appended");
        let mut second = append(&account, vec![]);
        second.states = vec![
            ("PC-1".to_owned(), None),
            ("PC-2".to_owned(), Some("{\"v\":2}".to_owned())),
        ];
        store.append_changes(&second).await.expect("appended");
        let states = store.item_states(&account, "devices").await.expect("read");
        assert_eq!(
            states,
            vec![("PC-2".to_owned(), "{\"v\":2}".to_owned())],
            "{tag}"
        );
    }
}

#[tokio::test]
async fn an_item_removed_and_added_again_starts_afresh() {
    for (tag, store) in backends().await {
        let account = format!("again-{tag}");
        let lives = [
            change("PC-9", "ADDED", 1_000, None),
            change("PC-9", "STATUS_CHANGED", 2_000, Some("OFFLINE")),
            change("PC-9", "REMOVED", 3_000, None),
            change("PC-9", "ADDED", 4_000, None),
            // Its second life goes offline too: a change, not a repeat.
            change("PC-9", "STATUS_CHANGED", 5_000, Some("OFFLINE")),
            // Another replica's view of the same: a repeat.
            change("PC-9", "STATUS_CHANGED", 5_040, Some("OFFLINE")),
        ];
        let head = store
            .append_changes(&append(&account, lives.to_vec()))
            .await
            .expect("appended");
        assert_eq!(head, 5, "{tag}");
    }
}
