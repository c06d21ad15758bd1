//! Filtering and ordering of snapshots: what the list calls of RemotePC
//! cannot do. A `Listing` is the selected items of one snapshot in one order.

use std::ops::{Bound, Range};
use std::sync::Arc;

mod devices;
mod users;

pub use devices::{DeviceFilter, DeviceOrder, StatusHeld};
pub use users::{UserFilter, UserOrder};

use crate::cache::{Keyed, Snapshot, SortedView};

/// An ordering of a collection.
pub trait SortOrder<T> {
    /// A stable name, written into cursors.
    fn name(&self) -> &'static str;
    /// The value items are ordered by (ties fall back to the item key).
    fn sort_key(&self, item: &T) -> String;
}

/// A test of one item.
pub type Predicate<'a, T> = Box<dyn Fn(&T) -> bool + 'a>;

/// How a listing picks its items: a facet (index) of the snapshot to read,
/// a range of sort keys within it, and a test for what those leave open.
/// The facet and the range cost a lookup and two binary searches; only
/// `rest` looks at items one by one.
pub struct Selection<'a, T> {
    /// Read only the items of this facet: its name and membership test.
    pub facet: Option<(&'static str, Predicate<'a, T>)>,
    /// Lowest and highest sort key of the selected items.
    pub sort_keys: (Bound<String>, Bound<String>),
    /// Every other condition; `None` keeps every item of the range.
    pub rest: Option<Predicate<'a, T>>,
}

impl<T> Default for Selection<'_, T> {
    fn default() -> Self {
        Self {
            facet: None,
            sort_keys: (Bound::Unbounded, Bound::Unbounded),
            rest: None,
        }
    }
}

impl<T> Selection<'_, T> {
    /// Whether one item meets the facet and every other condition; the
    /// sort-key range is not tested, so use it with an order that leaves
    /// every condition item by item (a device filter in name order).
    pub fn admits(&self, item: &T) -> bool {
        self.facet.as_ref().is_none_or(|(_, keep)| keep(item))
            && self.rest.as_ref().is_none_or(|rest| rest(item))
    }
}

/// Selected items of a snapshot, in order.
pub struct Listing<T> {
    /// The snapshot the items come from.
    pub snapshot: Arc<Snapshot<T>>,
    view: Arc<SortedView>,
    /// The range of `view.entries` within the selection's sort keys.
    range: Range<usize>,
    /// Indexes into `view.entries` that `rest` accepted, ascending; `None`
    /// when the whole range is selected.
    accepted: Option<Vec<u32>>,
    /// The ordering's name.
    pub order: &'static str,
    /// Whether the listing runs from the greatest sort key down.
    pub descending: bool,
}

impl<T: Keyed> Listing<T> {
    /// The items of `snapshot` that `selection` picks, ordered by `order`.
    pub fn select(
        snapshot: Arc<Snapshot<T>>,
        order: &impl SortOrder<T>,
        descending: bool,
        selection: Selection<'_, T>,
    ) -> Self {
        let sort_key = |item: &T| order.sort_key(item);
        let view = match &selection.facet {
            Some((facet, keep)) => snapshot.facet_view(order.name(), facet, keep, sort_key),
            None => snapshot.view(order.name(), sort_key),
        };
        let entries = &view.entries;
        let after_low = |bound: &Bound<String>| match bound {
            Bound::Included(low) => entries.partition_point(|(key, _)| key < low),
            Bound::Excluded(low) => entries.partition_point(|(key, _)| key <= low),
            Bound::Unbounded => 0,
        };
        let until_high = |bound: &Bound<String>| match bound {
            Bound::Included(high) => entries.partition_point(|(key, _)| key <= high),
            Bound::Excluded(high) => entries.partition_point(|(key, _)| key < high),
            Bound::Unbounded => entries.len(),
        };
        let start = after_low(&selection.sort_keys.0);
        let range = start..until_high(&selection.sort_keys.1).max(start);
        let items = snapshot.items();
        let accepted = selection.rest.map(|keep| {
            range
                .clone()
                .filter(|index| keep(&items[entries[*index].1 as usize]))
                .map(|index| index as u32)
                .collect()
        });
        Self {
            snapshot,
            view,
            range,
            accepted,
            order: order.name(),
            descending,
        }
    }

    /// How many items were selected.
    pub fn len(&self) -> usize {
        self.accepted
            .as_ref()
            .map_or(self.range.len(), |accepted| accepted.len())
    }

    /// Whether nothing was selected.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The `index`-th item's sort key, key and value.
    pub fn entry(&self, index: usize) -> (&str, &str, &Arc<T>) {
        let (sort_key, position) = &self.view.entries[self.in_view(index)];
        let position = *position as usize;
        (
            sort_key,
            &self.snapshot.keys()[position],
            &self.snapshot.items()[position],
        )
    }

    /// Where the `index`-th item is in the snapshot's items.
    pub fn position(&self, index: usize) -> usize {
        self.view.entries[self.in_view(index)].1 as usize
    }

    /// The `index`-th item's cursor: `encode` of the ordering's name, the
    /// item's sort key and its key, made once per snapshot and view.
    pub fn cursor(&self, index: usize, encode: fn(&str, &str, &str) -> String) -> &str {
        self.view.cursor(self.in_view(index), |sort_key, position| {
            encode(
                self.order,
                sort_key,
                &self.snapshot.keys()[position as usize],
            )
        })
    }

    fn in_view(&self, index: usize) -> usize {
        let ascending = if self.descending {
            self.len() - 1 - index
        } else {
            index
        };
        match &self.accepted {
            Some(accepted) => accepted[ascending] as usize,
            None => self.range.start + ascending,
        }
    }

    /// How many items come at or before `(sort_key, key)` in listing order,
    /// i.e. where the items strictly after it start.
    pub fn position_after(&self, sort_key: &str, key: &str) -> usize {
        self.partition(|entry| {
            if self.descending {
                entry >= (sort_key, key)
            } else {
                entry <= (sort_key, key)
            }
        })
    }

    /// How many items come strictly before `(sort_key, key)` in listing order.
    pub fn position_before(&self, sort_key: &str, key: &str) -> usize {
        self.partition(|entry| {
            if self.descending {
                entry > (sort_key, key)
            } else {
                entry < (sort_key, key)
            }
        })
    }

    fn partition(&self, before: impl Fn((&str, &str)) -> bool) -> usize {
        let (mut low, mut high) = (0, self.len());
        while low < high {
            let middle = (low + high) / 2;
            let (sort_key, key, _) = self.entry(middle);
            if before((sort_key, key)) {
                low = middle + 1;
            } else {
                high = middle;
            }
        }
        low
    }
}

/// Text searched for ignoring case, lowered once.
struct Needle {
    lowered: String,
}

impl Needle {
    fn new(text: &str) -> Self {
        Self {
            lowered: text.to_lowercase(),
        }
    }

    /// Whether `haystack` contains the needle, ignoring case; without
    /// allocating when both are ASCII.
    fn found_in(&self, haystack: &str) -> bool {
        let needle = self.lowered.as_bytes();
        if haystack.is_ascii() && self.lowered.is_ascii() {
            return needle.is_empty()
                || haystack
                    .as_bytes()
                    .windows(needle.len())
                    .any(|window| window.eq_ignore_ascii_case(needle));
        }
        haystack.to_lowercase().contains(&self.lowered)
    }
}

#[cfg(test)]
mod tests;
