//! How the runner answered an operation: written bytes (from the response
//! cache, a plan or the schema) or an executed response to serialize.

use async_graphql::Response;

use super::{KeptResponse, ResponseBody};

/// How an operation was answered.
pub enum Answer {
    /// Written as JSON already: a body without errors (`data` and
    /// `extensions`) of a query the response cache applies to, from the
    /// cache, a plan or the schema.
    Written {
        /// The JSON text.
        body: ResponseBody,
        /// What produced it; `Via::Cache` is a response-cache hit.
        via: Via,
        /// The response as the response cache keeps it, when it does.
        kept: Option<KeptResponse>,
    },
    /// Executed by the schema, to be serialized (errors, mutations, what
    /// the response cache never keeps).
    Executed(Response),
}

/// What produced an answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Via {
    /// The response cache.
    Cache,
    /// The operation's compiled plan.
    Plan,
    /// async-graphql.
    Schema,
}

impl Via {
    /// The name in the `Server-Timing` header.
    pub fn as_str(self) -> &'static str {
        match self {
            Via::Cache => "cache",
            Via::Plan => "plan",
            Via::Schema => "schema",
        }
    }
}
