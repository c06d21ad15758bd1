use std::borrow::Cow;

use super::*;

#[derive(Debug, Clone, PartialEq)]
struct Item(&'static str, u8);

impl Keyed for Item {
    fn key(&self) -> &str {
        self.0
    }
    fn comparable(key: &str) -> Cow<'_, str> {
        Cow::Borrowed(key)
    }
}

/// A loader's error: the cache needs no particular type.
#[derive(Debug)]
struct Failed;

fn cache() -> SnapshotCache<Item, Failed> {
    SnapshotCache::new(
        "items",
        Freshness {
            ttl: Duration::from_secs(60),
            max_stale: Duration::from_secs(60),
            min_refresh_interval: Duration::ZERO,
        },
        crate::clock::Clock::system(),
    )
}

async fn value(cache: &SnapshotCache<Item, Failed>) -> Option<u8> {
    let served = cache
        .get("acme", false, || async {
            Ok(Snapshot::new([Item("a", 0)]).into())
        })
        .await
        .expect("served");
    served.snapshot.get("a").map(|item| item.1)
}

/// A refresh whose loader waits for `release`, then returns `items`.
fn held_refresh(
    cache: &SnapshotCache<Item, Failed>,
    released: tokio::sync::oneshot::Receiver<()>,
    items: Vec<Item>,
) -> impl Future<Output = Result<Served<Item>, Arc<Failed>>> + '_ {
    cache.get("acme", true, move || async move {
        let _ = released.await;
        Ok(Snapshot::new(items).into())
    })
}

fn set(key: &'static str, value: u8) -> impl FnOnce(&Snapshot<Item>) -> Patch<Item> {
    move |_| Patch {
        removed: Vec::new(),
        upserted: vec![Item(key, value)],
    }
}

async fn items(cache: &SnapshotCache<Item, Failed>) -> Vec<Item> {
    let served = cache
        .get("acme", false, || async { Err(Failed) })
        .await
        .expect("served from the slot");
    let mut items: Vec<Item> = served
        .snapshot
        .items()
        .iter()
        .map(|item| (**item).clone())
        .collect();
    items.sort_by_key(|item| item.0);
    items
}

#[tokio::test]
async fn a_refresh_started_before_a_write_does_not_undo_it() {
    let cache = cache();
    assert_eq!(value(&cache).await, Some(0));

    let (release, released) = tokio::sync::oneshot::channel::<()>();
    let refresh = held_refresh(&cache, released, vec![Item("a", 1)]);
    let (refreshed, ()) = tokio::join!(refresh, async {
        tokio::task::yield_now().await;
        cache.patch("acme", set("a", 2)).await;
        let _ = release.send(());
    });

    // The refresh's own readers are served the write too.
    let refreshed = refreshed.expect("fetched");
    assert_eq!(refreshed.snapshot.get("a").map(|item| item.1), Some(2));
    assert_eq!(value(&cache).await, Some(2), "the patched snapshot stays");
}

#[tokio::test]
async fn a_refresh_overlapping_writes_is_kept_with_their_patches_over_it() {
    let cache = cache();
    assert_eq!(value(&cache).await, Some(0));

    // RemotePC changed `b` and added `c`; the gateway wrote `a` twice and
    // removed `c` while the refresh ran.
    let (release, released) = tokio::sync::oneshot::channel::<()>();
    let fetched = vec![Item("a", 0), Item("b", 7), Item("c", 1)];
    let refresh = held_refresh(&cache, released, fetched);
    let (refreshed, ()) = tokio::join!(refresh, async {
        tokio::task::yield_now().await;
        cache.patch("acme", set("a", 2)).await;
        cache.patch("acme", set("a", 3)).await;
        cache
            .patch("acme", |_| Patch {
                removed: vec!["c".to_owned()],
                upserted: Vec::new(),
            })
            .await;
        let _ = release.send(());
    });
    refreshed.expect("fetched");
    assert_eq!(
        items(&cache).await,
        vec![Item("a", 3), Item("b", 7)],
        "what RemotePC changed is kept, and every write over it"
    );
    assert_eq!(
        cache.age("acme").map(|age| age < Duration::from_secs(1)),
        Some(true)
    );
}

#[tokio::test]
async fn a_refresh_overlapping_a_write_of_unknown_outcome_is_not_kept() {
    let cache = cache();
    assert_eq!(value(&cache).await, Some(0));

    let (release, released) = tokio::sync::oneshot::channel::<()>();
    let refresh = held_refresh(&cache, released, vec![Item("a", 1)]);
    let (_, ()) = tokio::join!(refresh, async {
        tokio::task::yield_now().await;
        cache.mark_suspect("acme");
        let _ = release.send(());
    });
    // The next read does not trust the slot: it fetches anew.
    let served = cache
        .get("acme", false, || async {
            Ok(Snapshot::new([Item("a", 9)]).into())
        })
        .await
        .expect("fetched");
    assert_eq!(served.snapshot.get("a").map(|item| item.1), Some(9));
}

#[tokio::test(start_paused = true)]
async fn concurrent_misses_share_one_fetch_and_its_error() {
    let cache = cache();
    let calls = std::sync::atomic::AtomicUsize::new(0);
    let load = || {
        calls.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        async {
            // Paused time: this sleep ends only once every caller waits.
            tokio::time::sleep(Duration::from_millis(20)).await;
            Err(Failed)
        }
    };
    let results = futures::future::join_all((0..10).map(|_| cache.get("acme", false, load))).await;
    assert!(results.iter().all(Result::is_err));
    assert_eq!(calls.load(std::sync::atomic::Ordering::SeqCst), 1);
}
