//! `createGroup` and `moveComputersToGroup`.

use remotepc_gateway::upstream::Endpoint;
use serde_json::json;

use crate::helpers::{error_code, spawn_gateway, upstream_descriptions, violations};

const CREATE: &str = "mutation($input: CreateGroupInput!) {
  createGroup(input: $input) { group { name computerNames devices { name } } } }";
const MOVE: &str = "mutation($input: MoveComputersToGroupInput!) {
  moveComputersToGroup(input: $input) { group { name computerNames } } }";

#[tokio::test]
async fn create_group_then_move_computers_into_it() {
    let gateway = spawn_gateway().await;
    let names = gateway.devices_by_status(false);

    let created = gateway
        .gql(
            CREATE,
            json!({ "input": { "name": "Front office", "computerNames": [names[0]] } }),
        )
        .await;
    assert_eq!(
        created["data"]["createGroup"]["group"],
        json!({ "name": "Front office", "computerNames": [names[0]], "devices": [{ "name": names[0] }] })
    );
    assert_eq!(
        gateway.sim.requests(Endpoint::GroupCreate)[0].body,
        json!({ "group_name": "Front office", "computer_names": [names[0]] })
    );

    let moved = gateway
        .gql(MOVE, json!({ "input": { "groupName": "Front office", "computerNames": [names[1], names[2]] } }))
        .await;
    assert_eq!(
        moved["data"]["moveComputersToGroup"]["group"]["computerNames"],
        json!([names[1], names[2]])
    );
    let groups: Vec<Option<String>> = gateway.sim.state(|state| {
        names[..3]
            .iter()
            .map(|name| state.device(name).and_then(|d| d.group.clone()))
            .collect()
    });
    assert_eq!(groups, vec![Some("Front office".to_owned()); 3]);
}

#[tokio::test]
async fn group_refusals_come_from_upstream() {
    let gateway = spawn_gateway().await;
    let name = gateway.devices_by_status(false)[0].clone();
    gateway
        .gql(CREATE, json!({ "input": { "name": "Lab" } }))
        .await;

    let duplicate = gateway
        .gql(CREATE, json!({ "input": { "name": "Lab" } }))
        .await;
    assert_eq!(error_code(&duplicate), "UPSTREAM_REJECTED");
    assert_eq!(
        upstream_descriptions(&duplicate),
        ["Group name is already exists"]
    );

    let missing = gateway
        .gql(
            MOVE,
            json!({ "input": { "groupName": "Nope", "computerNames": [name] } }),
        )
        .await;
    assert_eq!(
        upstream_descriptions(&missing),
        ["Group name does not exists"]
    );
}

#[tokio::test]
async fn group_input_is_validated_locally() {
    let gateway = spawn_gateway().await;
    let blank = gateway
        .gql(CREATE, json!({ "input": { "name": "  " } }))
        .await;
    assert_eq!(
        violations(&blank),
        [("name".into(), "Group name cannot be blank".into())]
    );
    let no_computers = gateway
        .gql(
            MOVE,
            json!({ "input": { "groupName": "Lab", "computerNames": [] } }),
        )
        .await;
    assert_eq!(
        violations(&no_computers),
        [(
            "computerNames".into(),
            "Computer names are not found in the request".into()
        )]
    );
    assert_eq!(
        gateway.calls(Endpoint::GroupCreate) + gateway.calls(Endpoint::GroupMove),
        0
    );
}

#[tokio::test]
async fn groups_show_what_this_gateway_created_and_moved() {
    let gateway = spawn_gateway().await;
    let names = gateway.devices_by_status(false);
    gateway
        .gql(
            "mutation($n: [String!]!) { createGroup(input: { name: \"Front office\", computerNames: $n }) { group { name } } }",
            json!({ "n": [names[0]] }),
        )
        .await;
    gateway
        .gql(
            "mutation($n: [String!]!) { moveComputersToGroup(input: { groupName: \"Front office\", computerNames: $n }) { group { name } } }",
            json!({ "n": [names[1], names[2]] }),
        )
        .await;
    let groups = gateway
        .gql("{ groups { name computerNames firstSeenBy devices { name } } group(name: \"Front office\") { name } }", json!({}))
        .await;
    let mut expected = vec![names[0].clone(), names[1].clone(), names[2].clone()];
    expected.sort();
    assert_eq!(
        groups["data"]["groups"],
        json!([{
            "name": "Front office",
            "computerNames": expected,
            "firstSeenBy": "admin",
            "devices": expected.iter().map(|name| json!({ "name": name })).collect::<Vec<_>>(),
        }])
    );
    assert_eq!(groups["data"]["group"]["name"], "Front office");
}
