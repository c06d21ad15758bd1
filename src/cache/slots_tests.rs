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

#[tokio::test]
async fn a_refresh_started_before_a_write_does_not_undo_it() {
    let cache = cache();
    assert_eq!(value(&cache).await, Some(0));

    let (release, released) = tokio::sync::oneshot::channel::<()>();
    let refresh = cache.get("acme", true, || async {
        let _ = released.await;
        Ok(Snapshot::new([Item("a", 1)]).into())
    });
    let (refreshed, ()) = tokio::join!(refresh, async {
        tokio::task::yield_now().await;
        cache
            .patch("acme", |_| Patch {
                removed: Vec::new(),
                upserted: vec![Item("a", 2)],
            })
            .await;
        let _ = release.send(());
    });

    assert_eq!(
        refreshed
            .expect("fetched")
            .snapshot
            .get("a")
            .map(|item| item.1),
        Some(1)
    );
    assert_eq!(value(&cache).await, Some(2), "the patched snapshot stays");
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
