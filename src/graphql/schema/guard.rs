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
        Err(forbidden(caller, self.0))
    }
}

/// `FORBIDDEN` for `caller`, naming the scope it lacks in
/// `extensions.requiredScope`; `OPERATION_NOT_TRUSTED` when one of its
/// roles holds it for trusted documents only.
pub(crate) fn forbidden(caller: &Caller, scope: Scope) -> async_graphql::Error {
    if caller.withheld.contains(&scope) {
        return coded(
            ErrorCode::OperationNotTrusted,
            format!(
                "the scope `{scope}` is granted by a role that runs only its trusted documents, and this operation is none of them"
            ),
        );
    }
    let mut error = coded(
        ErrorCode::Forbidden,
        format!("team `{}` lacks the scope `{scope}`", caller.team),
    );
    if let Some(extensions) = error.extensions.as_mut() {
        extensions.set("requiredScope", scope.as_str());
    }
    error
}
