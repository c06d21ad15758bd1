//! The store on SQLite always, and on PostgreSQL when
//! `GATEWAY_TEST_POSTGRES_URL` is set (`.ci/run` sets it): the same code,
//! the same assertions.

use std::time::Duration;

use chrono::{TimeDelta, Utc};
use remotepc_gateway::clock::Clock;
use remotepc_gateway::settings::StoreSettings;
use remotepc_gateway::store::{AuditActor, AuditFilter, AuditRecord, Claim, Store};
use serde_json::json;

use crate::helpers::temp_store_path;

/// Every backend to test, with a tag unique to this run so rows of other
/// runs sharing a PostgreSQL database never match.
pub(crate) async fn backends() -> Vec<(String, Store)> {
    backends_keeping_keys(Duration::from_secs(60)).await
}

async fn backends_keeping_keys(idempotency_ttl: Duration) -> Vec<(String, Store)> {
    backends_with(StoreSettings {
        idempotency_ttl,
        ..StoreSettings::default()
    })
    .await
}

async fn backends_with(template: StoreSettings) -> Vec<(String, Store)> {
    backends_with_clock(template, Clock::system()).await
}

async fn backends_with_clock(template: StoreSettings, clock: Clock) -> Vec<(String, Store)> {
    let mut urls = vec![format!("sqlite://{}?mode=rwc", temp_store_path().display())];
    if let Ok(url) = std::env::var("GATEWAY_TEST_POSTGRES_URL") {
        urls.push(url);
    }
    let mut stores = Vec::new();
    for url in urls {
        let settings = StoreSettings {
            url: url.clone(),
            max_connections: 4,
            ..template.clone()
        };
        let opened = Store::open_with_clock(&settings, clock.clone()).await;
        let store = opened.unwrap_or_else(|error| {
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
        actor: AuditActor {
            kind: "TEAM".to_owned(),
            subject: team.to_owned(),
            name: None,
            issuer: None,
            via: team.to_owned(),
            approval: None,
        },
        account: format!("account-{tag}"),
        request_id: format!("request-{id}"),
        client_request_id: None,
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
            .complete_idempotency(&team, "k1", "{\"data\":1}", false)
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
    let clock = Clock::adjustable();
    let settings = StoreSettings {
        idempotency_ttl: Duration::from_secs(3600),
        ..StoreSettings::default()
    };
    for (tag, store) in backends_with_clock(settings, clock.clone()).await {
        let team = format!("team-{tag}");
        assert_eq!(
            store
                .claim_idempotency(&team, "k", "hash-a")
                .await
                .expect("claim"),
            Claim::Claimed
        );
        store
            .complete_idempotency(&team, "k", "{}", false)
            .await
            .expect("complete");
        assert_eq!(
            store
                .claim_idempotency(&team, "k", "hash-b")
                .await
                .expect("claim"),
            Claim::Mismatch
        );
        clock.advance(Duration::from_secs(3600));
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

#[tokio::test]
async fn an_abandoned_claim_is_answered_as_unknown_and_never_claimed_again_meanwhile() {
    let settings = StoreSettings {
        idempotency_abandoned_after: Duration::ZERO,
        idempotency_unknown_ttl: Duration::from_secs(60),
        ..StoreSettings::default()
    };
    for (tag, store) in backends_with(settings).await {
        let team = format!("team-{tag}");
        let claim = || store.claim_idempotency(&team, "k", "hash-a");
        assert_eq!(claim().await.expect("claim"), Claim::Claimed);
        assert_eq!(
            claim().await.expect("claim"),
            Claim::Abandoned,
            "a claim older than abandoned_after without a response"
        );
        store
            .complete_idempotency(&team, "k", "{\"unknown\":true}", true)
            .await
            .expect("recorded as unknown");
        assert_eq!(
            claim().await.expect("claim"),
            Claim::Replay("{\"unknown\":true}".to_owned())
        );
    }
}

#[tokio::test]
async fn an_unknown_outcome_frees_its_key_after_the_unknown_ttl_only() {
    let settings = StoreSettings {
        idempotency_unknown_ttl: Duration::ZERO,
        ..StoreSettings::default()
    };
    for (tag, store) in backends_with(settings).await {
        let team = format!("team-{tag}");
        for (key, unknown) in [("known", false), ("unknown", true)] {
            assert_eq!(
                store
                    .claim_idempotency(&team, key, "h")
                    .await
                    .expect("claim"),
                Claim::Claimed
            );
            store
                .complete_idempotency(&team, key, "{}", unknown)
                .await
                .expect("complete");
        }
        assert_eq!(
            store
                .claim_idempotency(&team, "known", "h")
                .await
                .expect("claim"),
            Claim::Replay("{}".to_owned()),
            "a known outcome stays for idempotency_ttl"
        );
        assert_eq!(
            store
                .claim_idempotency(&team, "unknown", "h")
                .await
                .expect("claim"),
            Claim::Claimed,
            "an unknown outcome is kept for idempotency_unknown_ttl (0 here)"
        );
    }
}

#[tokio::test]
async fn the_sweep_deletes_expired_keys_and_keeps_live_ones() {
    for (tag, store) in backends_keeping_keys(Duration::ZERO).await {
        let team = format!("team-{tag}");
        for key in ["a", "b", "c"] {
            store
                .claim_idempotency(&team, key, "h")
                .await
                .expect("claim");
            store
                .complete_idempotency(&team, key, "{\"body\":\"large\"}", false)
                .await
                .expect("complete");
        }
        assert!(store.sweep().await.expect("swept") >= 3);
        assert_eq!(store.sweep().await.expect("swept again"), 0);
    }
    for (tag, store) in backends().await {
        let team = format!("team-{tag}");
        store
            .claim_idempotency(&team, "live", "h")
            .await
            .expect("claim");
        store.sweep().await.expect("swept");
        assert_eq!(
            store
                .claim_idempotency(&team, "live", "h")
                .await
                .expect("claim"),
            Claim::InProgress,
            "a live key survives the sweep"
        );
    }
}

#[tokio::test]
async fn an_audit_record_is_started_then_completed_or_abandoned_as_unknown() {
    for (tag, store) in backends().await {
        let filter = AuditFilter {
            account: Some(format!("account-{tag}")),
            ..AuditFilter::default()
        };
        let outcomes = || async {
            let mut records = store.audit_records(&filter, None, 10).await.expect("read");
            records.sort_by(|a, b| a.id.cmp(&b.id));
            records
                .into_iter()
                .map(|record| (record.id, record.outcome))
                .collect::<Vec<_>>()
        };
        let finished = record(&tag, "1", "ops", "createUser", 0);
        let abandoned = record(&tag, "2", "ops", "removeComputers", 0);
        store.begin_audit(&finished).await.expect("begun");
        store.begin_audit(&abandoned).await.expect("begun");
        assert_eq!(
            outcomes().await,
            [
                (finished.id.clone(), "STARTED".to_owned()),
                (abandoned.id.clone(), "STARTED".to_owned())
            ],
            "written before the mutation runs"
        );
        store
            .finish_audit(&finished.id, "OK", &json!({ "done": true }))
            .await
            .expect("finished");
        assert_eq!(store.abandon_open_audits("stopping").await, 1);
        assert_eq!(
            outcomes().await,
            [
                (finished.id.clone(), "OK".to_owned()),
                (abandoned.id.clone(), "OUTCOME_UNKNOWN".to_owned())
            ]
        );
    }
}
