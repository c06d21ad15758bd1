//! A tool's operation admitted and run as any `/graphql` request is, and
//! its GraphQL response turned into a tool answer: lists lead with their
//! count and are cut to fit `mcp.max_result_tokens`, with the cursor to go
//! on from.

use std::time::Instant;

use async_graphql::{Request, Variables};
use serde_json::{Map, Value, json};

use crate::admission::{Admission, Batch, Finished, Refusal, Submission, Transport};
use crate::auth::Credential;
use crate::graphql::{Answer, RequestIds};

/// Estimated tokens per byte of JSON: about four bytes make a token.
const BYTES_PER_TOKEN: usize = 4;

/// One operation for admission.
pub(super) struct ToolOperation<'a> {
    pub(super) document: &'a str,
    pub(super) variables: Value,
    pub(super) ids: RequestIds,
    /// A write's key: it runs once whatever retries it.
    pub(super) idempotency_key: Option<String>,
    /// The person's approval it runs under.
    pub(super) approval: Option<String>,
}

/// Admits and runs `operation` as `credential`'s caller: the GraphQL
/// response as JSON, or admission's refusal.
pub(super) async fn run(
    admission: &Admission,
    credential: &mut Credential<'_>,
    operation: ToolOperation<'_>,
) -> Result<Value, Refusal> {
    let request =
        Request::new(operation.document).variables(Variables::from_json(operation.variables));
    let submission = Submission {
        transport: Transport::Mcp,
        ids: operation.ids,
        batch: Ok(Batch {
            requests: vec![request],
            is_array: false,
        }),
        refused_by_transport: None,
        idempotency_key: Ok(operation.idempotency_key),
        started: Instant::now(),
        approval: operation.approval,
    };
    let admitted = admission.admit(credential, submission).await?;
    match Box::pin(admitted.run()).await {
        Finished::One(Answer::Written { body, .. }) => {
            let mut bytes = body.head.to_vec();
            bytes.extend_from_slice(&body.tail);
            Ok(serde_json::from_slice(&bytes).unwrap_or(Value::Null))
        }
        Finished::One(Answer::Executed(response)) => {
            Ok(serde_json::to_value(&response).unwrap_or(Value::Null))
        }
        Finished::Keyed { body, .. } => Ok(serde_json::from_str(&body).unwrap_or(Value::Null)),
        Finished::Batch(_) => Err(Refusal::bad_request("a tool runs one operation")),
        Finished::Refused(refusal) => Err(refusal),
    }
}

/// What a tool answers: its structured content, and whether it is an
/// error the model should read as one.
pub(super) struct ToolAnswer {
    pub(super) structured: Value,
    pub(super) is_error: bool,
}

/// The answer for `response`: its `data` (a list at `list` flattened,
/// count first, cut to fit `max_tokens`), or its errors.
pub(super) fn from_response(
    response: Value,
    list: Option<&[&str]>,
    max_tokens: usize,
) -> ToolAnswer {
    if let Some(errors) = response
        .get("errors")
        .and_then(Value::as_array)
        .filter(|e| !e.is_empty())
    {
        return errors_answer(errors);
    }
    let data = response.get("data").cloned().unwrap_or(Value::Null);
    let structured = match list {
        Some(path) => paged(&data, path, max_tokens),
        None => data,
    };
    let answer = ToolAnswer {
        structured,
        is_error: false,
    };
    if fits(&answer.structured, max_tokens) {
        answer
    } else {
        refusal_answer(&Refusal::bad_request(format!(
            "the answer is over mcp.max_result_tokens ({max_tokens}); ask for less (a filter, or a smaller `first`)"
        )))
    }
}

/// The GraphQL errors, each its message and code.
fn errors_answer(errors: &[Value]) -> ToolAnswer {
    let errors: Vec<Value> = errors
        .iter()
        .map(|error| {
            json!({
                "message": error.get("message").cloned().unwrap_or(Value::Null),
                "code": error.pointer("/extensions/code").cloned().unwrap_or(Value::Null),
                "path": error.get("path").cloned().unwrap_or(Value::Null),
            })
        })
        .collect();
    ToolAnswer {
        structured: json!({ "errors": errors }),
        is_error: true,
    }
}

/// Admission's refusal, as a tool error.
pub(super) fn refusal_answer(refusal: &Refusal) -> ToolAnswer {
    let mut error = json!({ "message": refusal.message(), "code": refusal.code().as_str() });
    if let Some(wait) = refusal.retry_after_wait() {
        error["retryAfterMs"] = json!(wait.as_millis());
    }
    ToolAnswer {
        structured: json!({ "errors": [error] }),
        is_error: true,
    }
}

/// The connection at `path` of `data` as `{totalCount, returned,
/// hasNextPage, nextCursor, items}`, cut to fit `max_tokens`.
fn paged(data: &Value, path: &[&str], max_tokens: usize) -> Value {
    let Some((edges_key, owner_path)) = path.split_last() else {
        return data.clone();
    };
    let mut owner = data;
    for key in owner_path {
        owner = &owner[*key];
    }
    let Some(edges) = owner.get(*edges_key).and_then(Value::as_array) else {
        // Null: the device or list is not there.
        return data.clone();
    };
    let mut answer = Map::new();
    if let Some(total) = owner.get("totalCount") {
        answer.insert("totalCount".into(), total.clone());
    }
    let has_next = owner
        .pointer("/pageInfo/hasNextPage")
        .cloned()
        .unwrap_or(json!(false));
    let end = owner
        .pointer("/pageInfo/endCursor")
        .cloned()
        .unwrap_or(Value::Null);
    let items: Vec<Value> = edges.iter().map(|edge| edge["node"].clone()).collect();
    let cursors: Vec<Value> = edges.iter().map(|edge| edge["cursor"].clone()).collect();
    // What fits: the whole page, else the longest start of it.
    let mut kept = items.len();
    loop {
        let cut = kept < items.len();
        let mut candidate = answer.clone();
        candidate.insert("returned".into(), json!(kept));
        candidate.insert(
            "hasNextPage".into(),
            if cut { json!(true) } else { has_next.clone() },
        );
        let next = match (cut, kept) {
            (false, _) => end.clone(),
            (true, 0) => Value::Null,
            (true, kept) => cursors[kept - 1].clone(),
        };
        candidate.insert("nextCursor".into(), next);
        if cut {
            candidate.insert("cutToFit".into(), json!(true));
        }
        candidate.insert("items".into(), Value::Array(items[..kept].to_vec()));
        let candidate = Value::Object(candidate);
        if kept == 0 || fits(&candidate, max_tokens) {
            return candidate;
        }
        // Shrink by the share that is over, at least one item.
        let size = estimated_tokens(&candidate);
        let over = size.saturating_sub(budget(max_tokens));
        let per_item = size / kept.max(1);
        kept = kept.saturating_sub((over / per_item.max(1)).max(1));
    }
}

/// The structured content is sent twice (as JSON text too, for clients
/// that read only text), so each copy gets half the budget.
fn budget(max_tokens: usize) -> usize {
    max_tokens / 2
}

fn fits(value: &Value, max_tokens: usize) -> bool {
    estimated_tokens(value) <= budget(max_tokens)
}

/// Tokens `value` is estimated to cost, from its JSON's length.
pub(super) fn estimated_tokens(value: &Value) -> usize {
    value.to_string().len().div_ceil(BYTES_PER_TOKEN)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn page(items: usize, has_next: bool) -> Value {
        let edges: Vec<Value> = (0..items)
            .map(|n| json!({ "cursor": format!("c{n}"), "node": { "name": format!("PC-{n:05}"), "comment": "x".repeat(200) } }))
            .collect();
        json!({ "devices": { "totalCount": 100_000, "pageInfo": { "hasNextPage": has_next, "endCursor": format!("c{}", items.saturating_sub(1)) }, "edges": edges } })
    }

    #[test]
    fn a_page_that_fits_is_flattened_count_first() {
        let answer = paged(&page(3, true), &["devices", "edges"], 20_000);
        assert_eq!(answer["totalCount"], 100_000);
        assert_eq!(answer["returned"], 3);
        assert_eq!(answer["hasNextPage"], true);
        assert_eq!(answer["nextCursor"], "c2");
        assert_eq!(answer["items"][2]["name"], "PC-00002");
        assert_eq!(answer.get("cutToFit"), None);
    }

    #[test]
    fn a_page_over_the_budget_is_cut_and_goes_on_from_the_last_item_kept() {
        let answer = paged(&page(100, false), &["devices", "edges"], 2_000);
        let kept = answer["returned"].as_u64().unwrap_or_default() as usize;
        assert!(kept > 0 && kept < 100, "{kept}");
        assert!(estimated_tokens(&answer) <= 1_000);
        assert_eq!(answer["hasNextPage"], true);
        assert_eq!(answer["cutToFit"], true);
        assert_eq!(answer["nextCursor"], format!("c{}", kept - 1));
    }
}
