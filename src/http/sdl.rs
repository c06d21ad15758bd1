//! `GET /schema.graphql`: the served schema as SDL, for codegen tools
//! (GraphQL Codegen, `gql.tada`, Relay's compiler) that read a schema file
//! rather than introspect. The same token as `/graphql`, and the same
//! rule: a team with introspection off may not read it.

use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

use super::AppState;
use super::answer::Refused;
use crate::admission::Refusal;
use crate::graphql::ErrorCode;

pub(super) async fn schema(State(state): State<AppState>, headers: HeaderMap) -> Response {
    let team = match super::graphql::authenticate(&state, &headers, std::time::Instant::now()).await
    {
        Ok(team) => team,
        Err(refused) => return refused,
    };
    if !team.introspection() {
        let message = "this team may not read the schema (introspection is off)";
        let refusal = Refusal::new(StatusCode::FORBIDDEN, ErrorCode::Forbidden, message);
        return refusal.answering(&headers);
    }
    let mut response = state.schema_sdl.clone().into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/graphql; charset=utf-8"),
    );
    response
}
