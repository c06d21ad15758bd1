//! Compiled plans proven equal to execution on generated queries: a seeded
//! generator writes connection queries (one to three root fields, some
//! failing beside others that succeed; fields, aliases, `__typename`,
//! filters, orders, page sizes up to the maximum and past it, cursors,
//! literals and variables) over data with odd strings, and each is asked
//! of a gateway that always executes and of one that answers by plan; the
//! bodies must be the same bytes. Most cases are asked of the gateways'
//! routers in process; one in twenty goes over HTTP, where the reference
//! is also asked in process to show that both write the same bytes. (At
//! the default `graphql.max_complexity` no single connection reaches the
//! limit: `plans::a_plan_refuses_every_page_past_the_complexity_limit_…`
//! holds plans to it.)
//! `GATEWAY_PLAN_SEED` replays a run; the seed is in every failure message.
//! `GATEWAY_PLAN_CASES` sets the count.

use rand::rngs::StdRng;
use rand::seq::IndexedRandom;
use rand::{Rng, SeedableRng};
use serde_json::{Map, Value, json};

use crate::helpers::{ADMIN_TOKEN, TestGateway};
use crate::plans::{TWIN_TOKEN, ask, ask_in_process, gateways};

/// One case in this many goes over HTTP, and is also asked below it of
/// the reference; the rest are asked of the router in process.
const OVER_HTTP_EVERY: u64 = 20;

const DEVICE_FIELDS: [&str; 10] = [
    "id",
    "name",
    "machineId",
    "status",
    "os",
    "osVersion",
    "ip",
    "comment",
    "lastSessionAt",
    "lastSessionRaw",
];
const USER_FIELDS: [&str; 4] = ["id", "username", "firstName", "lastName"];
const PAGE_INFO: [&str; 4] = ["hasNextPage", "hasPreviousPage", "startCursor", "endCursor"];
const ODD_STRINGS: [&str; 8] = ["", "wIn", "é", "\"", "\\", "no such thing", "0", "ünï"];

/// One generated operation and its variables.
struct Generated {
    query: String,
    variables: Value,
}

struct Generator {
    rng: StdRng,
    cursors: Vec<String>,
}

impl Generator {
    fn chance(&mut self, percent: u32) -> bool {
        self.rng.random_range(0..100) < percent
    }

    fn alias(&mut self, name: &str) -> String {
        if self.chance(20) {
            format!("a{}: {name}", self.rng.random_range(0..1000))
        } else {
            name.to_owned()
        }
    }

    /// A random non-empty selection of `fields`, some aliased, maybe with
    /// `__typename`.
    fn pick(&mut self, fields: &[&str]) -> String {
        let mut chosen: Vec<String> = fields
            .iter()
            .filter(|_| self.rng.random_bool(0.5))
            .map(|field| field.to_string())
            .collect();
        if chosen.is_empty() {
            chosen.push(fields[0].to_owned());
        }
        let mut chosen: Vec<String> = chosen.iter().map(|field| self.alias(field)).collect();
        if self.chance(15) {
            chosen.insert(0, "__typename".to_owned());
        }
        chosen.join(" ")
    }

    fn connection(&mut self, node_fields: &[&str]) -> String {
        let mut parts = Vec::new();
        if self.chance(60) {
            parts.push(self.alias("totalCount"));
        }
        if self.chance(70) {
            let cursor = if self.chance(50) { "cursor " } else { "" };
            let node = self.pick(node_fields);
            parts.push(format!(
                "{} {{ {cursor}node {{ {node} }} }}",
                self.alias("edges")
            ));
        }
        if self.chance(25) {
            let node = self.pick(node_fields);
            parts.push(format!("{} {{ {node} }}", self.alias("nodes")));
        }
        if self.chance(50) {
            let info = self.pick(&PAGE_INFO);
            parts.push(format!("{} {{ {info} }}", self.alias("pageInfo")));
        }
        if parts.is_empty() {
            parts.push("totalCount".to_owned());
        }
        parts.join(" ")
    }

    fn page_size(&mut self) -> Value {
        match self.rng.random_range(0..10) {
            0 => json!(0),
            1 => json!(500),
            2 => json!(501),
            3 => json!(-1),
            _ => json!(self.rng.random_range(1..60)),
        }
    }

    fn string(&mut self) -> String {
        (*ODD_STRINGS.choose(&mut self.rng).unwrap_or(&"")).to_owned()
    }

    /// A time in one of the forms browsers send: with an offset or `Z`,
    /// local with or without seconds, or a date.
    fn date(&mut self) -> Value {
        let month = self.rng.random_range(1..=12);
        let day = self.rng.random_range(1..=28);
        let date = format!("202{}-{month:02}-{day:02}", self.rng.random_range(3..7));
        let hour = self.rng.random_range(0..24);
        let suffix = ["", ":00", ":00Z", ":00+05:30", ":00-08:00", "DATE"]
            .choose(&mut self.rng)
            .copied()
            .unwrap_or_default();
        match suffix {
            "DATE" => json!(date),
            suffix => json!(format!("{date}T{hour:02}:30{suffix}")),
        }
    }

    fn device_filter(&mut self) -> Value {
        let mut filter = Map::new();
        if self.chance(30) {
            filter.insert("nameContains".into(), json!(self.string()));
        }
        if self.chance(30) {
            let status = ["ONLINE", "OFFLINE", "UNKNOWN"]
                .choose(&mut self.rng)
                .copied();
            filter.insert("status".into(), json!(status));
        }
        if self.chance(20) {
            let os = ["windows", "Mac", "linux", "none"]
                .choose(&mut self.rng)
                .copied();
            filter.insert("os".into(), json!(os));
        }
        if self.chance(20) {
            filter.insert("commentContains".into(), json!(self.string()));
        }
        for bound in ["lastSessionBefore", "lastSessionAfter"] {
            if self.chance(20) {
                filter.insert(bound.into(), self.date());
            }
        }
        Value::Object(filter)
    }

    fn arguments(&mut self, devices: bool) -> Vec<(&'static str, &'static str, Value)> {
        let mut arguments = Vec::new();
        match self.rng.random_range(0..4) {
            0 => {}
            1 | 2 => arguments.push(("first", "Int", self.page_size())),
            _ => arguments.push(("last", "Int", self.page_size())),
        }
        if self.chance(25) && !self.cursors.is_empty() {
            let cursor = self
                .cursors
                .choose(&mut self.rng)
                .cloned()
                .unwrap_or_default();
            let side = if self.chance(50) { "after" } else { "before" };
            arguments.push((side, "String", json!(cursor)));
        } else if self.chance(5) {
            arguments.push(("after", "String", json!("bm9wZQ")));
        }
        if devices && self.chance(60) {
            arguments.push(("filter", "DeviceFilter", self.device_filter()));
        }
        if !devices && self.chance(50) {
            arguments.push(("filter", "UserFilter", json!({ "search": self.string() })));
        }
        if self.chance(50) {
            let (fields, kind): (&[&str], &str) = if devices {
                (&["NAME", "LAST_SESSION", "STATUS", "OS"], "DeviceOrder")
            } else {
                (&["USERNAME", "FIRST_NAME", "LAST_NAME"], "UserOrder")
            };
            let field = fields.choose(&mut self.rng).copied();
            let direction = if self.chance(50) { "ASC" } else { "DESC" };
            arguments.push((
                "orderBy",
                kind,
                json!({ "field": field, "direction": direction }),
            ));
        }
        arguments
    }

    /// One root field: its text, with the variables it declares and
    /// passes named `v<root>_<index>`.
    fn root_field(
        &mut self,
        root_index: usize,
        alias: Option<String>,
    ) -> (String, Vec<String>, Map<String, Value>) {
        let devices = self.chance(70);
        let (root, fields): (&str, &[&str]) = if devices {
            ("devices", &DEVICE_FIELDS)
        } else {
            ("users", &USER_FIELDS)
        };
        let mut declared = Vec::new();
        let mut passed = Vec::new();
        let mut variables = Map::new();
        for (index, (name, kind, value)) in self.arguments(devices).into_iter().enumerate() {
            if self.chance(60) {
                declared.push(format!("$v{root_index}_{index}: {kind}"));
                passed.push(format!("{name}: $v{root_index}_{index}"));
                variables.insert(format!("v{root_index}_{index}"), value);
            } else {
                passed.push(format!("{name}: {}", literal(&value)));
            }
        }
        let passed = if passed.is_empty() {
            String::new()
        } else {
            format!("({})", passed.join(", "))
        };
        let selection = self.connection(fields);
        let root = match alias {
            Some(alias) => format!("{alias}: {root}"),
            None => self.alias(root),
        };
        (
            format!("{root}{passed} {{ {selection} }}"),
            declared,
            variables,
        )
    }

    /// One to three root fields: page sizes out of range make some fail
    /// beside others that succeed, so null propagation is compared too.
    fn operation(&mut self) -> Generated {
        let roots = match self.rng.random_range(0..100) {
            0..60 => 1,
            60..85 => 2,
            _ => 3,
        };
        let (mut texts, mut declared, mut variables) = (Vec::new(), Vec::new(), Map::new());
        for root_index in 0..roots {
            let alias = (roots > 1).then(|| format!("r{root_index}"));
            let (text, declares, values) = self.root_field(root_index, alias);
            texts.push(text);
            declared.extend(declares);
            variables.extend(values);
        }
        if self.chance(15) {
            texts.insert(
                self.rng.random_range(0..=texts.len()),
                "__typename".to_owned(),
            );
        }
        let declared = if declared.is_empty() {
            String::new()
        } else {
            format!("({})", declared.join(", "))
        };
        Generated {
            query: format!("query Generated{declared} {{ {} }}", texts.join(" ")),
            variables: Value::Object(variables),
        }
    }
}

/// A JSON value as a GraphQL literal: enum values unquoted.
fn literal(value: &Value) -> String {
    match value {
        Value::Object(entries) => {
            let fields: Vec<String> = entries
                .iter()
                .map(|(key, value)| match (key.as_str(), value) {
                    ("status" | "field" | "direction", Value::String(word)) => {
                        format!("{key}: {word}")
                    }
                    _ => format!("{key}: {}", literal(value)),
                })
                .collect();
            format!("{{ {} }}", fields.join(", "))
        }
        other => other.to_string(),
    }
}

fn setting(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|value| value.parse().ok())
        .unwrap_or(default)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn generated_queries_are_answered_by_plans_byte_for_byte_as_by_execution() {
    let seed = setting("GATEWAY_PLAN_SEED", rand::rng().random());
    let cases = setting("GATEWAY_PLAN_CASES", 2_000);
    let (reference, planned) = gateways().await;
    let mut generator = Generator {
        rng: StdRng::seed_from_u64(seed),
        cursors: Vec::new(),
    };
    let mut by_plan = 0;
    for case in 0..cases {
        let Generated { query, variables } = generator.operation();
        let over_http = case % OVER_HTTP_EVERY == 0;
        let asked_of = async |gateway: &TestGateway, token: &str| {
            if over_http {
                ask(gateway, token, &query, &variables).await
            } else {
                ask_in_process(gateway, token, &query, &variables).await
            }
        };
        // The first sight of a document executes and compiles its plan;
        // the twin (another account) then meets that plan.
        asked_of(&planned, ADMIN_TOKEN).await;
        let (expected, _) = asked_of(&reference, ADMIN_TOKEN).await;
        let (answered, via) = asked_of(&planned, TWIN_TOKEN).await;
        assert_eq!(
            answered, expected,
            "seed {seed}, case {case}, via {via}: {query} with {variables}"
        );
        if over_http {
            // The reference executes every time: below HTTP it must write
            // what the socket carried.
            let (in_process, _) = ask_in_process(&reference, ADMIN_TOKEN, &query, &variables).await;
            assert_eq!(
                in_process, expected,
                "seed {seed}, case {case}: the router's bytes differ from the socket's"
            );
        }
        by_plan += u64::from(via == "plan");
        let parsed: Value = serde_json::from_str(&format!("{expected}}}")).unwrap_or_default();
        for info in ["startCursor", "endCursor"] {
            if let Some(cursor) = find(&parsed, info) {
                generator.cursors.push(cursor);
            }
        }
    }
    eprintln!("plan generator, seed {seed}: {cases} cases, {by_plan} answered by plan, all equal");
    // Failing fields and some multi-root documents are left to execution;
    // a quarter by plan still shows the generator reaches plans.
    assert!(
        by_plan * 4 >= cases,
        "seed {seed}: only {by_plan} of {cases} answered by plan; the generator misses plans"
    );
}

/// The first string under `key` anywhere in `value`.
fn find(value: &Value, key: &str) -> Option<String> {
    match value {
        Value::Object(entries) => entries.iter().find_map(|(name, inner)| {
            if name == key {
                inner.as_str().map(str::to_owned)
            } else {
                find(inner, key)
            }
        }),
        Value::Array(items) => items.iter().find_map(|item| find(item, key)),
        _ => None,
    }
}
