//! The store on SQLite always, and on PostgreSQL when
//! `GATEWAY_TEST_POSTGRES_URL` is set (`.ci/run` sets it): the same code,
//! the same assertions.

use std::time::Duration;

use chrono::{TimeDelta, Utc};
use remotepc_gateway::settings::StoreSettings;
use remotepc_gateway::store::{AuditFilter, AuditRecord, Claim, Store};
use serde_json::json;

use crate::helpers::temp_store_path;

/// Every backend to test, with a tag unique to this run so rows of other
/// runs sharing a PostgreSQL database never match.
async fn backends() -> Vec<(String, Store)> {
    backends_keeping_keys(Duration::from_secs(60)).await
}

async fn backends_keeping_keys(idempotency_ttl: Duration) -> Vec<(String, Store)> {
    let mut urls = vec![format!("sqlite://{}?mode=rwc", temp_store_path().display())];
    if let Ok(url) = std::env::var("GATEWAY_TEST_POSTGRES_URL") {
        urls.push(url);
    }
    let mut stores = Vec::new();
    for url in urls {
        let settings = StoreSettings {
            url: url.clone(),
            max_connections: 4,
            idempotency_ttl,
        };
        let store = Store::open(&settings).await.unwrap_or_else(|error| {
            panic!(
                "store at {} opens: {error}",
                url.split('?').next().unwrap_or_default()
            )
        });
        let tag: String = format!(
            "{}-{}",
            std::process::id(),
            Utc::now().timestamp_nanos_opt().unwrap_or_default()
        );
        stores.push((tag, store));
    }
    stores
}

fn record(tag: &str, id: &str, team: &str, operation: &str, minutes_ago: i64) -> AuditRecord {
    AuditRecord {
        id: format!("{tag}-{id}"),
        at: Utc::now() - TimeDelta::minutes(minutes_ago),
        team: team.to_owned(),
        account: format!("account-{tag}"),
        request_id: format!("request-{id}"),
        operation: operation.to_owned(),
        input: json!({ "emails": ["a@example.com"], "password": "[redacted]" }),
        outcome: "OK".to_owned(),
        result: json!({ "invited": ["a@example.com"] }),
    }
}

#[tokio::test]
async fn audit_records_round_trip_filter_and_page_newest_first() {
    for (tag, store) in backends().await {
        for (id, team, operation, minutes_ago) in [
            ("1", "ops", "inviteUsers", 30),
            ("2", "ops", "createUser", 20),
            ("3", "helpdesk", "createUser", 10),
        ] {
            store
                .record_audit(&record(&tag, id, team, operation, minutes_ago))
                .await
                .expect("written");
        }
        let mine = AuditFilter {
            account: Some(format!("account-{tag}")),
            ..AuditFilter::default()
        };
        let all = store.audit_records(&mine, None, 10).await.expect("read");
        let ids: Vec<&str> = all.iter().map(|record| record.id.as_str()).collect();
        assert_eq!(
            ids,
            [format!("{tag}-3"), format!("{tag}-2"), format!("{tag}-1")]
        );
        assert_eq!(all[2].input["password"], "[redacted]");
        assert_eq!(all[2].result, json!({ "invited": ["a@example.com"] }));

        let older = store
            .audit_records(&mine, Some((all[0].at, all[0].id.clone())), 1)
            .await
            .expect("page 2");
        assert_eq!(
            older
                .iter()
                .map(|record| record.id.clone())
                .collect::<Vec<_>>(),
            [format!("{tag}-2")]
        );

        let creates_by_ops = AuditFilter {
            team: Some("ops".to_owned()),
            operation: Some("createUser".to_owned()),
            ..mine.clone()
        };
        assert_eq!(store.count_audit(&creates_by_ops).await.expect("count"), 1);
        let last_quarter_hour = AuditFilter {
            since: Some(Utc::now() - TimeDelta::minutes(15)),
            ..mine.clone()
        };
        assert_eq!(
            store.count_audit(&last_quarter_hour).await.expect("count"),
            1
        );
    }
}

#[tokio::test]
async fn idempotency_keys_claim_replay_refuse_and_release() {
    for (tag, store) in backends().await {
        let team = format!("team-{tag}");
        assert_eq!(
            store
                .claim_idempotency(&team, "k1", "hash-a")
                .await
                .expect("claim"),
            Claim::Claimed
        );
        assert_eq!(
            store
                .claim_idempotency(&team, "k1", "hash-a")
                .await
                .expect("claim"),
            Claim::InProgress
        );
        store
            .complete_idempotency(&team, "k1", "{\"data\":1}")
            .await
            .expect("complete");
        assert_eq!(
            store
                .claim_idempotency(&team, "k1", "hash-a")
                .await
                .expect("claim"),
            Claim::Replay("{\"data\":1}".to_owned())
        );
        assert_eq!(
            store
                .claim_idempotency(&team, "k1", "hash-b")
                .await
                .expect("claim"),
            Claim::Mismatch
        );
        assert_eq!(
            store
                .claim_idempotency(&format!("other-{tag}"), "k1", "hash-b")
                .await
                .expect("claim"),
            Claim::Claimed,
            "keys are per team"
        );

        assert_eq!(
            store
                .claim_idempotency(&team, "k2", "hash-c")
                .await
                .expect("claim"),
            Claim::Claimed
        );
        store
            .release_idempotency(&team, "k2")
            .await
            .expect("release");
        assert_eq!(
            store
                .claim_idempotency(&team, "k2", "hash-d")
                .await
                .expect("claim"),
            Claim::Claimed
        );
    }
}

#[tokio::test]
async fn idempotency_keys_expire_after_their_ttl() {
    for (tag, store) in backends_keeping_keys(Duration::from_millis(20)).await {
        let team = format!("team-{tag}");
        assert_eq!(
            store
                .claim_idempotency(&team, "k", "hash-a")
                .await
                .expect("claim"),
            Claim::Claimed
        );
        store
            .complete_idempotency(&team, "k", "{}")
            .await
            .expect("complete");
        assert_eq!(
            store
                .claim_idempotency(&team, "k", "hash-b")
                .await
                .expect("claim"),
            Claim::Mismatch
        );
        tokio::time::sleep(Duration::from_millis(40)).await;
        assert_eq!(
            store
                .claim_idempotency(&team, "k", "hash-b")
                .await
                .expect("claim"),
            Claim::Claimed,
            "an expired key is free again"
        );
    }
}

#[tokio::test]
async fn groups_remember_creations_moves_and_removals() {
    for (tag, store) in backends().await {
        let account = format!("account-{tag}");
        store
            .record_group(
                &account,
                "Lab",
                "ops",
                &["PC-2".to_owned(), "PC-1".to_owned()],
            )
            .await
            .expect("created");
        store
            .record_group(&account, "Desk", "helpdesk", &["PC-3".to_owned()])
            .await
            .expect("created");
        store
            .record_group(&account, "Desk", "ops", &["PC-1".to_owned()])
            .await
            .expect("moved");
        store
            .forget_devices(&account, &["PC-3".to_owned()])
            .await
            .expect("forgotten");

        let groups = store.groups(&account).await.expect("listed");
        let summary: Vec<(&str, &str, Vec<&str>)> = groups
            .iter()
            .map(|group| {
                (
                    group.name.as_str(),
                    group.first_seen_by.as_str(),
                    group.members.iter().map(String::as_str).collect(),
                )
            })
            .collect();
        assert_eq!(
            summary,
            [
                ("Desk", "helpdesk", vec!["PC-1"]),
                ("Lab", "ops", vec!["PC-2"])
            ]
        );
        assert!(
            store
                .groups(&format!("elsewhere-{tag}"))
                .await
                .expect("listed")
                .is_empty()
        );
    }
}
