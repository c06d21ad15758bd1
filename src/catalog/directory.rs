//! Users: list, invite, create, delete.

use std::collections::BTreeMap;

use secrecy::{ExposeSecret, SecretString};

use super::relations::RelationCache;
use super::validation::{Checker, dedup};
use super::{Catalog, CatalogError, User, rules};
use crate::cache::{Patch, Served, SnapshotCache};
use crate::store::Store;
use crate::upstream::{RemotePcClient, UpstreamError, wire};

/// The users of one account.
#[derive(Clone, Copy)]
pub struct Directory<'a> {
    account: &'a str,
    client: &'a RemotePcClient,
    cache: &'a SnapshotCache<User, UpstreamError>,
    catalog: &'a Catalog,
    store: &'a Store,
    relations: &'a RelationCache,
}

/// A user to create.
#[derive(Debug, Clone)]
pub struct NewUser {
    /// First name: letters and spaces.
    pub first_name: String,
    /// Last name: letters and spaces.
    pub last_name: String,
    /// Email, used as the username.
    pub email: String,
    /// 6–20 characters of the documented set.
    pub password: SecretString,
    /// Require two-factor authentication.
    pub two_factor: Option<bool>,
}

/// What `user/invite` did with each email.
#[derive(Debug, Clone, PartialEq)]
pub struct InviteOutcome {
    /// Emails invited.
    pub invited: Vec<String>,
    /// Emails RemotePC refused (already in use, already invited, invalid).
    pub invalid: Vec<String>,
}

/// Whether an email belonged to an active or an invited user.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UserKind {
    /// An active user (`sub_ids`).
    Active,
    /// A pending invitation (`invited_ids`).
    Invited,
}

/// What `user/delete` did with one email.
#[derive(Debug, Clone, PartialEq)]
pub struct DeleteOutcome {
    /// The email.
    pub email: String,
    /// Active user or invitation.
    pub kind: UserKind,
    /// Whether RemotePC reported `SUCCESS` for it.
    pub deleted: bool,
}

impl<'a> Directory<'a> {
    /// The users of `account` in `catalog`.
    pub(super) fn new(account: &'a str, client: &'a RemotePcClient, catalog: &'a Catalog) -> Self {
        Self {
            account,
            client,
            cache: catalog.cache::<User>(),
            catalog,
            store: &catalog.store,
            relations: &catalog.relations,
        }
    }

    /// Every user: the cached snapshot, or all upstream pages read anew.
    /// With replicas, one of them reads RemotePC and the others load its
    /// snapshot.
    pub async fn users(&self, refresh: bool) -> Result<Served<User>, CatalogError> {
        self.catalog.listed::<User>(self.account, refresh).await
    }

    /// After a write whose outcome is unknown the snapshot may be wrong:
    /// the next read fetches anew, and serves it marked suspect while
    /// RemotePC fails.
    fn suspect_if_unknown(&self, error: UpstreamError) -> CatalogError {
        if error.outcome_unknown() {
            self.cache.mark_suspect(self.account);
        }
        error.into()
    }

    /// Invites `emails` on behalf of `by` (a team or role); emails
    /// RemotePC refuses come back in `invalid`.
    pub async fn invite(
        &self,
        emails: Vec<String>,
        two_factor: Option<bool>,
        sso: Option<bool>,
        by: &str,
    ) -> Result<InviteOutcome, CatalogError> {
        Checker::default()
            .emails("emails", &emails, true)
            .finish()?;
        let request = wire::InviteUsers {
            email: dedup(emails, true),
            status_2fa: two_factor.map(u8::from),
            sso_flag: sso.map(u8::from),
        };
        let outcome = self
            .client
            .invite_users(&request)
            .await
            .map_err(|error| self.suspect_if_unknown(error))?;
        // Whether invitations show in `user/list` is not documented: read
        // anew (and keep serving this one if RemotePC fails meanwhile).
        self.cache.mark_suspect(self.account);
        let recorded = self
            .store
            .record_invitations(self.account, &outcome.invited_list, by)
            .await;
        if let Err(error) = recorded {
            tracing::error!(error = %error, "invitations not remembered");
        }
        Ok(InviteOutcome {
            invited: outcome.invited_list,
            invalid: outcome.invalid_list,
        })
    }

    /// Creates an active user.
    pub async fn create(&self, user: NewUser) -> Result<User, CatalogError> {
        let email = user.email.trim().to_owned();
        Checker::default()
            .check(
                "firstName",
                rules::person_name_problem("First name", &user.first_name),
            )
            .check(
                "lastName",
                rules::person_name_problem("Last name", &user.last_name),
            )
            .check("email", rules::username_problem(&email))
            .check(
                "password",
                rules::password_problem(user.password.expose_secret()),
            )
            .finish()?;
        let request = wire::CreateUser {
            firstname: user.first_name.trim().to_owned(),
            lastname: user.last_name.trim().to_owned(),
            username: email.clone(),
            password: user.password.expose_secret().to_owned(),
            status_2fa: user.two_factor.map(u8::from),
        };
        self.client
            .create_user(&request)
            .await
            .map_err(|error| self.suspect_if_unknown(error))?;
        let created = User {
            username: email,
            first_name: Some(request.firstname),
            last_name: Some(request.lastname),
        };
        self.cache
            .patch(self.account, |_| Patch {
                removed: Vec::new(),
                upserted: vec![created.clone()],
            })
            .await;
        Ok(created)
    }

    /// Deletes active users and invitations, reporting each email.
    pub async fn delete(
        &self,
        active: Vec<String>,
        invited: Vec<String>,
    ) -> Result<Vec<DeleteOutcome>, CatalogError> {
        let mut checker = Checker::default();
        checker
            .emails("activeUsers", &active, false)
            .emails("invitedUsers", &invited, false)
            .check(
                "activeUsers",
                (active.is_empty() && invited.is_empty())
                    .then_some("list at least one email in activeUsers or invitedUsers"),
            )
            .finish()?;
        let request = wire::DeleteUsers {
            sub_ids: dedup(active, true),
            invited_ids: dedup(invited, true),
        };
        let outcome = self
            .client
            .delete_users(&request)
            .await
            .map_err(|error| self.suspect_if_unknown(error))?;
        let mut outcomes = report(
            request.sub_ids,
            &outcome.active_user_delete_status,
            UserKind::Active,
        );
        outcomes.extend(report(
            request.invited_ids,
            &outcome.invited_user_delete_status,
            UserKind::Invited,
        ));
        let deleted: Vec<String> = outcomes
            .iter()
            .filter(|outcome| outcome.kind == UserKind::Active && outcome.deleted)
            .map(|outcome| outcome.email.clone())
            .collect();
        self.cache
            .patch(self.account, |_| Patch {
                removed: deleted,
                upserted: Vec::new(),
            })
            .await;
        let gone: Vec<String> = outcomes
            .iter()
            .filter(|outcome| outcome.deleted)
            .map(|outcome| outcome.email.clone())
            .collect();
        if let Err(error) = self.store.forget_users(self.account, &gone).await {
            tracing::error!(error = %error, "deleted users' assignments not forgotten");
        }
        self.relations.changed(self.account);
        Ok(outcomes)
    }
}

/// One outcome per email sent, matched case-insensitively against the
/// statuses RemotePC returned; an email it did not mention was not deleted.
fn report(
    emails: Vec<String>,
    statuses: &BTreeMap<String, String>,
    kind: UserKind,
) -> Vec<DeleteOutcome> {
    emails
        .into_iter()
        .map(|email| {
            let deleted = statuses
                .iter()
                .find(|(key, _)| key.trim().eq_ignore_ascii_case(&email))
                .is_some_and(|(_, status)| status.trim().eq_ignore_ascii_case("success"));
            DeleteOutcome {
                email,
                kind,
                deleted,
            }
        })
        .collect()
}
