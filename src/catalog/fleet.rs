//! Devices and groups: list, assign, unassign, group, remove, comment.

use std::sync::Arc;

use super::relations::RelationCache;
use super::validation::{Checker, dedup};
use super::{Catalog, CatalogError, Device, rules};
use crate::cache::{Patch, Served, SnapshotCache};
use crate::store::{KnownGroup, Store};
use crate::upstream::{RemotePcClient, UpstreamError, wire};

/// The devices of one account.
#[derive(Clone, Copy)]
pub struct Fleet<'a> {
    account: &'a str,
    client: &'a RemotePcClient,
    cache: &'a SnapshotCache<Device, UpstreamError>,
    catalog: &'a Catalog,
    store: &'a Store,
    relations: &'a RelationCache,
    remove_batch_size: usize,
}

/// What happened to one computer of a removal.
#[derive(Debug, Clone)]
pub struct RemovalOutcome {
    /// The computer's host name.
    pub name: String,
    /// `None` when removed; else the failure of the call its batch went in.
    pub error: Option<Arc<UpstreamError>>,
}

impl<'a> Fleet<'a> {
    /// The devices of `account` in `catalog`.
    pub(super) fn new(account: &'a str, client: &'a RemotePcClient, catalog: &'a Catalog) -> Self {
        Self {
            account,
            client,
            cache: catalog.cache::<Device>(),
            catalog,
            store: &catalog.store,
            relations: &catalog.relations,
            remove_batch_size: catalog.remove_batch_size,
        }
    }

    /// Groups this gateway created or moved computers into, with the
    /// computers it moved.
    pub async fn known_groups(&self) -> Result<Vec<KnownGroup>, CatalogError> {
        Ok(self.store.groups(self.account).await?)
    }

    /// Remembers a group change RemotePC accepted. RemotePC made the change
    /// already, so a store failure is logged rather than failing the call.
    async fn remember_group(&self, group: &str, team: &str, members: &[String]) {
        if let Err(error) = self
            .store
            .record_group(self.account, group, team, members)
            .await
        {
            tracing::error!(error = %error, group, "group change not remembered");
        }
        self.relations.changed(self.account);
    }

    /// Every device: the cached snapshot, or all upstream pages read anew.
    /// With replicas, one of them reads RemotePC and the others load its
    /// snapshot.
    pub async fn devices(&self, refresh: bool) -> Result<Served<Device>, CatalogError> {
        self.catalog.listed::<Device>(self.account, refresh).await
    }

    /// After a write whose outcome is unknown the snapshot may be wrong:
    /// the next read fetches anew, and serves it marked suspect while
    /// RemotePC fails.
    fn suspect_if_unknown(&self, error: &UpstreamError) {
        if error.outcome_unknown() {
            self.cache.mark_suspect(self.account);
        }
    }

    /// Assigns computers to a user, or unassigns them.
    pub async fn assign(
        &self,
        username: &str,
        names: Vec<String>,
        assign: bool,
    ) -> Result<Vec<String>, CatalogError> {
        let username = username.trim();
        Checker::default()
            .check(
                "username",
                if username.is_empty() {
                    Some("Username is required")
                } else {
                    rules::username_problem(username)
                },
            )
            .computer_names("computerNames", &names)
            .finish()?;
        let request = wire::AssignComputers {
            username: username.to_owned(),
            computer_names: dedup(names, false),
        };
        // Devices do not show assignments, so the snapshot needs no change.
        let result = if assign {
            self.client.assign_computers(&request).await
        } else {
            self.client.unassign_computers(&request).await
        };
        result?;
        // RemotePC made the change already: a store failure is logged.
        let recorded = self
            .store
            .record_assignments(self.account, username, &request.computer_names, assign)
            .await;
        if let Err(error) = recorded {
            tracing::error!(error = %error, "assignment not remembered");
        }
        self.relations.changed(self.account);
        Ok(request.computer_names)
    }

    /// Creates a group, moving `names` into it, on behalf of `team`.
    pub async fn create_group(
        &self,
        name: &str,
        names: Vec<String>,
        team: &str,
    ) -> Result<Vec<String>, CatalogError> {
        let mut checker = Checker::default();
        checker.check(
            "name",
            name.trim()
                .is_empty()
                .then_some("Group name cannot be blank"),
        );
        if !names.is_empty() {
            checker.computer_names("computerNames", &names);
        }
        checker.finish()?;
        let names = dedup(names, false);
        let request = wire::CreateGroup {
            group_name: name.trim().to_owned(),
            computer_names: (!names.is_empty()).then(|| names.clone()),
        };
        self.client.create_group(&request).await?;
        self.remember_group(&request.group_name, team, &names).await;
        Ok(names)
    }

    /// Moves computers into an existing group, on behalf of `team`.
    pub async fn move_to_group(
        &self,
        group: &str,
        names: Vec<String>,
        team: &str,
    ) -> Result<Vec<String>, CatalogError> {
        Checker::default()
            .check(
                "groupName",
                group
                    .trim()
                    .is_empty()
                    .then_some("Group name cannot be blank"),
            )
            .computer_names("computerNames", &names)
            .finish()?;
        let request = wire::MoveToGroup {
            group_name: group.trim().to_owned(),
            computer_names: dedup(names, false),
        };
        self.client.move_to_group(&request).await?;
        self.remember_group(&request.group_name, team, &request.computer_names)
            .await;
        Ok(request.computer_names)
    }

    /// Removes offline computers, in calls of at most `remove_batch_size`
    /// (RemotePC takes 50 at most), reporting each computer. Batches run one
    /// after another, and a failed batch does not stop the next.
    pub async fn remove(&self, names: Vec<String>) -> Result<Vec<RemovalOutcome>, CatalogError> {
        Checker::default()
            .computer_names("computerNames", &names)
            .finish()?;
        let names = dedup(names, false);
        let mut outcomes = Vec::with_capacity(names.len());
        for batch in names.chunks(self.remove_batch_size.clamp(1, rules::REMOVE_LIMIT)) {
            let request = wire::RemoveComputers {
                computer_names: batch.to_vec(),
            };
            let error = self
                .client
                .remove_computers(&request)
                .await
                .inspect_err(|error| self.suspect_if_unknown(error))
                .err()
                .map(Arc::new);
            outcomes.extend(batch.iter().map(|name| RemovalOutcome {
                name: name.clone(),
                error: error.clone(),
            }));
        }
        let removed: Vec<String> = outcomes
            .iter()
            .filter(|outcome| outcome.error.is_none())
            .map(|outcome| outcome.name.clone())
            .collect();
        self.cache
            .patch(self.account, |_| Patch {
                removed: removed.clone(),
                upserted: Vec::new(),
            })
            .await;
        if let Err(error) = self.store.forget_devices(self.account, &removed).await {
            tracing::error!(error = %error, "removed computers' group membership not forgotten");
        }
        self.relations.changed(self.account);
        Ok(outcomes)
    }

    /// Sets a computer's comment.
    pub async fn comment(&self, name: &str, comment: &str) -> Result<(), CatalogError> {
        Checker::default()
            .check(
                "computerName",
                name.trim()
                    .is_empty()
                    .then_some("Computer name cannot be blank"),
            )
            .check("comment", rules::comment_problem(comment))
            .finish()?;
        let request = wire::AddComment {
            computer_name: name.trim().to_owned(),
            comment_desc: comment.to_owned(),
        };
        self.client
            .add_comment(&request)
            .await
            .inspect_err(|error| self.suspect_if_unknown(error))?;
        self.cache
            .patch(self.account, |devices| {
                let commented = devices.get(&request.computer_name).map(|device| Device {
                    comment: Some(request.comment_desc.trim().to_owned())
                        .filter(|comment| !comment.is_empty()),
                    ..Device::clone(device)
                });
                Patch {
                    removed: Vec::new(),
                    upserted: commented.into_iter().collect(),
                }
            })
            .await;
        Ok(())
    }
}
