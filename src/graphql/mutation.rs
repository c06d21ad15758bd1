//! Mutation roots: one mutation per RemotePC POST endpoint, each with an
//! input object and a typed payload.

use std::sync::Arc;

use async_graphql::{Context, Enum, InputObject, Object, Result, SimpleObject};
use secrecy::SecretString;
use serde::Serialize;

use super::audit::{audited, recorded, redacted};
use super::error::{ErrorCode, catalog_error, upstream_error};
use super::guard::RequireScope;
use super::objects::{Group, User};
use super::{caller, directory, fleet};
use crate::auth::Scope;
use crate::catalog::{self as domain, NewUser};
use crate::upstream::UpstreamError;

/// Input of `inviteUsers`.
#[derive(InputObject, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct InviteUsersInput {
    /// Emails to invite (at least one).
    pub(crate) emails: Vec<String>,
    /// Require two-factor authentication.
    pub(crate) two_factor: Option<bool>,
    /// Sign in with SSO.
    pub(crate) sso: Option<bool>,
}

/// What `inviteUsers` did with each email.
#[derive(SimpleObject, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct InviteUsersPayload {
    /// Emails invited.
    pub(crate) invited: Vec<String>,
    /// Emails RemotePC refused (already in use, already invited, invalid).
    pub(crate) invalid: Vec<String>,
}

/// Input of `createUser`.
#[derive(InputObject, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct CreateUserInput {
    /// First name: letters a-z, A-Z and spaces.
    pub(crate) first_name: String,
    /// Last name: letters a-z, A-Z and spaces.
    pub(crate) last_name: String,
    /// Email; becomes the username.
    pub(crate) email: String,
    /// 6–20 characters: A-Z a-z 0-9 and ~`!@#$%^&*()-_+={}|[];\'"<>,.?/
    #[graphql(secret)]
    #[serde(serialize_with = "redacted")]
    pub(crate) password: String,
    /// Require two-factor authentication.
    pub(crate) two_factor: Option<bool>,
}

/// The user `createUser` created.
#[derive(SimpleObject, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct CreateUserPayload {
    /// The new user.
    pub(crate) user: User,
}

/// Input of `deleteUsers`; at least one email in either list.
#[derive(InputObject, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct DeleteUsersInput {
    /// Emails of active users.
    #[graphql(default)]
    pub(crate) active_users: Vec<String>,
    /// Emails of pending invitations.
    #[graphql(default)]
    pub(crate) invited_users: Vec<String>,
}

/// Whether an email was an active user or an invitation.
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub(crate) enum UserKind {
    /// An active user.
    Active,
    /// A pending invitation.
    Invited,
}

/// The outcome for one email of `deleteUsers`.
#[derive(SimpleObject, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct UserDeletion {
    /// The email.
    pub(crate) email: String,
    /// Active user or invitation.
    pub(crate) kind: UserKind,
    /// Whether RemotePC deleted it.
    pub(crate) deleted: bool,
}

/// What `deleteUsers` did with each email.
#[derive(SimpleObject, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct DeleteUsersPayload {
    /// One entry per email, in input order.
    pub(crate) results: Vec<UserDeletion>,
    /// How many were deleted.
    pub(crate) deleted_count: usize,
}

/// Input of `assignComputers` and `unassignComputers`.
#[derive(InputObject, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct ComputerAssignmentInput {
    /// The user's email.
    pub(crate) username: String,
    /// Host names of the computers (at least one).
    pub(crate) computer_names: Vec<String>,
}

/// The assignment `assignComputers` or `unassignComputers` applied.
#[derive(SimpleObject, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct ComputerAssignmentPayload {
    /// The user's email.
    pub(crate) username: String,
    /// Host names of the computers.
    pub(crate) computer_names: Vec<String>,
}

/// Input of `createGroup`.
#[derive(InputObject, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct CreateGroupInput {
    /// The new group's name; must not exist yet.
    pub(crate) name: String,
    /// Computers to move into the new group.
    #[graphql(default)]
    pub(crate) computer_names: Vec<String>,
}

/// Input of `moveComputersToGroup`.
#[derive(InputObject, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct MoveComputersToGroupInput {
    /// An existing group's name.
    pub(crate) group_name: String,
    /// Host names of the computers (at least one).
    pub(crate) computer_names: Vec<String>,
}

/// The group a group mutation created or changed.
#[derive(SimpleObject, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct GroupPayload {
    /// The group, with the computers this mutation moved into it.
    pub(crate) group: Group,
}

/// Input of `removeComputers`.
#[derive(InputObject, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct RemoveComputersInput {
    /// Host names of offline computers. Any number: the gateway sends them
    /// in calls of at most 50, RemotePC's limit.
    pub(crate) computer_names: Vec<String>,
}

/// Why one item of a bulk mutation failed.
#[derive(SimpleObject, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct ItemError {
    /// The kind of failure.
    pub(crate) code: ErrorCode,
    /// What went wrong.
    pub(crate) message: String,
    /// RemotePC's own descriptions, when it gave some.
    pub(crate) descriptions: Vec<String>,
    /// Whether the change may have been applied although it failed.
    pub(crate) outcome_unknown: bool,
}

impl From<&Arc<UpstreamError>> for ItemError {
    fn from(error: &Arc<UpstreamError>) -> Self {
        let mapped = upstream_error(error);
        Self {
            code: ErrorCode::from(error.as_ref()),
            message: mapped.message,
            descriptions: error
                .answer()
                .map(|(_, _, descriptions)| descriptions.to_vec())
                .unwrap_or_default(),
            outcome_unknown: error.outcome_unknown(),
        }
    }
}

/// The outcome for one computer of `removeComputers`.
#[derive(SimpleObject, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct ComputerRemoval {
    /// The computer's host name.
    pub(crate) computer_name: String,
    /// Whether it was removed.
    pub(crate) removed: bool,
    /// Why not, when it was not.
    pub(crate) error: Option<ItemError>,
}

/// What `removeComputers` did with each computer.
#[derive(SimpleObject, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct RemoveComputersPayload {
    /// One entry per computer, in input order.
    pub(crate) results: Vec<ComputerRemoval>,
    /// How many were removed.
    pub(crate) removed_count: usize,
}

/// Input of `addComputerComment`.
#[derive(InputObject, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct AddComputerCommentInput {
    /// The computer's host name.
    pub(crate) computer_name: String,
    /// The comment, 6–250 characters.
    pub(crate) comment: String,
}

/// The comment `addComputerComment` set.
#[derive(SimpleObject, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct AddComputerCommentPayload {
    /// The computer's host name.
    pub(crate) computer_name: String,
    /// The comment now set.
    pub(crate) comment: String,
}

/// Mutations on users.
#[derive(Default)]
pub(crate) struct UserMutation;

#[Object]
impl UserMutation {
    /// Invites users by email (RemotePC `user/invite`).
    #[graphql(guard = "RequireScope(Scope::UsersWrite)")]
    async fn invite_users(
        &self,
        ctx: &Context<'_>,
        input: InviteUsersInput,
    ) -> Result<InviteUsersPayload> {
        audited(ctx, "inviteUsers", recorded(&input), async {
            let outcome = directory(ctx)?
                .invite(input.emails, input.two_factor, input.sso)
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
    #[graphql(guard = "RequireScope(Scope::UsersWrite)")]
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
    #[graphql(guard = "RequireScope(Scope::UsersWrite)")]
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
    #[graphql(guard = "RequireScope(Scope::ComputersWrite)")]
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
    #[graphql(guard = "RequireScope(Scope::ComputersWrite)")]
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
    #[graphql(guard = "RequireScope(Scope::ComputersWrite)")]
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
    #[graphql(guard = "RequireScope(Scope::ComputersWrite)")]
    async fn add_computer_comment(
        &self,
        ctx: &Context<'_>,
        input: AddComputerCommentInput,
    ) -> Result<AddComputerCommentPayload> {
        audited(ctx, "addComputerComment", recorded(&input), async {
            fleet(ctx)?
                .comment(&input.computer_name, &input.comment)
                .await
                .map_err(catalog_error)?;
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
    let computer_names = fleet(ctx)?
        .assign(&input.username, input.computer_names, assign)
        .await
        .map_err(catalog_error)?;
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
    #[graphql(guard = "RequireScope(Scope::GroupsWrite)")]
    async fn create_group(
        &self,
        ctx: &Context<'_>,
        input: CreateGroupInput,
    ) -> Result<GroupPayload> {
        audited(ctx, "createGroup", recorded(&input), async {
            let team = &caller(ctx)?.team;
            let computer_names = fleet(ctx)?
                .create_group(&input.name, input.computer_names, team)
                .await
                .map_err(catalog_error)?;
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
    #[graphql(guard = "RequireScope(Scope::GroupsWrite)")]
    async fn move_computers_to_group(
        &self,
        ctx: &Context<'_>,
        input: MoveComputersToGroupInput,
    ) -> Result<GroupPayload> {
        audited(ctx, "moveComputersToGroup", recorded(&input), async {
            let team = &caller(ctx)?.team;
            let computer_names = fleet(ctx)?
                .move_to_group(&input.group_name, input.computer_names, team)
                .await
                .map_err(catalog_error)?;
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
