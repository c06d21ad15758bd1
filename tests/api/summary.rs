//! `fleetSummary`: counts by status, OS family, group and last-seen bucket,
//! checked against the simulator's own devices.

use chrono::{TimeDelta, Utc};
use remotepc_gateway::upstream::Endpoint;
use serde_json::{Value, json};

use crate::helpers::spawn_gateway;

const SUMMARY: &str = "query($filter: DeviceFilter) {
  fleetSummary(filter: $filter) {
    total
    byStatus { status count }
    byOs { os count }
    otherOsCount
    byGroup { group { name } count }
    otherGroupCount
    byLastSeen { bucket count }
  }
}";

/// A device's name, whether it is online, and its last-seen bucket.
type SeenDevice = (String, bool, &'static str);

/// Days ago of each device's last session, by its index; `None`: never.
fn days_ago(index: usize) -> Option<i64> {
    [Some(0), Some(3), Some(10), Some(45), None][index % 5]
}

/// Which bucket a device of this index falls in, by the rule the API
/// documents: online now, else by the start of its last session.
fn bucket(index: usize, online: bool) -> &'static str {
    match (online, days_ago(index)) {
        (true, _) => "ONLINE",
        (false, Some(0)) => "WITHIN_DAY",
        (false, Some(3)) => "WITHIN_WEEK",
        (false, Some(10)) => "WITHIN_MONTH",
        (false, Some(_)) => "OVER_MONTH",
        (false, None) => "NEVER",
    }
}

#[tokio::test]
async fn fleet_summary_counts_what_the_simulator_holds_without_a_call_of_its_own() {
    let gateway = spawn_gateway().await;
    // Known sessions, OS families written in two cases, one in three online.
    let devices: Vec<SeenDevice> = gateway.sim.state(|state| {
        let now = Utc::now();
        let names: Vec<String> = state.devices().map(|d| d.host_name.clone()).collect();
        names
            .iter()
            .enumerate()
            .map(|(index, name)| {
                let device = state.device_mut(name).expect("a seeded device");
                device.online = index % 3 == 0;
                device.os = ["Windows", "windows", "macOS", ""][index % 4].to_owned();
                device.last_session = days_ago(index).map_or_else(String::new, |days| {
                    let at = now - TimeDelta::days(days) - TimeDelta::hours(2);
                    at.format("%Y-%m-%d %H:%M:%S").to_string()
                });
                (name.clone(), device.online, bucket(index, device.online))
            })
            .collect()
    });
    let offline: Vec<&String> = devices.iter().filter(|d| !d.1).map(|d| &d.0).collect();
    let created = gateway
        .gql(
            "mutation($n: [String!]!) { createGroup(input: { name: \"Finance\", computerNames: $n }) { group { name } } }",
            json!({ "n": [offline[0]] }),
        )
        .await;
    assert_eq!(
        created["data"]["createGroup"]["group"]["name"], "Finance",
        "{created}"
    );
    let moved = gateway
        .gql(
            "mutation($n: [String!]!) { moveComputersToGroup(input: { groupName: \"Finance\", computerNames: $n }) { group { name } } }",
            json!({ "n": [offline[1], offline[2]] }),
        )
        .await;
    assert_eq!(
        moved["data"]["moveComputersToGroup"]["group"]["name"], "Finance",
        "{moved}"
    );

    let all = gateway.gql(SUMMARY, json!({})).await;
    let expected = expected_summary(&devices, |_| true, 3);
    assert_eq!(all["data"], json!({ "fleetSummary": expected }), "{all}");
    assert_eq!(all.get("errors"), None, "{all}");
    let lists_before = gateway.calls(Endpoint::ComputerList);

    let offline_only = gateway
        .gql(SUMMARY, json!({ "filter": { "status": "OFFLINE" } }))
        .await;
    let expected = expected_summary(&devices, |online| !online, 3);
    assert_eq!(
        offline_only["data"],
        json!({ "fleetSummary": expected }),
        "{offline_only}"
    );
    assert_eq!(
        offline_only["extensions"]["cache"]["devices"]["stale"],
        false
    );

    let windows = gateway
        .gql(
            SUMMARY,
            json!({ "filter": { "os": "WINDOWS", "status": "ONLINE" } }),
        )
        .await;
    let online_windows = (devices.iter().enumerate())
        .filter(|(index, device)| device.1 && index % 4 < 2)
        .count();
    assert_eq!(
        windows["data"]["fleetSummary"]["total"], online_windows,
        "{windows}"
    );
    assert_eq!(
        windows["data"]["fleetSummary"]["byOs"],
        json!([{ "os": "Windows", "count": online_windows }])
    );
    assert_eq!(
        gateway.calls(Endpoint::ComputerList),
        lists_before,
        "later summaries are counted from the snapshot the first one read"
    );
}

#[tokio::test]
async fn fleet_summary_names_the_field_a_filter_refuses() {
    let gateway = spawn_gateway().await;
    let bad = gateway
        .gql(
            SUMMARY,
            json!({ "filter": { "lastSessionAfter": "yesterday" } }),
        )
        .await;
    assert_eq!(bad["data"], json!({ "fleetSummary": null }), "{bad}");
    assert_eq!(
        bad["errors"][0]["extensions"]["code"], "BAD_USER_INPUT",
        "{bad}"
    );
    assert_eq!(bad["errors"][0]["path"], json!(["fleetSummary"]), "{bad}");
    let message = bad["errors"][0]["message"].as_str().unwrap_or_default();
    assert!(
        message.starts_with("`filter.lastSessionAfter` is not a date-time; send RFC 3339"),
        "names the field and the rule: {bad}"
    );
    assert_eq!(
        gateway.calls(Endpoint::ComputerList),
        0,
        "refused before RemotePC is asked"
    );
}

/// The summary of the devices whose online flag `selects`, with
/// `in_finance` offline devices moved into "Finance".
fn expected_summary(
    devices: &[SeenDevice],
    selects: impl Fn(bool) -> bool,
    in_finance: usize,
) -> Value {
    let chosen: Vec<(usize, &SeenDevice)> = devices
        .iter()
        .enumerate()
        .filter(|(_, d)| selects(d.1))
        .collect();
    let count = |test: &dyn Fn(usize, &SeenDevice) -> bool| {
        chosen.iter().filter(|(index, d)| test(*index, d)).count()
    };
    let online = count(&|_, d| d.1);
    let mut by_os = vec![
        (json!("Windows"), count(&|index, _| index % 4 < 2)),
        (json!("macOS"), count(&|index, _| index % 4 == 2)),
        (Value::Null, count(&|index, _| index % 4 == 3)),
    ];
    by_os.retain(|(_, count)| *count > 0);
    by_os.sort_by(|a, b| {
        b.1.cmp(&a.1)
            .then_with(|| a.0.is_null().cmp(&b.0.is_null()))
    });
    let mut by_group = vec![
        (json!({ "name": "Finance" }), in_finance),
        (Value::Null, chosen.len() - in_finance),
    ];
    by_group.sort_by_key(|group| std::cmp::Reverse(group.1));
    let buckets = [
        "ONLINE",
        "WITHIN_DAY",
        "WITHIN_WEEK",
        "WITHIN_MONTH",
        "OVER_MONTH",
        "NEVER",
    ];
    json!({
        "total": chosen.len(),
        "byStatus": [
            { "status": "ONLINE", "count": online },
            { "status": "OFFLINE", "count": chosen.len() - online },
            { "status": "UNKNOWN", "count": 0 },
        ],
        "byOs": by_os.into_iter().map(|(os, count)| json!({ "os": os, "count": count })).collect::<Vec<_>>(),
        "otherOsCount": 0,
        "byGroup": by_group.into_iter().map(|(group, count)| json!({ "group": group, "count": count })).collect::<Vec<_>>(),
        "otherGroupCount": 0,
        "byLastSeen": buckets.iter().map(|bucket| json!({
            "bucket": bucket,
            "count": count(&|_, d| d.2 == *bucket),
        })).collect::<Vec<_>>(),
    })
}
