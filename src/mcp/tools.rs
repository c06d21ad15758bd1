//! The built-in tools as data: each one's name, description, input
//! schema, the scope it needs, whether a person must approve it, and the
//! GraphQL operation it runs (through admission, as any `/graphql`
//! request). Arguments become that operation's variables unchanged, so
//! GraphQL's own coercion checks them and names the field at fault.

use serde_json::{Value, json};

use crate::auth::Scope;

/// What a tool does to the fleet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Effect {
    /// Reads from the snapshots.
    Read,
    /// Removes or takes away: runs only once the person approves.
    Destructive,
}

/// One built-in tool.
pub(super) struct BuiltIn {
    pub(super) name: &'static str,
    pub(super) title: &'static str,
    pub(super) description: &'static str,
    pub(super) scope: Scope,
    pub(super) effect: Effect,
    /// Its input schema's `properties` and `required`.
    pub(super) input: fn() -> Value,
    /// The operation it runs; its variables are the tool's arguments.
    pub(super) document: &'static str,
    /// Where the answer's list is in `data`, when it has one that pages
    /// (cut to fit `mcp.max_result_tokens`).
    pub(super) list: Option<&'static [&'static str]>,
}

/// Every built-in tool, in the order they are listed.
pub(super) const BUILT_IN: &[BuiltIn] = &[
    BuiltIn {
        name: "search_devices",
        title: "Search devices",
        description: "Devices (computers) of the account matching a filter, with the total count first, then one page (25 by default, at most 100). Pass `after: nextCursor` for the next page. Served from the gateway's snapshot of RemotePC.",
        scope: Scope::Read,
        effect: Effect::Read,
        input: search_devices_input,
        document: "query McpSearchDevices($filter: DeviceFilter, $orderBy: DeviceOrder, $first: Int = 25, $after: String) { devices(filter: $filter, orderBy: $orderBy, first: $first, after: $after) { totalCount pageInfo { hasNextPage endCursor } edges { cursor node { name status os osVersion ip comment lastSessionAt group { name } } } } }",
        list: Some(&["devices", "edges"]),
    },
    BuiltIn {
        name: "search_users",
        title: "Search users",
        description: "Users of the account whose username, first, last or full name contains `search` (every user when absent), total count first, then one page (25 by default, at most 100). Pass `after: nextCursor` for the next page.",
        scope: Scope::Read,
        effect: Effect::Read,
        input: search_users_input,
        document: "query McpSearchUsers($filter: UserFilter, $first: Int = 25, $after: String) { users(filter: $filter, first: $first, after: $after) { totalCount pageInfo { hasNextPage endCursor } edges { cursor node { username firstName lastName devices { name } } } } }",
        list: Some(&["users", "edges"]),
    },
    BuiltIn {
        name: "get_device",
        title: "Get a device",
        description: "One device by its exact host name, with its group and assigned users; null when there is none.",
        scope: Scope::Read,
        effect: Effect::Read,
        input: get_device_input,
        document: "query McpGetDevice($name: String!) { device(name: $name) { name machineId status os osVersion ip comment lastSessionAt lastSessionRaw group { name } assignedUsers { username } } }",
        list: None,
    },
    BuiltIn {
        name: "get_user",
        title: "Get a user",
        description: "One user by username (email, any case), with the devices assigned through this gateway; null when there is none.",
        scope: Scope::Read,
        effect: Effect::Read,
        input: get_user_input,
        document: "query McpGetUser($username: String!) { user(username: $username) { username firstName lastName devices { name status } } }",
        list: None,
    },
    BuiltIn {
        name: "fleet_summary",
        title: "Fleet summary",
        description: "Counts of the devices a filter selects (every device when absent) by status, OS family, group and last-seen bucket (ONLINE, WITHIN_DAY, WITHIN_WEEK, WITHIN_MONTH, OVER_MONTH, NEVER). Answers 'how many are offline for more than a week' without listing them.",
        scope: Scope::Read,
        effect: Effect::Read,
        input: fleet_summary_input,
        document: "query McpFleetSummary($filter: DeviceFilter) { fleetSummary(filter: $filter) { total byStatus { status count } byOs { os count } otherOsCount byGroup { group { name } count } otherGroupCount byLastSeen { bucket count } } }",
        list: None,
    },
    BuiltIn {
        name: "device_history",
        title: "Device history",
        description: "What the gateway observed happen to one device (status changes, comments, sessions), newest first, one page (25 by default, at most 100). RemotePC keeps no history: this is what the gateway saw while it ran.",
        scope: Scope::Read,
        effect: Effect::Read,
        input: device_history_input,
        document: "query McpDeviceHistory($name: String!, $first: Int = 25, $after: String) { device(name: $name) { name history(first: $first, after: $after) { pageInfo { hasNextPage endCursor } edges { cursor node { at kind from to } } } } }",
        list: Some(&["device", "history", "edges"]),
    },
    BuiltIn {
        name: "remove_computers",
        title: "Remove computers",
        description: "Removes offline computers from the account. Needs a person's approval: the answer is a link the person opens to see exactly which computers and approve or decline; nothing is removed before that.",
        scope: Scope::ComputersWrite,
        effect: Effect::Destructive,
        input: computer_names_input,
        document: "mutation McpRemoveComputers($computerNames: [String!]!) { removeComputers(input: { computerNames: $computerNames }) { removedCount results { computerName removed error { code message } } } }",
        list: None,
    },
    BuiltIn {
        name: "delete_users",
        title: "Delete users",
        description: "Deletes active users and cancels invitations, by email. Needs a person's approval: the answer is a link the person opens to see exactly which users and approve or decline; nothing is deleted before that.",
        scope: Scope::UsersWrite,
        effect: Effect::Destructive,
        input: delete_users_input,
        document: "mutation McpDeleteUsers($activeUsers: [String!]! = [], $invitedUsers: [String!]! = []) { deleteUsers(input: { activeUsers: $activeUsers, invitedUsers: $invitedUsers }) { deletedCount results { email kind deleted } } }",
        list: None,
    },
    BuiltIn {
        name: "unassign_computers",
        title: "Unassign computers",
        description: "Takes computers away from a user. Needs a person's approval: the answer is a link the person opens to see exactly what changes and approve or decline.",
        scope: Scope::ComputersWrite,
        effect: Effect::Destructive,
        input: unassign_input,
        document: "mutation McpUnassignComputers($username: String!, $computerNames: [String!]!) { unassignComputers(input: { username: $username, computerNames: $computerNames }) { username computerNames } }",
        list: None,
    },
    BuiltIn {
        name: "move_computers_to_group",
        title: "Move computers to a group",
        description: "Moves computers into an existing group (out of the group they are in). Needs a person's approval: the answer is a link the person opens to see exactly what moves and approve or decline.",
        scope: Scope::GroupsWrite,
        effect: Effect::Destructive,
        input: move_input,
        document: "mutation McpMoveComputersToGroup($groupName: String!, $computerNames: [String!]!) { moveComputersToGroup(input: { groupName: $groupName, computerNames: $computerNames }) { group { name computerNames } } }",
        list: None,
    },
];

/// The built-in tool named `name`.
pub(super) fn built_in(name: &str) -> Option<&'static BuiltIn> {
    BUILT_IN.iter().find(|tool| tool.name == name)
}

fn schema(properties: Value, required: &[&str]) -> Value {
    json!({
        "type": "object",
        "properties": properties,
        "required": required,
        "additionalProperties": false,
    })
}

fn page_properties() -> Value {
    json!({
        "first": { "type": "integer", "minimum": 1, "maximum": 100, "description": "Page size (default 25)." },
        "after": { "type": "string", "description": "The `nextCursor` of the previous page." },
    })
}

fn merged(mut into: Value, more: Value) -> Value {
    if let (Some(into), Value::Object(more)) = (into.as_object_mut(), more) {
        into.extend(more);
    }
    into
}

fn device_filter_schema() -> Value {
    let instant = |what: &str| json!({ "type": "string", "description": format!("{what} RFC 3339 (2026-03-01T09:30:00Z), or a date (2026-03-01) read in the account's time zone.") });
    json!({
        "type": "object",
        "description": "Every condition given must hold.",
        "properties": {
            "nameContains": { "type": "string", "description": "Host name contains this, ignoring case." },
            "status": { "type": "string", "enum": ["ONLINE", "OFFLINE", "UNKNOWN"] },
            "os": { "type": "string", "description": "OS family, e.g. Windows, ignoring case." },
            "commentContains": { "type": "string", "description": "Comment contains this, ignoring case." },
            "lastSessionBefore": instant("Last session strictly before this time:"),
            "lastSessionAfter": instant("Last session strictly after this time:"),
            "offlineSince": instant("Offline since this time or earlier (\"offline for more than 7 days\"):"),
            "onlineSince": instant("Online since this time or earlier:"),
        },
        "additionalProperties": false,
    })
}

fn search_devices_input() -> Value {
    let order = json!({
        "type": "object",
        "properties": {
            "field": { "type": "string", "enum": ["NAME", "LAST_SESSION", "STATUS", "OS"] },
            "direction": { "type": "string", "enum": ["ASC", "DESC"] },
        },
        "additionalProperties": false,
    });
    let own = json!({ "filter": device_filter_schema(), "orderBy": order });
    schema(merged(own, page_properties()), &[])
}

fn search_users_input() -> Value {
    let own = json!({ "filter": {
        "type": "object",
        "properties": { "search": { "type": "string", "description": "Username, first, last or full name contains this, ignoring case." } },
        "additionalProperties": false,
    }});
    schema(merged(own, page_properties()), &[])
}

fn get_device_input() -> Value {
    schema(
        json!({ "name": { "type": "string", "description": "The host name." } }),
        &["name"],
    )
}

fn get_user_input() -> Value {
    schema(
        json!({ "username": { "type": "string", "description": "The email." } }),
        &["username"],
    )
}

fn fleet_summary_input() -> Value {
    schema(json!({ "filter": device_filter_schema() }), &[])
}

fn device_history_input() -> Value {
    let own = json!({ "name": { "type": "string", "description": "The host name." } });
    schema(merged(own, page_properties()), &["name"])
}

fn names(what: &str) -> Value {
    json!({ "type": "array", "items": { "type": "string" }, "minItems": 1, "description": what })
}

fn computer_names_input() -> Value {
    schema(
        json!({ "computerNames": names("Host names of offline computers.") }),
        &["computerNames"],
    )
}

fn delete_users_input() -> Value {
    let list =
        |what: &str| json!({ "type": "array", "items": { "type": "string" }, "description": what });
    schema(
        json!({
            "activeUsers": list("Emails of active users to delete."),
            "invitedUsers": list("Emails of pending invitations to cancel."),
        }),
        &[],
    )
}

fn unassign_input() -> Value {
    schema(
        json!({
            "username": { "type": "string", "description": "The user's email." },
            "computerNames": names("Host names of the computers."),
        }),
        &["username", "computerNames"],
    )
}

fn move_input() -> Value {
    schema(
        json!({
            "groupName": { "type": "string", "description": "An existing group." },
            "computerNames": names("Host names of the computers."),
        }),
        &["groupName", "computerNames"],
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_tool_has_a_distinct_name_and_an_object_schema() {
        let mut names: Vec<_> = BUILT_IN.iter().map(|tool| tool.name).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), BUILT_IN.len());
        for tool in BUILT_IN {
            assert_eq!((tool.input)()["type"], "object", "{}", tool.name);
        }
    }
}
