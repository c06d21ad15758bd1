//! Turns an HTTP answer into the envelope's `message` or a typed error,
//! leniently: `status` in any case, trimmed descriptions, `message` as an
//! object, a string, or a string holding JSON.

use serde::de::DeserializeOwned;
use serde_json::{Map, Value};

use super::{Endpoint, UpstreamError};

/// Reads an answer's body. Returns the envelope's `message` on success.
pub(super) fn interpret(
    endpoint: Endpoint,
    http_status: u16,
    body: &[u8],
) -> Result<Value, UpstreamError> {
    let http_ok = (200..300).contains(&http_status);
    let malformed = |reason| UpstreamError::Malformed {
        endpoint,
        http_status,
        reason,
    };
    if (300..400).contains(&http_status) {
        // Following one would resend the body (a password, the key) to
        // wherever the answer points.
        return Err(malformed(
            "RemotePC answered with a redirect, which is never followed",
        ));
    }
    let failed = |code: Option<u16>, descriptions: Vec<String>| {
        status_error(endpoint, http_status, code, descriptions)
    };

    if body.iter().all(u8::is_ascii_whitespace) {
        return Err(if http_ok {
            malformed("empty body")
        } else {
            failed(None, Vec::new())
        });
    }
    let envelope = match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(envelope)) => envelope,
        Ok(_) if http_ok => return Err(malformed("body is JSON but not an envelope object")),
        Err(_) if http_ok => return Err(malformed("body is not JSON")),
        _ => return Err(failed(None, Vec::new())),
    };

    let status_is_ok = envelope
        .get("status")
        .and_then(Value::as_str)
        .is_some_and(|status| status.trim().eq_ignore_ascii_case("ok"));
    let code = envelope.get("code").and_then(code_of);
    let code_is_ok = code.is_none_or(|code| (200..300).contains(&code));

    match (http_ok, status_is_ok, code_is_ok) {
        (true, true, true) => Ok(parse_message(
            envelope.get("message").cloned().unwrap_or(Value::Null),
        )),
        (true, true, false) => Err(malformed("envelope says OK but its code is an error")),
        (false, true, _) => Err(malformed("HTTP error status with an OK envelope")),
        (_, false, _) => {
            let code = code.or_else(|| {
                envelope
                    .get("status")
                    .and_then(Value::as_str)
                    .and_then(code_of_status)
            });
            Err(failed(code, descriptions(&envelope)))
        }
    }
}

/// Reads an answer straight into an endpoint's payload type. A well-formed
/// success envelope is parsed once, typed; anything else takes the lenient
/// path of [`interpret`].
pub(super) fn interpret_as<T: DeserializeOwned>(
    endpoint: Endpoint,
    http_status: u16,
    body: &[u8],
) -> Result<T, UpstreamError> {
    #[derive(serde::Deserialize)]
    struct Success<T> {
        status: String,
        #[serde(default)]
        code: Option<Value>,
        message: T,
    }
    if (200..300).contains(&http_status)
        && let Ok(success) = serde_json::from_slice::<Success<T>>(body)
        && success.status.trim().eq_ignore_ascii_case("ok")
        && success
            .code
            .as_ref()
            .is_none_or(|code| code_of(code).is_some_and(|code| (200..300).contains(&code)))
    {
        return Ok(success.message);
    }
    decode(endpoint, interpret(endpoint, http_status, body)?)
}

/// Decodes a success `message` into an endpoint's payload type.
pub(super) fn decode<T: DeserializeOwned>(
    endpoint: Endpoint,
    message: Value,
) -> Result<T, UpstreamError> {
    serde_json::from_value(message).map_err(|_| UpstreamError::Malformed {
        endpoint,
        http_status: 200,
        reason: "success message has an unexpected shape",
    })
}

/// An error answer becomes `ServerError` when either the HTTP status or the
/// envelope's code is 5xx, otherwise `Rejected`.
fn status_error(
    endpoint: Endpoint,
    http_status: u16,
    code: Option<u16>,
    descriptions: Vec<String>,
) -> UpstreamError {
    if http_status >= 500 || code.is_some_and(|code| code >= 500) {
        UpstreamError::ServerError {
            endpoint,
            http_status,
            code,
            descriptions,
        }
    } else {
        UpstreamError::Rejected {
            endpoint,
            http_status,
            code,
            descriptions,
        }
    }
}

fn code_of(value: &Value) -> Option<u16> {
    match value {
        Value::Number(number) => number.as_u64().and_then(|code| u16::try_from(code).ok()),
        Value::String(text) => text.trim().parse().ok(),
        _ => None,
    }
}

fn code_of_status(status: &str) -> Option<u16> {
    let status = status.trim().to_ascii_uppercase().replace(' ', "_");
    Some(match status.as_str() {
        "BAD_REQUEST" => 400,
        "UNAUTHORIZED" => 401,
        "FORBIDDEN" => 403,
        "NOT_FOUND" => 404,
        "INTERNAL_SERVER_ERROR" => 500,
        _ => return None,
    })
}

/// `errors[].description`, trimmed; a plain string `message` when there are
/// none, since some error answers carry their text there. At most
/// `MAX_DESCRIPTIONS` of at most `MAX_DESCRIPTION_CHARS` each: they are
/// copied into GraphQL errors, audit records and logs.
fn descriptions(envelope: &Map<String, Value>) -> Vec<String> {
    let mut found = all_descriptions(envelope);
    if found.len() > MAX_DESCRIPTIONS {
        let more = found.len() - (MAX_DESCRIPTIONS - 1);
        found.truncate(MAX_DESCRIPTIONS - 1);
        found.push(format!("… and {more} more"));
    }
    for text in &mut found {
        if let Some((cut, _)) = text.char_indices().nth(MAX_DESCRIPTION_CHARS) {
            text.truncate(cut);
            text.push('…');
        }
    }
    found
}

/// Most upstream error descriptions kept from one answer.
const MAX_DESCRIPTIONS: usize = 20;
/// Longest upstream error description kept, in characters.
const MAX_DESCRIPTION_CHARS: usize = 300;

fn all_descriptions(envelope: &Map<String, Value>) -> Vec<String> {
    let from_errors: Vec<String> = envelope
        .get("errors")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|error| match error {
            Value::Object(error) => error.get("description").and_then(Value::as_str),
            Value::String(text) => Some(text.as_str()),
            _ => None,
        })
        .map(str::trim)
        .filter(|text| !text.is_empty())
        .map(str::to_owned)
        .collect();
    if !from_errors.is_empty() {
        return from_errors;
    }
    envelope
        .get("message")
        .and_then(Value::as_str)
        .map(str::trim)
        .filter(|text| !text.is_empty())
        .map(|text| vec![text.to_owned()])
        .unwrap_or_default()
}

/// A string `message` that itself holds a JSON object or array is unwrapped.
fn parse_message(message: Value) -> Value {
    if let Value::String(text) = &message {
        let trimmed = text.trim();
        if (trimmed.starts_with('{') || trimmed.starts_with('['))
            && let Ok(inner) = serde_json::from_str::<Value>(trimmed)
        {
            return inner;
        }
    }
    message
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const EP: Endpoint = Endpoint::UserInvite;

    #[test]
    fn descriptions_are_capped_in_number_and_length() {
        let errors: Vec<_> = (0..2_000)
            .map(|index| json!({ "description": format!("{index}{}", "x".repeat(5_000)) }))
            .collect();
        let body = json!({ "status": "BAD_REQUEST", "code": 400, "errors": errors }).to_string();
        let Err(UpstreamError::Rejected { descriptions, .. }) = interpret(EP, 400, body.as_bytes())
        else {
            panic!("a rejection");
        };
        assert_eq!(descriptions.len(), MAX_DESCRIPTIONS);
        assert!(
            descriptions[..19]
                .iter()
                .all(|text| text.chars().count() == MAX_DESCRIPTION_CHARS + 1)
        );
        assert_eq!(descriptions[19], "… and 1981 more");
        assert!(descriptions.iter().map(String::len).sum::<usize>() < 20_000);
    }

    #[test]
    fn a_redirect_is_an_error_not_followed() {
        let error = interpret(EP, 307, b"").expect_err("a redirect");
        assert!(error.to_string().contains("redirect"), "{error}");
        assert!(
            error.outcome_unknown(),
            "a write answered with a redirect may have been applied"
        );
    }

    fn answer(status: u16, body: &str) -> Result<Value, UpstreamError> {
        interpret(EP, status, body.as_bytes())
    }

    #[test]
    fn success_message_may_be_object_string_or_json_in_a_string() {
        let object = answer(
            200,
            r#"{"status":"OK","code":200,"message":{"invited_list":["a@b.c"]}}"#,
        );
        assert_eq!(object.expect("ok"), json!({"invited_list": ["a@b.c"]}));
        let plain = answer(200, r#"{"status":"ok","code":"200","message":"SUCCESS"}"#);
        assert_eq!(plain.expect("ok"), json!("SUCCESS"));
        let nested = answer(200, r#"{"status":"OK","message":"{\"invited_list\":[]}"}"#);
        assert_eq!(nested.expect("ok"), json!({"invited_list": []}));
    }

    #[test]
    fn error_envelope_keeps_trimmed_descriptions_and_ignores_status_case() {
        let error = answer(
            400,
            r#"{"status":"Bad_Request","code":400,"errorsCount":1,"errors":[{"description":"Email is already in use or already invited. "}]}"#,
        )
        .expect_err("rejected");
        match error {
            UpstreamError::Rejected {
                http_status: 400,
                code: Some(400),
                descriptions,
                ..
            } => assert_eq!(
                descriptions,
                ["Email is already in use or already invited."]
            ),
            other => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn a_200_with_an_error_envelope_is_an_error() {
        let error = answer(
            200,
            r#"{"status":"FORBIDDEN","errors":[{"description":"Invalid user permission"}]}"#,
        );
        assert!(matches!(
            error,
            Err(UpstreamError::Rejected {
                code: Some(403),
                ..
            })
        ));
    }

    #[test]
    fn unusable_answers_are_typed_errors() {
        assert!(matches!(
            answer(200, ""),
            Err(UpstreamError::Malformed {
                reason: "empty body",
                ..
            })
        ));
        assert!(matches!(
            answer(200, "<html><body>Maintenance</body></html>"),
            Err(UpstreamError::Malformed { .. })
        ));
        assert!(matches!(
            answer(502, "<html>Bad gateway</html>"),
            Err(UpstreamError::ServerError { .. })
        ));
        assert!(matches!(
            answer(200, r#"{"status":"OK","code":400}"#),
            Err(UpstreamError::Malformed { .. })
        ));
        assert!(matches!(
            answer(400, r#"{"status":"OK","code":200}"#),
            Err(UpstreamError::Malformed { .. })
        ));
        assert!(matches!(
            answer(200, "[1,2]"),
            Err(UpstreamError::Malformed { .. })
        ));
        assert!(matches!(
            answer(200, r#"{"status":"OK","mess"#),
            Err(UpstreamError::Malformed { .. })
        ));
    }
}
