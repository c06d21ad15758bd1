//! An immutable, sorted, indexed copy of one collection.

use std::borrow::Cow;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Instant;

/// An item with a unique key (a username, a host name).
pub trait Keyed {
    /// The item's key as RemotePC spells it.
    fn key(&self) -> &str;

    /// The form keys are compared in (e.g. lower case for emails).
    fn normalize(key: &str) -> Cow<'_, str> {
        Cow::Borrowed(key)
    }
}

/// A whole collection at one moment, sorted by normalized key.
#[derive(Debug)]
pub struct Snapshot<T> {
    items: Vec<Arc<T>>,
    keys: Vec<String>,
    index: HashMap<String, usize>,
    taken_at: Instant,
}

impl<T: Keyed> Snapshot<T> {
    /// Sorts and indexes `items`; when a key repeats (a record that moved
    /// between pages while they were read), the last one wins.
    pub fn new(items: impl IntoIterator<Item = T>) -> Self {
        let mut by_key: HashMap<String, T> = HashMap::new();
        for item in items {
            by_key.insert(T::normalize(item.key()).into_owned(), item);
        }
        let mut entries: Vec<(String, T)> = by_key.into_iter().collect();
        entries.sort_unstable_by(|(a, _), (b, _)| a.cmp(b));
        let index = entries
            .iter()
            .enumerate()
            .map(|(position, (key, _))| (key.clone(), position))
            .collect();
        let (keys, items) = entries
            .into_iter()
            .map(|(key, item)| (key, Arc::new(item)))
            .unzip();
        Self {
            items,
            keys,
            index,
            taken_at: Instant::now(),
        }
    }

    /// All items, sorted by normalized key.
    pub fn items(&self) -> &[Arc<T>] {
        &self.items
    }

    /// The normalized keys, in the same order as `items`.
    pub fn keys(&self) -> &[String] {
        &self.keys
    }

    /// The item with this key, if any.
    pub fn get(&self, key: &str) -> Option<&Arc<T>> {
        self.index
            .get(T::normalize(key).as_ref())
            .map(|position| &self.items[*position])
    }

    /// How many items the collection holds.
    pub fn len(&self) -> usize {
        self.items.len()
    }

    /// Whether the collection is empty.
    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    /// When the snapshot was taken.
    pub fn taken_at(&self) -> Instant {
        self.taken_at
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, PartialEq)]
    struct Email(&'static str, u8);

    impl Keyed for Email {
        fn key(&self) -> &str {
            self.0
        }
        fn normalize(key: &str) -> Cow<'_, str> {
            Cow::Owned(key.to_ascii_lowercase())
        }
    }

    #[test]
    fn sorted_deduplicated_and_looked_up_by_normalized_key() {
        let snapshot = Snapshot::new([Email("b@x.io", 1), Email("A@x.io", 2), Email("B@X.io", 3)]);
        assert_eq!(snapshot.keys(), ["a@x.io", "b@x.io"]);
        assert_eq!(snapshot.get("b@x.IO").map(|item| item.1), Some(3));
        assert!(snapshot.get("c@x.io").is_none());
    }
}
