//! Scope checks on fields, and the one table of the scope each guarded
//! root field needs: the fields' guards read it at compile time, and MCP
//! reads it to offer a trusted document only to whom may run it.

use async_graphql::{Context, Guard, Result};

use super::error::{ErrorCode, coded};
use crate::auth::{Caller, Scope};

/// Lets a field run only for callers holding the scope.
pub(crate) struct RequireScope(pub(crate) Scope);

/// The root operation type a field belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Root {
    Query,
    Mutation,
    Subscription,
}

/// The scope each guarded root field needs. `viewer` needs none, and
/// `node` / `nodes` check the scope of each id's type as they read it.
const ROOT_SCOPES: [(Root, &str, Scope); 23] = [
    (Root::Query, "users", Scope::Read),
    (Root::Query, "user", Scope::Read),
    (Root::Query, "devices", Scope::Read),
    (Root::Query, "device", Scope::Read),
    (Root::Query, "fleetSummary", Scope::Read),
    (Root::Query, "groups", Scope::Read),
    (Root::Query, "group", Scope::Read),
    (Root::Query, "deviceEvents", Scope::Read),
    (Root::Query, "deviceChangesSince", Scope::Read),
    (Root::Query, "invitations", Scope::Read),
    (Root::Query, "auditLog", Scope::AuditRead),
    (Root::Query, "upstreamBudget", Scope::AuditRead),
    (Root::Mutation, "inviteUsers", Scope::UsersWrite),
    (Root::Mutation, "createUser", Scope::UsersWrite),
    (Root::Mutation, "deleteUsers", Scope::UsersWrite),
    (Root::Mutation, "assignComputers", Scope::ComputersWrite),
    (Root::Mutation, "unassignComputers", Scope::ComputersWrite),
    (Root::Mutation, "removeComputers", Scope::ComputersWrite),
    (Root::Mutation, "addComputerComment", Scope::ComputersWrite),
    (Root::Mutation, "createGroup", Scope::GroupsWrite),
    (Root::Mutation, "moveComputersToGroup", Scope::GroupsWrite),
    (Root::Subscription, "deviceChanges", Scope::Read),
    (Root::Subscription, "userChanges", Scope::Read),
];

/// The scope `field` of `root` needs; `None` when it has no guard.
pub(crate) const fn root_scope(root: Root, field: &str) -> Option<Scope> {
    let mut index = 0;
    while index < ROOT_SCOPES.len() {
        let (listed_root, name, scope) = ROOT_SCOPES[index];
        if listed_root as u8 == root as u8 && same_text(name, field) {
            return Some(scope);
        }
        index += 1;
    }
    None
}

/// `str` equality, which `const fn`s cannot call yet.
const fn same_text(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    if a.len() != b.len() {
        return false;
    }
    let mut index = 0;
    while index < a.len() {
        if a[index] != b[index] {
            return false;
        }
        index += 1;
    }
    true
}

impl RequireScope {
    /// The guard of `field` of `root`, as [`ROOT_SCOPES`] has it; meant
    /// for a `const` block, where a field missing from the table stops the
    /// build.
    pub(crate) const fn of(root: Root, field: &str) -> Self {
        match root_scope(root, field) {
            Some(scope) => Self(scope),
            None => panic!("a guarded root field needs its scope in ROOT_SCOPES"),
        }
    }
}

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

#[cfg(test)]
mod tests {
    use super::*;

    /// Root fields that check scopes themselves, or need none.
    const UNGUARDED: [(Root, &str); 3] = [
        (Root::Query, "viewer"),
        (Root::Query, "node"),
        (Root::Query, "nodes"),
    ];

    #[test]
    fn every_root_field_of_the_served_schema_has_its_scope_in_the_table() {
        let schema = apollo_compiler::Schema::parse(crate::graphql::sdl(), "schema.graphql")
            .expect("the served schema parses");
        let mut served = Vec::new();
        for (root, name) in [
            (Root::Query, "Query"),
            (Root::Mutation, "Mutation"),
            (Root::Subscription, "Subscription"),
        ] {
            let object = schema.get_object(name).expect("a root type");
            served.extend(object.fields.keys().map(|field| (root, field.to_string())));
        }
        let unguarded: Vec<(Root, String)> = (served.iter())
            .filter(|(root, field)| root_scope(*root, field).is_none())
            .cloned()
            .collect();
        let expected: Vec<(Root, String)> = (UNGUARDED.iter())
            .map(|(root, field)| (*root, (*field).to_owned()))
            .collect();
        assert_eq!(
            unguarded, expected,
            "a new root field needs its scope in ROOT_SCOPES"
        );
        for (root, field, _) in ROOT_SCOPES {
            assert!(
                served.contains(&(root, field.to_owned())),
                "ROOT_SCOPES names {root:?}.{field}, which the schema does not serve"
            );
        }
    }

    #[test]
    fn a_field_is_found_by_its_exact_name_under_its_own_root() {
        assert_eq!(root_scope(Root::Query, "auditLog"), Some(Scope::AuditRead));
        assert_eq!(root_scope(Root::Mutation, "auditLog"), None);
        assert_eq!(root_scope(Root::Query, "auditlog"), None);
        assert_eq!(root_scope(Root::Query, "audit"), None);
    }
}
