//! URL-mode elicitation (protocol 2026-07-28, multi-round-trip requests):
//! for a client that says it can send the person to a URL, an approval
//! request is asked of the person through the client, the approval page
//! being the URL; the client retries with the approval as its request
//! state. What the client answers (`accept`) decides nothing: the retry is
//! told where the approval really stands.

use std::collections::BTreeMap;

use rmcp::model::{
    CallToolResponse, ElicitRequest, ElicitRequestParams, InputRequest, InputRequiredResult,
};

use super::answers::ToolAnswer;
use super::handler::result;

/// The key of the approval among the input requests.
const APPROVAL: &str = "approval";

/// `answer` for a client that elicits URLs: a new approval request is
/// asked of the person through the client; anything else is the answer.
pub(super) fn ask_person(answer: ToolAnswer) -> CallToolResponse {
    let structured = &answer.structured;
    let asked = structured["status"] == "approval_required";
    let (Some(id), Some(url), true) = (
        structured["approvalId"].as_str(),
        structured["approvalUrl"].as_str(),
        asked,
    ) else {
        return result(answer).into();
    };
    let message = format!(
        "An assistant asks to change your RemotePC account. Open the page to see exactly what would change, and approve or decline it. {}",
        structured["message"].as_str().unwrap_or_default()
    );
    let params = ElicitRequestParams::UrlElicitationParams {
        meta: None,
        message,
        url: url.to_owned(),
        elicitation_id: id.to_owned(),
    };
    let requests = BTreeMap::from([(
        APPROVAL.to_owned(),
        InputRequest::Elicitation(ElicitRequest::new(params)),
    )]);
    CallToolResponse::InputRequired(InputRequiredResult::new(
        Some(requests),
        Some(id.to_owned()),
    ))
}
