//! GraphQL: the schema (`schema`: objects, queries, mutations, guards,
//! errors) and the path an operation takes through it (`serving`: the
//! document read once, limits, response cache, plans, execution). Knows
//! nothing of transports or admission; reaches RemotePC only through
//! `catalog`.

mod schema;
mod serving;

pub use schema::error::{ErrorCode, error_code, outcome};
pub(crate) use schema::guard::{Root, root_scope};
pub use schema::{
    GatewaySchema, MutationRoot, QueryRoot, ResumeFrom, StreamPosition, SubscriptionRoot,
    build_schema, sdl,
};
pub use serving::canonical::canonical;
pub(crate) use serving::document::operation_name;
pub use serving::entity_tag::EntityTag;
pub(crate) use serving::operation_name::{OperationKind, operation_kind};
pub use serving::response_body::ResponseBody;
pub use serving::response_cache::{EncodedHead, KeptResponse};
pub use serving::runner::{Answer, Operation, OperationRunner, Via};
pub use serving::writes::{ReadAhead, WriteProfile};

/// The ids of the HTTP request an operation came in, for audit records.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct RequestIds {
    /// The id the gateway gave the request (its `x-request-id` answer).
    pub id: String,
    /// The `x-request-id` the client sent, if it was printable and short.
    pub client: Option<String>,
}
