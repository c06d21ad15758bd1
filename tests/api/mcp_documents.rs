//! Tools from trusted documents: one per named operation of the caller's
//! manifest, typed from the schema, offered by scope, and held to the
//! trusted-documents policy like any `/graphql` request.

use remotepc_gateway::simulator::SimulatorConfig;
use remotepc_gateway::upstream::Endpoint;
use serde_json::json;

use crate::helpers::{spawn_gateway_with, team};
use crate::mcp::{call_tool, mcp_call, tool_names};

const FRONT_TOKEN: &str = "front-mcp-token-0123456789";
const VIEWER_TOKEN: &str = "viewer-mcp-token-0123456789";

fn manifest() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/trusted/codegen-persisted-documents.json")
}

#[tokio::test]
async fn each_named_operation_of_the_manifest_is_a_typed_tool_offered_by_scope() {
    let gateway = spawn_gateway_with(SimulatorConfig::default(), |settings| {
        settings.mcp.enabled = true;
        let mut front = team(FRONT_TOKEN, &["read", "computers:write"]);
        front.trusted_documents = Some(manifest());
        front.only_trusted_documents = true;
        settings.teams.insert("front".to_owned(), front);
        let mut viewer = team(VIEWER_TOKEN, &["read"]);
        viewer.trusted_documents = Some(manifest());
        settings.teams.insert("viewer".to_owned(), viewer);
    })
    .await;
    let front = tool_names(&gateway, FRONT_TOKEN).await;
    let from_documents: Vec<&String> = front.iter().skip(6).collect();
    assert_eq!(
        from_documents,
        ["AddComment", "DevicePanel", "Devices"],
        "{front:?}"
    );
    let viewer = tool_names(&gateway, VIEWER_TOKEN).await;
    assert_eq!(
        viewer[6..],
        ["DevicePanel", "Devices"],
        "no AddComment without computers:write"
    );

    let (_, _, listed) = mcp_call(&gateway, Some(FRONT_TOKEN), "tools/list", json!({})).await;
    let devices = (listed["result"]["tools"].as_array().into_iter().flatten())
        .find(|tool| tool["name"] == "Devices")
        .cloned()
        .unwrap_or_default();
    assert_eq!(
        devices["inputSchema"]["required"],
        json!(["first"]),
        "{devices}"
    );
    assert_eq!(
        devices["inputSchema"]["properties"]["first"],
        json!({ "type": "integer" })
    );
    assert_eq!(
        devices["outputSchema"]["properties"]["devices"]["properties"]["totalCount"],
        json!({ "type": "integer" })
    );
    assert_eq!(devices["annotations"]["readOnlyHint"], true);

    let (page, is_error) = call_tool(&gateway, FRONT_TOKEN, "Devices", json!({ "first": 2 })).await;
    assert!(!is_error, "{page}");
    assert_eq!(page["devices"]["totalCount"], 50, "{page}");
    assert_eq!(page["devices"]["edges"].as_array().map(Vec::len), Some(2));

    let name = gateway.devices_by_status(true)[0].clone();
    let (commented, is_error) = call_tool(
        &gateway,
        FRONT_TOKEN,
        "AddComment",
        json!({ "name": name, "comment": "Asked by an assistant" }),
    )
    .await;
    assert!(!is_error, "{commented}");
    let comment = gateway
        .sim
        .state(|state| state.device(&name).map(|device| device.comments.clone()));
    assert_eq!(comment.as_deref(), Some("Asked by an assistant"));
    assert_eq!(gateway.calls(Endpoint::CommentAdd), 1);

    // `front` runs only its documents: the built-in tools' operations are
    // not among them, and are refused as on /graphql.
    let (refused, is_error) = call_tool(&gateway, FRONT_TOKEN, "fleet_summary", json!({})).await;
    assert!(is_error);
    assert_eq!(
        refused["errors"][0]["code"], "OPERATION_NOT_TRUSTED",
        "{refused}"
    );
}
