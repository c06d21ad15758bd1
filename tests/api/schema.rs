//! `schema.graphql` is the served schema.

#[test]
fn schema_graphql_matches_the_served_schema() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/schema.graphql");
    let served = remotepc_gateway::graphql::sdl();
    if std::env::var_os("UPDATE_SCHEMA").is_some() {
        std::fs::write(path, &served).expect("schema.graphql is writable");
    }
    let committed = std::fs::read_to_string(path).unwrap_or_default();
    assert!(
        committed == served,
        "schema.graphql differs from the served schema; run `UPDATE_SCHEMA=1 cargo test schema` \
         or `cargo run -- print-schema > schema.graphql` and commit it"
    );
}
