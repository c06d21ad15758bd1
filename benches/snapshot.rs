//! Snapshot benchmark: how long a cold read of a whole collection takes
//! against a slow upstream, and how much memory cached snapshots hold.
//!
//! `cargo bench --bench snapshot` prints the figures the README quotes.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicIsize, Ordering};
use std::time::{Duration, Instant};

use remotepc_gateway::cache::Snapshot;
use remotepc_gateway::catalog::{Device, DeviceOrder, SortOrder, User, UserOrder};
use remotepc_gateway::settings::{AccountSettings, UpstreamSettings};
use remotepc_gateway::simulator::{Simulator, SimulatorConfig};
use remotepc_gateway::upstream::RemotePcClient;
use remotepc_gateway::upstream::wire::{DevicePage, PageRequest, UserPage};

/// Counts live heap bytes, to measure what snapshots hold.
struct CountingAllocator;

static LIVE_BYTES: AtomicIsize = AtomicIsize::new(0);

unsafe impl GlobalAlloc for CountingAllocator {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        LIVE_BYTES.fetch_add(layout.size() as isize, Ordering::Relaxed);
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE_BYTES.fetch_sub(layout.size() as isize, Ordering::Relaxed);
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        LIVE_BYTES.fetch_add(
            new_size as isize - layout.size() as isize,
            Ordering::Relaxed,
        );
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static ALLOCATOR: CountingAllocator = CountingAllocator;

const RECORDS: usize = 10_000;
const LATENCY: Duration = Duration::from_millis(20);
const RUNS: usize = 7;

fn median(mut samples: Vec<Duration>) -> Duration {
    samples.sort();
    samples[samples.len() / 2]
}

fn mib(bytes: isize) -> f64 {
    bytes as f64 / (1024.0 * 1024.0)
}

/// A cursor of the connections' size: their JSON array in base64url.
fn cursor_like(order: &str, sort_key: &str, key: &str) -> String {
    use base64::Engine;
    let json = serde_json::to_vec(&["c1", order, sort_key, key]).unwrap_or_default();
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(json)
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let simulator = Simulator::start(SimulatorConfig {
        users: RECORDS,
        devices: RECORDS,
        latency: LATENCY,
        ..SimulatorConfig::default()
    })
    .await?;
    let account = AccountSettings::with_inline_key(&simulator.base_url(), &simulator.api_key());
    // The default rate (20 calls a second, 40 at once after a quiet spell)
    // lets one cold read's 21 calls go at once, but would pace these
    // back-to-back runs to a second each: what is measured here is a read,
    // not the pacing (`cargo bench --bench fairness` measures that).
    let upstream = UpstreamSettings {
        rate_per_second: 10_000,
        burst: 10_000,
        ..UpstreamSettings::default()
    };
    let client = RemotePcClient::new(
        "bench",
        &account,
        &upstream,
        remotepc_gateway::clock::Clock::system(),
        None,
    )?;

    let mut page_times = Vec::new();
    for _ in 0..RUNS {
        let started = Instant::now();
        client
            .page::<DevicePage>(PageRequest {
                page_index: 1,
                record_per_page: upstream.page_size,
            })
            .await?;
        page_times.push(started.elapsed());
    }
    let one_page = median(page_times);

    let (mut full_times, mut fetch_times) = (Vec::new(), Vec::new());
    for _ in 0..RUNS {
        let started = Instant::now();
        let devices = client.all::<DevicePage>().await?;
        fetch_times.push(started.elapsed());
        let snapshot = Snapshot::new(
            devices
                .into_iter()
                .filter_map(|wire| Device::from_wire(wire, chrono_tz::Tz::UTC)),
        );
        full_times.push(started.elapsed());
        assert_eq!(snapshot.len(), RECORDS);
    }
    let (full, fetch) = (median(full_times), median(fetch_times));

    // Measured on copies of the wire records, so nothing but building the
    // snapshots happens between the two readings: the copies are consumed.
    let wire_devices = client.all::<DevicePage>().await?;
    let wire_users = client.all::<UserPage>().await?;
    let before = LIVE_BYTES.load(Ordering::SeqCst);
    let devices = Snapshot::new(
        wire_devices
            .clone()
            .into_iter()
            .filter_map(|wire| Device::from_wire(wire, chrono_tz::Tz::UTC)),
    );
    let users = Snapshot::new(wire_users.clone().into_iter().filter_map(User::from_wire));
    let bare = LIVE_BYTES.load(Ordering::SeqCst) - before;
    let mut views = Vec::new();
    for order in [
        DeviceOrder::Name,
        DeviceOrder::LastSession,
        DeviceOrder::Status,
        DeviceOrder::Os,
    ] {
        let view = devices.view(order.name(), |device| order.sort_key(device));
        views.push((order.name(), view, devices.keys()));
    }
    for order in [
        UserOrder::Username,
        UserOrder::FirstName,
        UserOrder::LastName,
    ] {
        let view = users.view(order.name(), |user| order.sort_key(user));
        views.push((order.name(), view, users.keys()));
    }
    let with_views = LIVE_BYTES.load(Ordering::SeqCst) - before;
    // Every item shown once by a plan, and every cursor of every view
    // written: what pages keep at most.
    for position in 0..RECORDS {
        devices.written(position);
        users.written(position);
    }
    for (order, view, keys) in &views {
        for in_view in 0..view.entries.len() {
            view.cursor(in_view, |sort_key, position| {
                cursor_like(order, sort_key, &keys[position as usize])
            });
        }
    }
    let all_written = LIVE_BYTES.load(Ordering::SeqCst) - before;

    println!(
        "snapshot benchmark ({RECORDS} devices, {RECORDS} users, {} ms upstream latency, page fan-out {})",
        LATENCY.as_millis(),
        upstream.page_fanout
    );
    println!("| figure | value | goal |");
    println!("|---|---|---|");
    println!(
        "| one `computer/list` page (500 records) | {:.1} ms | |",
        one_page.as_secs_f64() * 1e3
    );
    println!(
        "| cold full read of {RECORDS} devices (20 pages) into a snapshot | {:.1} ms = {:.2}x one page | < 3x |",
        full.as_secs_f64() * 1e3,
        full.as_secs_f64() / one_page.as_secs_f64()
    );
    println!(
        "| of which reading the 20 pages | {:.1} ms, building the snapshot {:.1} ms | |",
        fetch.as_secs_f64() * 1e3,
        (full - fetch).as_secs_f64() * 1e3
    );
    println!(
        "| memory: {RECORDS} devices + {RECORDS} users, snapshots only | {:.1} MiB | < 20 MB |",
        mib(bare)
    );
    println!(
        "| memory: the same with all 7 sorted views built | {:.1} MiB | < 20 MB |",
        mib(with_views)
    );
    println!(
        "| memory: the same with every item's written form and every cursor kept | {:.1} MiB | |",
        mib(all_written)
    );
    drop(views);
    drop((devices, users, wire_devices, wire_users, client, simulator));
    Ok(())
}
