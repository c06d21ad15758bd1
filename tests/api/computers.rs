//! `assignComputers`, `unassignComputers`, `removeComputers`,
//! `addComputerComment`: success, upstream refusal, local validation.

use remotepc_gateway::simulator::SimulatorConfig;
use remotepc_gateway::upstream::Endpoint;
use serde_json::json;

use crate::helpers::{
    error_code, spawn_gateway, spawn_gateway_with, upstream_descriptions, violations,
};

const ASSIGN: &str = "mutation($input: ComputerAssignmentInput!) {
  assignComputers(input: $input) { username computerNames } }";
const UNASSIGN: &str = "mutation($input: ComputerAssignmentInput!) {
  unassignComputers(input: $input) { username computerNames } }";
const REMOVE: &str = "mutation($names: [String!]!) {
  removeComputers(input: { computerNames: $names }) {
    removedCount results { computerName removed error { code message descriptions outcomeUnknown } } } }";
const COMMENT: &str = "mutation($input: AddComputerCommentInput!) {
  addComputerComment(input: $input) { computerName comment } }";

#[tokio::test]
async fn assign_then_unassign_changes_the_users_computers() {
    let gateway = spawn_gateway().await;
    let user = gateway.some_user();
    let names: Vec<String> = gateway
        .devices_by_status(false)
        .into_iter()
        .take(2)
        .collect();

    let assigned = gateway
        .gql(
            ASSIGN,
            json!({ "input": { "username": user, "computerNames": names } }),
        )
        .await;
    assert_eq!(
        assigned["data"]["assignComputers"],
        json!({ "username": user, "computerNames": names })
    );
    let holders = |gateway: &crate::helpers::TestGateway| {
        gateway.sim.state(|state| {
            names
                .iter()
                .map(|name| {
                    state
                        .device(name)
                        .is_some_and(|device| device.assigned_to.contains(&user))
                })
                .collect::<Vec<_>>()
        })
    };
    assert_eq!(holders(&gateway), [true, true]);
    assert_eq!(
        gateway.sim.requests(Endpoint::ComputerAssign)[0].body,
        json!({ "username": user, "computer_names": names })
    );

    let unassigned = gateway
        .gql(
            UNASSIGN,
            json!({ "input": { "username": user, "computerNames": [names[0]] } }),
        )
        .await;
    assert_eq!(
        unassigned["data"]["unassignComputers"]["computerNames"],
        json!([names[0]])
    );
    assert_eq!(holders(&gateway), [false, true]);
}

#[tokio::test]
async fn assignment_to_a_missing_user_or_computer_is_not_found_with_the_names() {
    let gateway = spawn_gateway().await;
    let device = gateway.devices_by_status(false)[0].clone();
    let unknown_user = gateway
        .gql(
            ASSIGN,
            json!({ "input": { "username": "nobody@example.com", "computerNames": [device] } }),
        )
        .await;
    assert_eq!(error_code(&unknown_user), "NOT_FOUND");
    assert_eq!(
        unknown_user["errors"][0]["extensions"]["names"],
        json!(["nobody@example.com", device])
    );
    assert_eq!(upstream_descriptions(&unknown_user), ["User not found"]);
    assert_eq!(
        unknown_user["errors"][0]["extensions"]["upstream"]["httpStatus"],
        404
    );

    let unknown_computer = gateway
        .gql(
            UNASSIGN,
            json!({ "input": { "username": gateway.some_user(), "computerNames": ["NO-SUCH-PC"] } }),
        )
        .await;
    assert_eq!(error_code(&unknown_computer), "NOT_FOUND");
    assert_eq!(
        upstream_descriptions(&unknown_computer),
        ["Computer(s) not found"]
    );
}

#[tokio::test]
async fn assignment_input_is_validated_locally() {
    let gateway = spawn_gateway().await;
    for mutation in [ASSIGN, UNASSIGN] {
        let blank = gateway
            .gql(
                mutation,
                json!({ "input": { "username": " ", "computerNames": [] } }),
            )
            .await;
        assert_eq!(
            violations(&blank),
            [
                ("username".into(), "Username is required".into()),
                (
                    "computerNames".into(),
                    "Computer names are not found in the request".into()
                ),
            ]
        );
        let blank_name = gateway
            .gql(
                mutation,
                json!({ "input": { "username": "a@example.com", "computerNames": ["PC", ""] } }),
            )
            .await;
        assert_eq!(
            violations(&blank_name),
            [(
                "computerNames[1]".into(),
                "Computer name cannot be blank".into()
            )]
        );
    }
    assert_eq!(
        gateway.calls(Endpoint::ComputerAssign) + gateway.calls(Endpoint::ComputerUnassign),
        0
    );
}

#[tokio::test]
async fn removing_120_computers_takes_three_calls_and_reports_each() {
    let gateway = spawn_gateway_with(
        SimulatorConfig {
            devices: 400,
            ..SimulatorConfig::default()
        },
        |_| {},
    )
    .await;
    let names: Vec<String> = gateway
        .devices_by_status(false)
        .into_iter()
        .take(120)
        .collect();

    let response = gateway.gql(REMOVE, json!({ "names": names })).await;

    assert_eq!(
        response["data"]["removeComputers"]["removedCount"], 120,
        "{response}"
    );
    let sizes: Vec<usize> = gateway
        .sim
        .requests(Endpoint::ComputerRemove)
        .iter()
        .map(|call| call.body["computer_names"].as_array().map_or(0, Vec::len))
        .collect();
    assert_eq!(sizes, [50, 50, 20]);
    assert!(
        gateway
            .sim
            .state(|state| names.iter().all(|name| state.device(name).is_none()))
    );
}

#[tokio::test]
async fn a_refused_removal_batch_fails_only_its_own_computers() {
    let gateway = spawn_gateway_with(SimulatorConfig::default(), |settings| {
        settings.upstream.remove_batch_size = 2;
    })
    .await;
    let offline = gateway.devices_by_status(false);
    let online = gateway.devices_by_status(true);
    let names = [offline[0].clone(), online[0].clone(), offline[1].clone()];

    let response = gateway.gql(REMOVE, json!({ "names": names })).await;

    let results = &response["data"]["removeComputers"]["results"];
    assert_eq!(
        response["data"]["removeComputers"]["removedCount"], 1,
        "{response}"
    );
    for index in [0, 1] {
        assert_eq!(results[index]["removed"], false);
        assert_eq!(results[index]["error"]["code"], "UPSTREAM_REJECTED");
        assert_eq!(
            results[index]["error"]["descriptions"],
            json!(["Only offline computers can be removed"])
        );
        assert_eq!(results[index]["error"]["outcomeUnknown"], false);
    }
    assert_eq!(
        results[2],
        json!({ "computerName": names[2], "removed": true, "error": null })
    );
    assert!(
        gateway
            .sim
            .state(|state| state.device(&names[0]).is_some() && state.device(&names[2]).is_none())
    );
}

#[tokio::test]
async fn removing_nothing_is_refused_locally() {
    let gateway = spawn_gateway().await;
    let response = gateway.gql(REMOVE, json!({ "names": [] })).await;
    assert_eq!(
        violations(&response),
        [(
            "computerNames".into(),
            "Computer names are not found in the request".into()
        )]
    );
    assert_eq!(gateway.calls(Endpoint::ComputerRemove), 0);
}

#[tokio::test]
async fn add_computer_comment_sets_the_comment() {
    let gateway = spawn_gateway().await;
    let name = gateway.devices_by_status(true)[0].clone();
    let response = gateway
        .gql(
            COMMENT,
            json!({ "input": { "computerName": name, "comment": "Front desk, 2nd floor" } }),
        )
        .await;
    assert_eq!(
        response["data"]["addComputerComment"],
        json!({ "computerName": name, "comment": "Front desk, 2nd floor" })
    );
    assert_eq!(
        gateway
            .sim
            .state(|state| state.device(&name).map(|device| device.comments.clone())),
        Some("Front desk, 2nd floor".to_owned())
    );
    assert_eq!(
        gateway.sim.requests(Endpoint::CommentAdd)[0].body,
        json!({ "computer_name": name, "comment_desc": "Front desk, 2nd floor" })
    );
}

#[tokio::test]
async fn comment_on_an_unknown_computer_is_not_found() {
    let gateway = spawn_gateway().await;
    let response = gateway
        .gql(
            COMMENT,
            json!({ "input": { "computerName": "NO-SUCH-PC", "comment": "hello there" } }),
        )
        .await;
    assert_eq!(error_code(&response), "NOT_FOUND");
    assert_eq!(
        response["errors"][0]["extensions"]["names"],
        json!(["NO-SUCH-PC"])
    );
    assert_eq!(upstream_descriptions(&response), ["Computer(s) not found"]);
}

#[tokio::test]
async fn comment_input_is_validated_locally() {
    let gateway = spawn_gateway().await;
    let cases = [
        ("PC", "   ", "comment", "Comment can not be blank"),
        (
            "PC",
            "short",
            "comment",
            "Comments length should be between 6 to 250",
        ),
        (
            "PC",
            &"x".repeat(251),
            "comment",
            "Comments length should be between 6 to 250",
        ),
        (
            " ",
            "long enough",
            "computerName",
            "Computer name cannot be blank",
        ),
    ];
    for (name, comment, field, rule) in cases {
        let response = gateway
            .gql(
                COMMENT,
                json!({ "input": { "computerName": name, "comment": comment } }),
            )
            .await;
        assert_eq!(violations(&response), [(field.to_owned(), rule.to_owned())]);
    }
    assert_eq!(gateway.calls(Endpoint::CommentAdd), 0);
}
