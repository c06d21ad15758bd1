//! An immutable, sorted, indexed copy of one collection, with sorted views
//! built once per ordering and shared by every query on the snapshot, and
//! what answers write of each item (its fields as JSON, its cursor in a
//! view) kept once written: a snapshot never changes, so neither do they.

use std::borrow::Cow;
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

/// An item with a unique key (a username, a host name).
pub trait Keyed {
    /// The item's key as RemotePC spells it.
    fn key(&self) -> &str;

    /// The form keys are compared in (e.g. lower case for emails).
    fn comparable(key: &str) -> Cow<'_, str> {
        Cow::Borrowed(key)
    }
}

/// An item's fields as answers write them, computed from the item alone:
/// the one form a snapshot keeps of each item it was asked for.
pub trait WrittenForm {
    /// The item, written.
    fn written_form(&self) -> Box<[u8]>;
}

/// The snapshot's items in one order: `(sort key, position)` pairs sorted by
/// sort key, then by item key.
#[derive(Debug)]
pub struct SortedView {
    /// Sort key and position in `Snapshot::items`, in view order.
    pub entries: Vec<(String, u32)>,
    /// Each entry's cursor once a page has written it: at most one per
    /// entry, freed with the snapshot.
    cursors: Box<[OnceLock<Box<str>>]>,
}

impl SortedView {
    fn new(entries: Vec<(String, u32)>) -> Self {
        let cursors = entries.iter().map(|_| OnceLock::new()).collect();
        Self { entries, cursors }
    }

    /// The cursor of the entry at `in_view`, made by `encode` from its sort
    /// key and position the first time it is asked for. A view is one
    /// ordering, so there is one cursor encoding per entry.
    pub fn cursor(&self, in_view: usize, encode: impl FnOnce(&str, u32) -> String) -> &str {
        let (sort_key, position) = &self.entries[in_view];
        self.cursors[in_view].get_or_init(|| encode(sort_key, *position).into_boxed_str())
    }
}

/// A whole collection at one moment, sorted by normalized key.
#[derive(Debug)]
pub struct Snapshot<T> {
    /// Unique to this snapshot in the process: a changed copy gets a new
    /// one, so anything derived from a snapshot can tell whether it is
    /// still current.
    version: u64,
    items: Vec<Arc<T>>,
    keys: Vec<String>,
    index: HashMap<String, u32>,
    /// std `Mutex`: never held across `.await`; views are built once.
    /// Keyed by ordering name and facet name ("" for all items).
    views: Mutex<HashMap<(&'static str, &'static str), Arc<SortedView>>>,
    /// Each item's written form once an answer has needed it: at most one
    /// per item, freed with the snapshot.
    written: Box<[OnceLock<Box<[u8]>>]>,
    position: Arc<LogPosition>,
}

impl<T> Snapshot<T> {
    /// How many items the collection holds.
    pub fn len(&self) -> usize {
        self.items.len()
    }

    /// Whether the collection is empty.
    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    /// This snapshot's version: different for every snapshot built.
    pub fn version(&self) -> u64 {
        self.version
    }

    /// Where the change log stands once it holds every change this
    /// snapshot shows.
    pub fn position(&self) -> &Arc<LogPosition> {
        &self.position
    }
}

/// A change-log position known later than the snapshot it belongs to:
/// set once the log has written the snapshot's changes.
#[derive(Debug, Default)]
pub struct LogPosition {
    /// The position plus one; 0 while unknown.
    value: AtomicU64,
    known: tokio::sync::Notify,
}

impl LogPosition {
    /// Records the position and wakes whoever waits for it.
    pub fn set(&self, position: u64) {
        self.value
            .store(position.saturating_add(1), Ordering::Release);
        self.known.notify_waiters();
    }

    /// The position, if known yet.
    pub fn get(&self) -> Option<u64> {
        self.value.load(Ordering::Acquire).checked_sub(1)
    }

    /// The position, once known.
    pub async fn known(&self) -> u64 {
        loop {
            let known = self.known.notified();
            if let Some(position) = self.get() {
                return position;
            }
            known.await;
        }
    }
}

impl<T: Keyed> Snapshot<T> {
    /// Sorts and indexes `items`; when a key repeats (a record that moved
    /// between pages while they were read), the last one wins.
    pub fn new(items: impl IntoIterator<Item = T>) -> Self {
        Self::from_shared(items.into_iter().map(Arc::new))
    }

    fn from_shared(items: impl IntoIterator<Item = Arc<T>>) -> Self {
        let mut entries: Vec<(String, Arc<T>)> = items
            .into_iter()
            .map(|item| (T::comparable(item.key()).into_owned(), item))
            .collect();
        // Stable: of items with the same key, the last one read ends last,
        // and the dedup below keeps it.
        entries.sort_by(|(a, _), (b, _)| a.cmp(b));
        entries.reverse();
        entries.dedup_by(|(later, _), (kept, _)| later == kept);
        entries.reverse();
        let index = entries
            .iter()
            .enumerate()
            .map(|(position, (key, _))| (key.clone(), position as u32))
            .collect();
        let (keys, items): (Vec<String>, Vec<Arc<T>>) = entries.into_iter().unzip();
        static VERSIONS: AtomicU64 = AtomicU64::new(1);
        Self {
            version: VERSIONS.fetch_add(1, Ordering::Relaxed),
            written: items.iter().map(|_| OnceLock::new()).collect(),
            items,
            keys,
            index,
            views: Mutex::default(),
            position: Arc::default(),
        }
    }

    /// A copy without the items keyed `removed` and with `upserted` added or
    /// replacing the items of the same key.
    pub fn with_changes(&self, removed: &[String], upserted: impl IntoIterator<Item = T>) -> Self {
        let removed: std::collections::HashSet<Cow<'_, str>> = removed
            .iter()
            .map(|key| T::comparable(key.as_str()))
            .collect();
        let kept = self
            .keys
            .iter()
            .zip(&self.items)
            .filter(|(key, _)| !removed.contains(key.as_str()))
            .map(|(_, item)| Arc::clone(item));
        Self::from_shared(kept.chain(upserted.into_iter().map(Arc::new)))
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
            .get(T::comparable(key).as_ref())
            .map(|position| &self.items[*position as usize])
    }

    /// The items with these keys, in their order; keys not here are left
    /// out.
    pub fn get_all<'k>(&self, keys: impl IntoIterator<Item = &'k str>) -> Vec<Arc<T>> {
        let found = keys.into_iter().filter_map(|key| self.get(key));
        found.map(Arc::clone).collect()
    }

    /// The item at `position` in its written form, written the first time
    /// it is asked for and kept with the snapshot: answers copy it instead
    /// of formatting the item again.
    pub fn written(&self, position: usize) -> &[u8]
    where
        T: WrittenForm,
    {
        self.written[position].get_or_init(|| self.items[position].written_form())
    }

    /// The items ordered by `sort_key`, then by key; built on first use under
    /// `name` and shared afterwards.
    pub fn view(&self, name: &'static str, sort_key: impl Fn(&T) -> String) -> Arc<SortedView> {
        self.facet_view(name, "", |_| true, sort_key)
    }

    /// The items `keep` accepts, ordered by `sort_key`, then by key; built
    /// on first use under `(name, facet)` and shared afterwards. A facet is
    /// an index: a listing filtered by it reads only the items it holds.
    pub fn facet_view(
        &self,
        name: &'static str,
        facet: &'static str,
        keep: impl Fn(&T) -> bool,
        sort_key: impl Fn(&T) -> String,
    ) -> Arc<SortedView> {
        let mut views = self
            .views
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let view = views.entry((name, facet)).or_insert_with(|| {
            let mut entries: Vec<(String, u32)> = self
                .items
                .iter()
                .enumerate()
                .filter(|(_, item)| keep(item))
                .map(|(position, item)| (sort_key(item), position as u32))
                .collect();
            // Positions follow key order, so ties on the sort key fall back
            // to the item key.
            entries.sort_unstable();
            Arc::new(SortedView::new(entries))
        });
        Arc::clone(view)
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
        fn comparable(key: &str) -> Cow<'_, str> {
            Cow::Owned(key.to_ascii_lowercase())
        }
    }

    /// Written forms made, by every `Email` of the tests.
    static FORMS_WRITTEN: AtomicU64 = AtomicU64::new(0);

    impl WrittenForm for Email {
        fn written_form(&self) -> Box<[u8]> {
            FORMS_WRITTEN.fetch_add(1, Ordering::Relaxed);
            format!("{}#{}", self.0, self.1)
                .into_bytes()
                .into_boxed_slice()
        }
    }

    #[test]
    fn an_items_written_form_is_written_once_and_a_changed_copy_writes_its_own() {
        let snapshot = Snapshot::new([Email("b@x.io", 1), Email("a@x.io", 2)]);
        let before = FORMS_WRITTEN.load(Ordering::Relaxed);
        assert_eq!(snapshot.written(1), b"b@x.io#1");
        assert_eq!(snapshot.written(1), b"b@x.io#1");
        assert_eq!(snapshot.written(0), b"a@x.io#2");
        assert_eq!(FORMS_WRITTEN.load(Ordering::Relaxed) - before, 2);
        let changed = snapshot.with_changes(&[], [Email("b@x.io", 3)]);
        assert_eq!(changed.written(1), b"b@x.io#3");
    }

    #[test]
    fn a_views_cursors_are_encoded_once_per_entry() {
        let snapshot = Snapshot::new([Email("c@x.io", 1), Email("a@x.io", 2)]);
        let by_number = snapshot.view("number", |item| item.1.to_string());
        let encode = |sort_key: &str, position: u32| format!("{sort_key}/{position}");
        assert_eq!(by_number.cursor(0, encode), "1/1");
        assert_eq!(by_number.cursor(1, encode), "2/0");
        assert_eq!(
            by_number.cursor(0, |_, _| unreachable!("encoded once")),
            "1/1"
        );
    }

    #[test]
    fn sorted_deduplicated_and_looked_up_by_normalized_key() {
        let snapshot = Snapshot::new([Email("b@x.io", 1), Email("A@x.io", 2), Email("B@X.io", 3)]);
        assert_eq!(snapshot.keys(), ["a@x.io", "b@x.io"]);
        assert_eq!(snapshot.get("b@x.IO").map(|item| item.1), Some(3));
        assert!(snapshot.get("c@x.io").is_none());
    }

    #[test]
    fn changes_remove_and_upsert_by_key() {
        let snapshot = Snapshot::new([Email("a@x.io", 1), Email("b@x.io", 2)]);
        let changed = snapshot.with_changes(
            &["A@X.IO".to_owned()],
            [Email("c@x.io", 3), Email("b@x.io", 4)],
        );
        assert_eq!(changed.keys(), ["b@x.io", "c@x.io"]);
        assert_eq!(changed.get("b@x.io").map(|item| item.1), Some(4));
        assert_ne!(changed.version(), snapshot.version());
    }

    #[test]
    fn views_order_by_sort_key_then_key_and_are_built_once() {
        let snapshot = Snapshot::new([Email("c@x.io", 1), Email("a@x.io", 2), Email("b@x.io", 1)]);
        let by_number = snapshot.view("number", |item| item.1.to_string());
        let order: Vec<&str> = by_number
            .entries
            .iter()
            .map(|(_, position)| snapshot.keys()[*position as usize].as_str())
            .collect();
        assert_eq!(order, ["b@x.io", "c@x.io", "a@x.io"]);
        let again = snapshot.view("number", |_| unreachable!("built once"));
        assert!(Arc::ptr_eq(&by_number, &again));
        let ones = snapshot.facet_view(
            "number",
            "one",
            |item| item.1 == 1,
            |item| item.1.to_string(),
        );
        assert_eq!(ones.entries.len(), 2);
        assert!(!Arc::ptr_eq(&by_number, &ones));
    }
}
