//! Query roots: users and devices, as connections and by key.

use std::sync::Arc;

use async_graphql::{Context, Object, Result};

use super::connection::{KeyConnection, PageArgs, paginate};
use super::error::{catalog_error, validation_error};
use super::objects::{Device, User};
use super::{directory, fleet, limits};

/// Queries on users.
#[derive(Default)]
pub(crate) struct UserQuery;

#[Object]
impl UserQuery {
    /// Users of the account, sorted by username, as a Relay connection.
    #[graphql(
        complexity = "first.or(last).map_or(50, |n| n.max(0) as usize) * child_complexity + 1"
    )]
    async fn users(
        &self,
        ctx: &Context<'_>,
        after: Option<String>,
        before: Option<String>,
        first: Option<i32>,
        last: Option<i32>,
    ) -> Result<KeyConnection<User>> {
        let snapshot = directory(ctx)?.snapshot().await.map_err(catalog_error)?;
        let args = PageArgs {
            after,
            before,
            first,
            last,
        };
        paginate(&snapshot, args, limits(ctx)?, |user| User(Arc::clone(user)))
            .map_err(|error| validation_error(&error))
    }

    /// One user by username (email, any case); null when there is none.
    async fn user(&self, ctx: &Context<'_>, username: String) -> Result<Option<User>> {
        let snapshot = directory(ctx)?.snapshot().await.map_err(catalog_error)?;
        Ok(snapshot
            .get(username.trim())
            .map(|user| User(Arc::clone(user))))
    }
}

/// Queries on devices.
#[derive(Default)]
pub(crate) struct DeviceQuery;

#[Object]
impl DeviceQuery {
    /// Devices of the account, sorted by name, as a Relay connection.
    #[graphql(
        complexity = "first.or(last).map_or(50, |n| n.max(0) as usize) * child_complexity + 1"
    )]
    async fn devices(
        &self,
        ctx: &Context<'_>,
        after: Option<String>,
        before: Option<String>,
        first: Option<i32>,
        last: Option<i32>,
    ) -> Result<KeyConnection<Device>> {
        let snapshot = fleet(ctx)?.snapshot().await.map_err(catalog_error)?;
        let args = PageArgs {
            after,
            before,
            first,
            last,
        };
        paginate(&snapshot, args, limits(ctx)?, |device| {
            Device(Arc::clone(device))
        })
        .map_err(|error| validation_error(&error))
    }

    /// One device by its exact name; null when there is none.
    async fn device(&self, ctx: &Context<'_>, name: String) -> Result<Option<Device>> {
        let snapshot = fleet(ctx)?.snapshot().await.map_err(catalog_error)?;
        Ok(snapshot
            .get(name.trim())
            .map(|device| Device(Arc::clone(device))))
    }
}
