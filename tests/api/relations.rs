//! What RemotePC cannot list, as the gateway recorded it: assignments,
//! groups per device, pending invitations.

use std::time::Duration;

use serde_json::json;

use crate::helpers::{READER_TOKEN, spawn_gateway};

const ASSIGN: &str = "mutation($input: ComputerAssignmentInput!) { assignComputers(input: $input) { computerNames } }";
const UNASSIGN: &str = "mutation($input: ComputerAssignmentInput!) { unassignComputers(input: $input) { computerNames } }";

#[tokio::test]
async fn assignments_made_through_the_gateway_show_on_both_sides_until_undone() {
    let gateway = spawn_gateway().await;
    let user = gateway.some_user();
    let names: Vec<String> = gateway
        .devices_by_status(false)
        .into_iter()
        .take(2)
        .collect();
    let input = json!({"input": {"username": user, "computerNames": names}});
    let assigned = gateway.gql(ASSIGN, input.clone()).await;
    assert!(assigned["errors"].is_null(), "{assigned}");

    let user_side = gateway
        .gql_as(
            READER_TOKEN,
            "query($u: String!) { user(username: $u) { devices { name } } }",
            json!({"u": user}),
        )
        .await;
    let mut listed: Vec<&str> = user_side["data"]["user"]["devices"]
        .as_array()
        .unwrap_or_else(|| panic!("{user_side}"))
        .iter()
        .filter_map(|device| device["name"].as_str())
        .collect();
    listed.sort_unstable();
    let mut expected: Vec<&str> = names.iter().map(String::as_str).collect();
    expected.sort_unstable();
    assert_eq!(listed, expected);
    let device_side = gateway
        .gql(
            "query($n: String!) { device(name: $n) { assignedUsers { username } } }",
            json!({"n": names[0]}),
        )
        .await;
    assert_eq!(
        device_side["data"]["device"]["assignedUsers"],
        json!([{"username": user}]),
        "{device_side}"
    );

    let unassigned = gateway.gql(UNASSIGN, input).await;
    assert!(unassigned["errors"].is_null(), "{unassigned}");
    let after = gateway
        .gql(
            "query($n: String!) { device(name: $n) { assignedUsers { username } } }",
            json!({"n": names[0]}),
        )
        .await;
    assert_eq!(
        after["data"]["device"]["assignedUsers"],
        json!([]),
        "{after}"
    );
}

#[tokio::test]
async fn a_device_knows_the_group_the_gateway_moved_it_into() {
    let gateway = spawn_gateway().await;
    let names: Vec<String> = gateway
        .devices_by_status(true)
        .into_iter()
        .take(1)
        .collect();
    let created = gateway
        .gql(
            "mutation($n: [String!]!) { createGroup(input: { name: \"Reception\", computerNames: $n }) { group { name } } }",
            json!({"n": names}),
        )
        .await;
    assert!(created["errors"].is_null(), "{created}");
    let device = gateway
        .gql(
            "query($n: String!) { device(name: $n) { group { name computerNames } } }",
            json!({"n": names[0]}),
        )
        .await;
    assert_eq!(
        device["data"]["device"]["group"],
        json!({"name": "Reception", "computerNames": names})
    );
    let other = gateway.devices_by_status(true)[1].clone();
    let none = gateway
        .gql(
            "query($n: String!) { device(name: $n) { group { name } } }",
            json!({"n": other}),
        )
        .await;
    assert_eq!(none["data"]["device"]["group"], json!(null), "{none}");
}

#[tokio::test]
async fn invitations_are_pending_until_the_user_appears_or_is_deleted() {
    let gateway = spawn_gateway().await;
    let invite = "mutation($e: [String!]!) { inviteUsers(input: { emails: $e }) { invited } }";
    let invited = gateway
        .gql(
            invite,
            json!({"e": ["new.hire@example.com", "contractor@example.com"]}),
        )
        .await;
    assert!(invited["errors"].is_null(), "{invited}");
    let pending = "{ invitations { email invitedBy invitedAt } }";
    let listed = gateway.gql(pending, json!({})).await;
    let emails: Vec<&str> = listed["data"]["invitations"]
        .as_array()
        .unwrap_or_else(|| panic!("{listed}"))
        .iter()
        .filter_map(|invitation| invitation["email"].as_str())
        .collect();
    assert_eq!(emails.len(), 2, "{listed}");
    assert_eq!(listed["data"]["invitations"][0]["invitedBy"], "admin");

    gateway
        .sim
        .state(|state| state.accept_invitation("new.hire@example.com"));
    gateway.clock.advance(Duration::from_secs(31));
    let read = gateway
        .gql("{ users(refresh: true) { totalCount } }", json!({}))
        .await;
    assert!(read["errors"].is_null(), "{read}");
    let delete = "mutation { deleteUsers(input: { invitedUsers: [\"contractor@example.com\"] }) { deletedCount } }";
    let deleted = gateway.gql(delete, json!({})).await;
    assert!(deleted["errors"].is_null(), "{deleted}");
    let listed = gateway.gql(pending, json!({})).await;
    assert_eq!(listed["data"]["invitations"], json!([]), "{listed}");
}
