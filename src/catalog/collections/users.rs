//! Users, as `user/list` lists them.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use chrono_tz::Tz;

use super::{Collection, Collections, Kept, Listed};
use crate::catalog::User;
use crate::catalog::live::Change;
use crate::upstream::wire::{UserPage, WireUser};

impl Listed for User {
    const COLLECTION: Collection = Collection::Users;
    type Page = UserPage;

    fn from_record(record: WireUser, _zone: Tz) -> Option<Self> {
        User::from_wire(record)
    }

    /// RemotePC's user list holds names only: a user is added or removed.
    fn changes(_old: &Self, _new: &Arc<Self>, _at: DateTime<Utc>) -> Vec<Change<Self>> {
        Vec::new()
    }

    fn kept(collections: &Collections) -> &Kept<Self> {
        &collections.users
    }
}
