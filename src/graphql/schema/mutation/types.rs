//! The mutations' input objects and payloads, as the schema shows them and
//! as audit records store them (serialized, passwords redacted).

use std::sync::Arc;

use async_graphql::{ComplexObject, Context, Enum, ID, InputObject, Result, SimpleObject};
use serde::Serialize;

use crate::catalog::UpstreamError;
use crate::graphql::schema::audit_trail::redacted;
use crate::graphql::schema::device::Device;
use crate::graphql::schema::error::{ErrorCode, upstream_error};
use crate::graphql::schema::groups::Group;
use crate::graphql::schema::id::{NodeKind, global_id};
use crate::graphql::schema::user::User;

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
#[graphql(complex)]
#[serde(rename_all = "camelCase")]
pub(crate) struct DeleteUsersPayload {
    /// One entry per email, in input order.
    pub(crate) results: Vec<UserDeletion>,
    /// How many were deleted.
    pub(crate) deleted_count: usize,
}

#[ComplexObject]
impl DeleteUsersPayload {
    /// Global ids of the users deleted, for evicting them from a client
    /// cache.
    async fn deleted_ids(&self) -> Vec<ID> {
        self.results
            .iter()
            .filter(|result| result.deleted)
            .map(|result| global_id(NodeKind::User, &result.email))
            .collect()
    }
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
#[graphql(complex)]
#[serde(rename_all = "camelCase")]
pub(crate) struct ComputerAssignmentPayload {
    /// The user's email.
    pub(crate) username: String,
    /// Host names of the computers.
    pub(crate) computer_names: Vec<String>,
}

#[ComplexObject]
impl ComputerAssignmentPayload {
    /// The user, as the gateway's snapshot has it; null when it has no
    /// such user.
    async fn user(&self, ctx: &Context<'_>) -> Result<Option<User>> {
        User::named(ctx, &self.username).await
    }

    /// The computers, as the gateway's snapshot has them.
    async fn devices(&self, ctx: &Context<'_>) -> Result<Vec<Device>> {
        Device::named(ctx, &self.computer_names).await
    }
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
#[graphql(complex)]
#[serde(rename_all = "camelCase")]
pub(crate) struct RemoveComputersPayload {
    /// One entry per computer, in input order.
    pub(crate) results: Vec<ComputerRemoval>,
    /// How many were removed.
    pub(crate) removed_count: usize,
}

#[ComplexObject]
impl RemoveComputersPayload {
    /// Global ids of the computers removed, for evicting them from a
    /// client cache.
    async fn removed_ids(&self) -> Vec<ID> {
        self.results
            .iter()
            .filter(|result| result.removed)
            .map(|result| global_id(NodeKind::Device, &result.computer_name))
            .collect()
    }
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
#[graphql(complex)]
#[serde(rename_all = "camelCase")]
pub(crate) struct AddComputerCommentPayload {
    /// The computer's host name.
    pub(crate) computer_name: String,
    /// The comment now set.
    pub(crate) comment: String,
}

#[ComplexObject]
impl AddComputerCommentPayload {
    /// The computer with its new comment, as the gateway's snapshot has it
    /// (a normalized client cache updates itself from it); null when the
    /// snapshot no longer holds it.
    async fn device(&self, ctx: &Context<'_>) -> Result<Option<Device>> {
        let names = std::slice::from_ref(&self.computer_name);
        Ok(Device::named(ctx, names).await?.pop())
    }
}
