//! Scope checks on fields.

use async_graphql::{Context, Guard, Result};

use super::error::{ErrorCode, coded};
use crate::auth::{Caller, Scope};

/// Lets a field run only for callers holding the scope.
pub(crate) struct RequireScope(pub(crate) Scope);

impl Guard for RequireScope {
    async fn check(&self, ctx: &Context<'_>) -> Result<()> {
        let caller = ctx.data::<Caller>()?;
        if caller.has(self.0) {
            return Ok(());
        }
        let mut error = coded(
            ErrorCode::Forbidden,
            format!("team `{}` lacks the scope `{}`", caller.team, self.0),
        );
        if let Some(extensions) = error.extensions.as_mut() {
            extensions.set("requiredScope", self.0.as_str());
        }
        Err(error)
    }
}
