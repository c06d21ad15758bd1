//! `inviteUsers`, `createUser`, `deleteUsers`: success, upstream refusal,
//! local validation.

use remotepc_gateway::simulator::Fault;
use remotepc_gateway::upstream::Endpoint;
use serde_json::{Value, json};

use crate::helpers::{TestGateway, error_code, spawn_gateway, upstream_descriptions, violations};

const INVITE: &str =
    "mutation($input: InviteUsersInput!) { inviteUsers(input: $input) { invited invalid } }";
const CREATE: &str = "mutation($input: CreateUserInput!) {
  createUser(input: $input) { user { username firstName lastName } } }";
const DELETE: &str = "mutation($input: DeleteUsersInput!) {
  deleteUsers(input: $input) { deletedCount results { email kind deleted } } }";

#[tokio::test]
async fn invite_users_invites_new_emails_and_reports_refused_ones() {
    let gateway = spawn_gateway().await;
    let existing = gateway.some_user();
    let response = gateway
        .gql(
            INVITE,
            json!({ "input": { "emails": ["new.person@example.com", existing], "twoFactor": true } }),
        )
        .await;

    assert_eq!(
        response["data"]["inviteUsers"],
        json!({ "invited": ["new.person@example.com"], "invalid": [existing] })
    );
    assert!(
        gateway
            .sim
            .state(|state| state.is_invited("new.person@example.com"))
    );
    let sent = &gateway.sim.requests(Endpoint::UserInvite)[0].body;
    assert_eq!(
        sent,
        &json!({ "email": ["new.person@example.com", existing], "status_2FA": 1 })
    );
}

#[tokio::test]
async fn invite_users_surfaces_the_upstream_refusal() {
    let gateway = spawn_gateway().await;
    let response = gateway
        .gql(
            INVITE,
            json!({ "input": { "emails": [gateway.some_user()] } }),
        )
        .await;
    assert_eq!(error_code(&response), "UPSTREAM_REJECTED");
    assert_eq!(
        upstream_descriptions(&response),
        ["Email is already in use or already invited."]
    );
    assert_eq!(
        response["errors"][0]["extensions"]["upstream"]["httpStatus"],
        400
    );
}

#[tokio::test]
async fn invite_users_refuses_bad_emails_without_calling_upstream() {
    let gateway = spawn_gateway().await;
    let empty = gateway
        .gql(INVITE, json!({ "input": { "emails": [] } }))
        .await;
    assert_eq!(error_code(&empty), "BAD_USER_INPUT");
    assert_eq!(
        violations(&empty),
        [("emails".into(), "must list at least one email".into())]
    );

    let bad = gateway
        .gql(
            INVITE,
            json!({ "input": { "emails": ["ok@example.com", "not-an-email", " "] } }),
        )
        .await;
    assert_eq!(
        violations(&bad),
        [
            ("emails[1]".into(), "Enter a valid Username/Email".into()),
            ("emails[2]".into(), "Username/Email cannot be blank".into()),
        ]
    );
    assert_eq!(gateway.calls(Endpoint::UserInvite), 0);
}

fn new_user() -> Value {
    json!({
        "firstName": "Grace",
        "lastName": "Hopper",
        "email": "grace.hopper@example.com",
        "password": "C0bol!rules",
        "twoFactor": false,
    })
}

#[tokio::test]
async fn create_user_creates_an_active_user() {
    let gateway = spawn_gateway().await;
    let response = gateway.gql(CREATE, json!({ "input": new_user() })).await;
    assert_eq!(
        response["data"]["createUser"]["user"],
        json!({ "username": "grace.hopper@example.com", "firstName": "Grace", "lastName": "Hopper" })
    );
    let created = gateway
        .sim
        .state(|state| state.user("grace.hopper@example.com").cloned());
    assert_eq!(
        created.map(|user| (user.firstname, user.two_factor)),
        Some(("Grace".into(), false))
    );
    let sent = &gateway.sim.requests(Endpoint::UserCreate)[0].body;
    assert_eq!(
        sent,
        &json!({ "firstname": "Grace", "lastname": "Hopper", "username": "grace.hopper@example.com",
                 "password": "C0bol!rules", "status_2FA": 0 })
    );
}

#[tokio::test]
async fn create_user_surfaces_a_duplicate_as_upstream_rejected() {
    let gateway = spawn_gateway().await;
    let mut input = new_user();
    input["email"] = json!(gateway.some_user());
    let response = gateway.gql(CREATE, json!({ "input": input })).await;
    assert_eq!(error_code(&response), "UPSTREAM_REJECTED");
    assert_eq!(
        upstream_descriptions(&response),
        ["Email is already in use or already invited."]
    );
}

async fn refused(gateway: &TestGateway, field: &str, value: Value) -> Vec<(String, String)> {
    let mut input = new_user();
    input[field] = value;
    let response = gateway.gql(CREATE, json!({ "input": input })).await;
    assert_eq!(error_code(&response), "BAD_USER_INPUT", "{response}");
    violations(&response)
}

#[tokio::test]
async fn create_user_applies_every_vendor_rule_locally() {
    let gateway = spawn_gateway().await;
    let cases = [
        ("firstName", json!(" "), "First name cannot be blank"),
        (
            "firstName",
            json!("Gr4ce"),
            "First name can contain a-z, A-Z and space",
        ),
        ("lastName", json!(""), "Last name cannot be blank"),
        (
            "lastName",
            json!("Hopper-Smith"),
            "Last name can contain a-z, A-Z and space",
        ),
        ("email", json!(""), "Username/Email cannot be blank"),
        ("email", json!("grace@"), "Enter a valid Username/Email"),
        ("password", json!(""), "Password cannot be blank"),
        (
            "password",
            json!("abc12"),
            "Password should be between 6 - 20 characters",
        ),
        (
            "password",
            json!("a".repeat(21)),
            "Password should be between 6 - 20 characters",
        ),
    ];
    for (field, value, rule) in cases {
        assert_eq!(
            refused(&gateway, field, value).await,
            [(field.to_owned(), rule.to_owned())]
        );
    }
    let charset = refused(&gateway, "password", json!("pass word")).await;
    assert!(
        charset[0].1.starts_with("Password can contain A-Z a-z 0-9"),
        "{charset:?}"
    );

    // twoFactor is a Boolean, so RemotePC's "Invalid two factor status" cannot
    // happen: anything but true/false fails GraphQL validation.
    let mut input = new_user();
    input["twoFactor"] = json!(2);
    let response = gateway.gql(CREATE, json!({ "input": input })).await;
    assert_eq!(error_code(&response), "BAD_USER_INPUT");
    assert_eq!(gateway.calls(Endpoint::UserCreate), 0);
}

#[tokio::test]
async fn delete_users_reports_each_email() {
    let gateway = spawn_gateway().await;
    let active = gateway.some_user();
    gateway
        .gql(
            INVITE,
            json!({ "input": { "emails": ["pending@example.com"] } }),
        )
        .await;

    let response = gateway
        .gql(
            DELETE,
            json!({ "input": { "activeUsers": [active, "ghost@example.com"], "invitedUsers": ["pending@example.com"] } }),
        )
        .await;

    assert_eq!(
        response["data"]["deleteUsers"],
        json!({
            "deletedCount": 2,
            "results": [
                { "email": active, "kind": "ACTIVE", "deleted": true },
                { "email": "ghost@example.com", "kind": "ACTIVE", "deleted": false },
                { "email": "pending@example.com", "kind": "INVITED", "deleted": true },
            ]
        })
    );
    assert!(
        gateway.sim.state(
            |state| state.user(&active).is_none() && !state.is_invited("pending@example.com")
        )
    );
}

#[tokio::test]
async fn delete_users_surfaces_the_upstream_refusal_and_validates_locally() {
    let gateway = spawn_gateway().await;
    gateway.sim.fail_next(
        Endpoint::UserDelete,
        Fault::Reject {
            status: 403,
            description: "Invalid user permission".into(),
        },
    );
    let refused = gateway
        .gql(
            DELETE,
            json!({ "input": { "activeUsers": [gateway.some_user()] } }),
        )
        .await;
    assert_eq!(error_code(&refused), "UPSTREAM_REJECTED");
    assert_eq!(upstream_descriptions(&refused), ["Invalid user permission"]);

    let calls_before = gateway.calls(Endpoint::UserDelete);
    let nothing = gateway.gql(DELETE, json!({ "input": {} })).await;
    assert_eq!(error_code(&nothing), "BAD_USER_INPUT");
    let bad = gateway
        .gql(DELETE, json!({ "input": { "invitedUsers": ["nope"] } }))
        .await;
    assert_eq!(
        violations(&bad),
        [(
            "invitedUsers[0]".into(),
            "Enter a valid Username/Email".into()
        )]
    );
    assert_eq!(gateway.calls(Endpoint::UserDelete), calls_before);
}
