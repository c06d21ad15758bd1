//! The schema, in numbered steps applied once each, in order.

use sqlx::AnyPool;

use super::{StoreError, failed};

/// Each step's statements. Append new steps; never edit an applied one.
const STEPS: &[&[&str]] = &[
    &[
        "CREATE TABLE IF NOT EXISTS audit_log (
        id TEXT PRIMARY KEY,
        at_ms BIGINT NOT NULL,
        team TEXT NOT NULL,
        account TEXT NOT NULL,
        request_id TEXT NOT NULL,
        operation TEXT NOT NULL,
        input TEXT NOT NULL,
        outcome TEXT NOT NULL,
        result TEXT NOT NULL
    )",
        "CREATE INDEX IF NOT EXISTS audit_log_by_time ON audit_log (at_ms, id)",
        "CREATE TABLE IF NOT EXISTS idempotency_keys (
        team TEXT NOT NULL,
        idem_key TEXT NOT NULL,
        request_hash TEXT NOT NULL,
        response TEXT,
        created_ms BIGINT NOT NULL,
        expires_ms BIGINT NOT NULL,
        PRIMARY KEY (team, idem_key)
    )",
        "CREATE TABLE IF NOT EXISTS known_groups (
        account TEXT NOT NULL,
        name TEXT NOT NULL,
        created_ms BIGINT NOT NULL,
        created_by TEXT NOT NULL,
        PRIMARY KEY (account, name)
    )",
        "CREATE TABLE IF NOT EXISTS group_members (
        account TEXT NOT NULL,
        device TEXT NOT NULL,
        group_name TEXT NOT NULL,
        moved_ms BIGINT NOT NULL,
        PRIMARY KEY (account, device)
    )",
    ],
    // Audit records are written at a mutation's start and completed at its end;
    // the client's own request id is kept apart from the gateway's; expired
    // idempotency keys are swept by expiry.
    &[
        "ALTER TABLE audit_log ADD COLUMN client_request_id TEXT",
        "CREATE INDEX IF NOT EXISTS idempotency_keys_by_expiry ON idempotency_keys (expires_ms)",
    ],
    // Who acted: a person signed in through an identity provider, or a
    // team; older records were all teams.
    &[
        "ALTER TABLE audit_log ADD COLUMN actor_kind TEXT",
        "ALTER TABLE audit_log ADD COLUMN actor_subject TEXT",
        "ALTER TABLE audit_log ADD COLUMN actor_name TEXT",
        "ALTER TABLE audit_log ADD COLUMN actor_issuer TEXT",
        "ALTER TABLE audit_log ADD COLUMN actor_via TEXT",
        "UPDATE audit_log SET actor_kind = 'TEAM', actor_subject = team, actor_via = team WHERE actor_kind IS NULL",
        "CREATE INDEX IF NOT EXISTS audit_log_by_actor ON audit_log (account, actor_subject, at_ms)",
    ],
    // Changes observed between snapshots (and made through the gateway):
    // the history RemotePC does not keep. One row per item, kind and
    // millisecond, so replicas that observe the same change at the same
    // moment write it once.
    &[
        "CREATE TABLE IF NOT EXISTS live_events (
        account TEXT NOT NULL,
        collection TEXT NOT NULL,
        subject TEXT NOT NULL,
        kind TEXT NOT NULL,
        at_ms BIGINT NOT NULL,
        from_value TEXT,
        to_value TEXT,
        PRIMARY KEY (account, collection, subject, kind, at_ms)
    )",
        "CREATE INDEX IF NOT EXISTS live_events_by_time ON live_events (account, collection, at_ms)",
        "CREATE INDEX IF NOT EXISTS live_events_by_age ON live_events (at_ms)",
    ],
    // What RemotePC cannot list: the assignments and invitations made
    // through the gateway.
    &[
        "CREATE TABLE IF NOT EXISTS assignments (
        account TEXT NOT NULL,
        device TEXT NOT NULL,
        username TEXT NOT NULL,
        assigned_ms BIGINT NOT NULL,
        PRIMARY KEY (account, device, username)
    )",
        "CREATE TABLE IF NOT EXISTS invitations (
        account TEXT NOT NULL,
        email TEXT NOT NULL,
        invited_ms BIGINT NOT NULL,
        invited_by TEXT NOT NULL,
        PRIMARY KEY (account, email)
    )",
        "CREATE INDEX IF NOT EXISTS invitations_by_age ON invitations (invited_ms)",
    ],
    &[
        // Which process holds a claim, and until when: a claim whose lease
        // ran out belongs to a process that died.
        "ALTER TABLE idempotency_keys ADD COLUMN owner TEXT",
        "ALTER TABLE idempotency_keys ADD COLUMN lease_until_ms BIGINT",
    ],
    // The change log: each change at a position (`seq`) of its account's
    // log, taken under the account's head row so positions commit in
    // order on every replica; the item as the change left it; the last
    // state of every item, so a process that starts can tell what changed
    // while none watched. Rows kept from before are numbered in time order
    // and the log's floor is put after them: a resume cannot start inside
    // what was kept without positions.
    &[
        "ALTER TABLE live_events ADD COLUMN seq BIGINT",
        "ALTER TABLE live_events ADD COLUMN item TEXT",
        "UPDATE live_events SET seq = numbered.n FROM (
            SELECT account AS a, collection AS c, subject AS s, kind AS k, at_ms AS t,
                   ROW_NUMBER() OVER (PARTITION BY account ORDER BY at_ms, collection, subject, kind) AS n
            FROM live_events) AS numbered
         WHERE live_events.account = numbered.a AND live_events.collection = numbered.c
           AND live_events.subject = numbered.s AND live_events.kind = numbered.k
           AND live_events.at_ms = numbered.t",
        "CREATE INDEX IF NOT EXISTS live_events_by_seq ON live_events (account, seq)",
        "CREATE TABLE IF NOT EXISTS change_log_heads (
        account TEXT PRIMARY KEY,
        last_seq BIGINT NOT NULL,
        floor_seq BIGINT NOT NULL
    )",
        "INSERT INTO change_log_heads (account, last_seq, floor_seq)
         SELECT account, MAX(seq), MAX(seq) FROM live_events GROUP BY account",
        "CREATE TABLE IF NOT EXISTS live_state (
        account TEXT NOT NULL,
        collection TEXT NOT NULL,
        subject TEXT NOT NULL,
        item TEXT NOT NULL,
        PRIMARY KEY (account, collection, subject)
    )",
    ],
    // Approvals a person gives an assistant's destructive tool call: bound
    // to the person (issuer and `sub`), the account, the tool and its
    // arguments, and the idempotency key the write runs under; decided
    // once. The audit names the approval a write ran under.
    &[
        "CREATE TABLE IF NOT EXISTS mcp_approvals (
        id TEXT PRIMARY KEY,
        account TEXT NOT NULL,
        issuer TEXT NOT NULL,
        subject TEXT NOT NULL,
        tool TEXT NOT NULL,
        arguments TEXT NOT NULL,
        idem_key TEXT NOT NULL,
        created_ms BIGINT NOT NULL,
        expires_ms BIGINT NOT NULL,
        state TEXT NOT NULL,
        decided_ms BIGINT,
        outcome TEXT
    )",
        "CREATE INDEX IF NOT EXISTS mcp_approvals_by_expiry ON mcp_approvals (expires_ms)",
        "ALTER TABLE audit_log ADD COLUMN actor_approval TEXT",
    ],
];

/// Applies the steps not yet applied, all in one transaction. On
/// PostgreSQL an advisory lock makes replicas starting together take turns
/// (concurrent `CREATE TABLE IF NOT EXISTS` can fail there); SQLite
/// serializes writers by itself.
pub(super) async fn run(pool: &AnyPool, postgres: bool) -> Result<(), StoreError> {
    let mut transaction = pool.begin().await.map_err(failed("migrating"))?;
    if postgres {
        sqlx::query("SELECT pg_advisory_xact_lock(7305114)")
            .execute(&mut *transaction)
            .await
            .map_err(failed("locking for migration"))?;
    }
    sqlx::query("CREATE TABLE IF NOT EXISTS gateway_schema (version BIGINT NOT NULL)")
        .execute(&mut *transaction)
        .await
        .map_err(failed("creating the schema table"))?;
    let applied: Option<i64> = sqlx::query_scalar("SELECT MAX(version) FROM gateway_schema")
        .fetch_one(&mut *transaction)
        .await
        .map_err(failed("reading the schema version"))?;
    let applied = applied.unwrap_or(0);
    for (index, statements) in STEPS.iter().enumerate() {
        let version = index as i64 + 1;
        if version <= applied {
            continue;
        }
        for statement in *statements {
            sqlx::query(statement)
                .execute(&mut *transaction)
                .await
                .map_err(failed("migrating"))?;
        }
        sqlx::query("INSERT INTO gateway_schema (version) VALUES ($1)")
            .bind(version)
            .execute(&mut *transaction)
            .await
            .map_err(failed("migrating"))?;
    }
    transaction.commit().await.map_err(failed("migrating"))
}
