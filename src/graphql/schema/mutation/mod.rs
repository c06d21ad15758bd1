//! Mutation roots: one mutation per RemotePC POST endpoint, each with an
//! input object and a typed payload.

mod types;

use std::sync::Arc;

use async_graphql::{Context, Object, Result};
use secrecy::SecretString;

use super::audit_trail::{audited, recorded};
use super::error::{catalog_error, naming};
use super::groups::Group;
use super::guard::{RequireScope, Root};
use super::user::User;
use super::{caller, directory, fleet};
use crate::catalog::{self as domain, NewUser};
pub(crate) use types::*;

/// Mutations on users.
#[derive(Default)]
pub(crate) struct UserMutation;

#[Object]
impl UserMutation {
    /// Invites users by email (RemotePC `user/invite`).
    #[graphql(guard = "const { RequireScope::of(Root::Mutation, \"inviteUsers\") }")]
    async fn invite_users(
        &self,
        ctx: &Context<'_>,
        input: InviteUsersInput,
    ) -> Result<InviteUsersPayload> {
        audited(ctx, "inviteUsers", recorded(&input), async {
            let team = &caller(ctx)?.team;
            let outcome = directory(ctx)?
                .invite(input.emails, input.two_factor, input.sso, team)
                .await
                .map_err(catalog_error)?;
            Ok(InviteUsersPayload {
                invited: outcome.invited,
                invalid: outcome.invalid,
            })
        })
        .await
    }

    /// Creates an active user with a password (RemotePC `user/create`).
    #[graphql(guard = "const { RequireScope::of(Root::Mutation, \"createUser\") }")]
    async fn create_user(
        &self,
        ctx: &Context<'_>,
        input: CreateUserInput,
    ) -> Result<CreateUserPayload> {
        audited(ctx, "createUser", recorded(&input), async {
            let user = directory(ctx)?
                .create(NewUser {
                    first_name: input.first_name,
                    last_name: input.last_name,
                    email: input.email,
                    password: SecretString::from(input.password),
                    two_factor: input.two_factor,
                })
                .await
                .map_err(catalog_error)?;
            Ok(CreateUserPayload {
                user: User(Arc::new(user)),
            })
        })
        .await
    }

    /// Deletes active users and invitations, reporting each email
    /// (RemotePC `user/delete`).
    #[graphql(guard = "const { RequireScope::of(Root::Mutation, \"deleteUsers\") }")]
    async fn delete_users(
        &self,
        ctx: &Context<'_>,
        input: DeleteUsersInput,
    ) -> Result<DeleteUsersPayload> {
        audited(ctx, "deleteUsers", recorded(&input), async {
            let outcomes = directory(ctx)?
                .delete(input.active_users, input.invited_users)
                .await
                .map_err(catalog_error)?;
            let results: Vec<UserDeletion> = outcomes
                .into_iter()
                .map(|outcome| UserDeletion {
                    email: outcome.email,
                    kind: match outcome.kind {
                        domain::UserKind::Active => UserKind::Active,
                        domain::UserKind::Invited => UserKind::Invited,
                    },
                    deleted: outcome.deleted,
                })
                .collect();
            Ok(DeleteUsersPayload {
                deleted_count: results.iter().filter(|result| result.deleted).count(),
                results,
            })
        })
        .await
    }
}

/// Mutations on computers.
#[derive(Default)]
pub(crate) struct ComputerMutation;

#[Object]
impl ComputerMutation {
    /// Assigns computers to a user (RemotePC `computer/assign`).
    #[graphql(guard = "const { RequireScope::of(Root::Mutation, \"assignComputers\") }")]
    async fn assign_computers(
        &self,
        ctx: &Context<'_>,
        input: ComputerAssignmentInput,
    ) -> Result<ComputerAssignmentPayload> {
        audited(
            ctx,
            "assignComputers",
            recorded(&input),
            assignment(ctx, input, true),
        )
        .await
    }

    /// Unassigns computers from a user (RemotePC `computer/unassign`).
    #[graphql(guard = "const { RequireScope::of(Root::Mutation, \"unassignComputers\") }")]
    async fn unassign_computers(
        &self,
        ctx: &Context<'_>,
        input: ComputerAssignmentInput,
    ) -> Result<ComputerAssignmentPayload> {
        audited(
            ctx,
            "unassignComputers",
            recorded(&input),
            assignment(ctx, input, false),
        )
        .await
    }

    /// Removes offline computers from the account, reporting each one
    /// (RemotePC `computer/remove`, in calls of at most 50).
    #[graphql(guard = "const { RequireScope::of(Root::Mutation, \"removeComputers\") }")]
    async fn remove_computers(
        &self,
        ctx: &Context<'_>,
        input: RemoveComputersInput,
    ) -> Result<RemoveComputersPayload> {
        audited(ctx, "removeComputers", recorded(&input), async {
            let outcomes = fleet(ctx)?
                .remove(input.computer_names)
                .await
                .map_err(catalog_error)?;
            let results: Vec<ComputerRemoval> = outcomes
                .into_iter()
                .map(|outcome| ComputerRemoval {
                    removed: outcome.error.is_none(),
                    error: outcome.error.as_ref().map(ItemError::from),
                    computer_name: outcome.name,
                })
                .collect();
            Ok(RemoveComputersPayload {
                removed_count: results.iter().filter(|result| result.removed).count(),
                results,
            })
        })
        .await
    }

    /// Sets a computer's comment (RemotePC `computer/comments/add`).
    #[graphql(guard = "const { RequireScope::of(Root::Mutation, \"addComputerComment\") }")]
    async fn add_computer_comment(
        &self,
        ctx: &Context<'_>,
        input: AddComputerCommentInput,
    ) -> Result<AddComputerCommentPayload> {
        audited(ctx, "addComputerComment", recorded(&input), async {
            fleet(ctx)?
                .comment(&input.computer_name, &input.comment)
                .await
                .map_err(catalog_error)
                .map_err(naming([input.computer_name.as_str()]))?;
            Ok(AddComputerCommentPayload {
                computer_name: input.computer_name.trim().to_owned(),
                comment: input.comment,
            })
        })
        .await
    }
}

async fn assignment(
    ctx: &Context<'_>,
    input: ComputerAssignmentInput,
    assign: bool,
) -> Result<ComputerAssignmentPayload> {
    let names = std::iter::once(input.username.as_str())
        .chain(input.computer_names.iter().map(String::as_str));
    let not_found = naming(names);
    let computer_names = fleet(ctx)?
        .assign(&input.username, input.computer_names.clone(), assign)
        .await
        .map_err(catalog_error)
        .map_err(not_found)?;
    Ok(ComputerAssignmentPayload {
        username: input.username.trim().to_owned(),
        computer_names,
    })
}

/// Mutations on groups.
#[derive(Default)]
pub(crate) struct GroupMutation;

#[Object]
impl GroupMutation {
    /// Creates a group, optionally moving computers into it
    /// (RemotePC `computer/group/create`). The gateway remembers it: see
    /// `groups`.
    #[graphql(guard = "const { RequireScope::of(Root::Mutation, \"createGroup\") }")]
    async fn create_group(
        &self,
        ctx: &Context<'_>,
        input: CreateGroupInput,
    ) -> Result<GroupPayload> {
        audited(ctx, "createGroup", recorded(&input), async {
            let team = &caller(ctx)?.team;
            let not_found = naming(input.computer_names.iter().map(String::as_str));
            let computer_names = fleet(ctx)?
                .create_group(&input.name, input.computer_names.clone(), team)
                .await
                .map_err(catalog_error)
                .map_err(not_found)?;
            Ok(GroupPayload {
                group: Group {
                    name: input.name.trim().to_owned(),
                    computer_names,
                    first_seen: None,
                },
            })
        })
        .await
    }

    /// Moves computers into an existing group (RemotePC `computer/group/move`).
    #[graphql(guard = "const { RequireScope::of(Root::Mutation, \"moveComputersToGroup\") }")]
    async fn move_computers_to_group(
        &self,
        ctx: &Context<'_>,
        input: MoveComputersToGroupInput,
    ) -> Result<GroupPayload> {
        audited(ctx, "moveComputersToGroup", recorded(&input), async {
            let team = &caller(ctx)?.team;
            let names = std::iter::once(input.group_name.as_str())
                .chain(input.computer_names.iter().map(String::as_str));
            let not_found = naming(names);
            let computer_names = fleet(ctx)?
                .move_to_group(&input.group_name, input.computer_names.clone(), team)
                .await
                .map_err(catalog_error)
                .map_err(not_found)?;
            Ok(GroupPayload {
                group: Group {
                    name: input.group_name.trim().to_owned(),
                    computer_names,
                    first_seen: None,
                },
            })
        })
        .await
    }
}
