//! An executed operation as the runner hands it on: the response, the
//! snapshots it read, and `extensions.cache` built from their ages.

use std::collections::BTreeMap;

use async_graphql::{Name, Response, Value};

use crate::catalog::Collection;
use crate::graphql::schema::cache_report::{SnapshotRead, Staleness};

/// An executed operation and what it read.
pub(super) struct Executed {
    pub(super) response: Response,
    pub(super) reads: BTreeMap<Collection, SnapshotRead>,
    pub(super) reusable: bool,
}

impl Executed {
    pub(super) fn refused(errors: Vec<async_graphql::ServerError>) -> Self {
        Self {
            response: Response::from_errors(errors),
            reads: BTreeMap::new(),
            reusable: false,
        }
    }

    /// The response with `extensions.cache` added.
    pub(super) fn into_response(mut self) -> Response {
        if !self.reads.is_empty() {
            self.response
                .extensions
                .insert("cache".to_owned(), extension_value(&self.reads));
        }
        self.response
    }
}

pub(super) fn ages(
    reads: &BTreeMap<Collection, SnapshotRead>,
) -> impl Iterator<Item = (Collection, std::time::Duration, Staleness)> + '_ {
    reads
        .iter()
        .map(|(collection, read)| (*collection, read.age, read.staleness()))
}

fn extension_value(reads: &BTreeMap<Collection, SnapshotRead>) -> Value {
    Value::Object(
        ages(reads)
            .map(|(collection, age, staleness)| {
                let mut entry = async_graphql::indexmap::IndexMap::new();
                entry.insert(Name::new("ageMs"), Value::from(age.as_millis() as u64));
                entry.insert(
                    Name::new("stale"),
                    Value::from(staleness != Staleness::Fresh),
                );
                if staleness == Staleness::Suspect {
                    entry.insert(Name::new("suspect"), Value::from(true));
                }
                (Name::new(collection.as_str()), Value::Object(entry))
            })
            .collect(),
    )
}
