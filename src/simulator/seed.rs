//! Deterministic sample data: the same seed and sizes give the same account.

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use super::state::{SimDevice, SimState, SimUser};

const FIRST_NAMES: [&str; 12] = [
    "Ada", "Brian", "Chloe", "Dmitri", "Elena", "Farah", "George", "Hana", "Ivan", "Julia", "Kofi",
    "Lena",
];
const LAST_NAMES: [&str; 10] = [
    "Lovelace",
    "Kernighan",
    "Price",
    "Ivanov",
    "Garcia",
    "Haddad",
    "Boole",
    "Sato",
    "Petrov",
    "Mensah",
];
const SYSTEMS: [(&str, &str, &str); 4] = [
    ("WIN", "Windows", "10.0"),
    ("WIN", "Windows", "11.0"),
    ("MAC", "macOS", "14.2"),
    ("LNX", "Linux", "22.04"),
];

/// Seeds `users` users and `devices` devices, named `WIN-000000`, `WIN-000001`,
/// `MAC-000002`, `LNX-000003`, … by index. About a third of the devices are
/// online, one in ten has never had a session, one in five has a comment.
pub(crate) fn seed(users: usize, devices: usize, seed: u64) -> SimState {
    let mut rng = StdRng::seed_from_u64(seed);
    let mut state = SimState::default();
    for index in 0..users {
        let first = FIRST_NAMES[index % FIRST_NAMES.len()];
        let last = LAST_NAMES[(index / FIRST_NAMES.len()) % LAST_NAMES.len()];
        let username = format!(
            "{}.{}{index}@example.com",
            first.to_lowercase(),
            last.to_lowercase()
        );
        state.users.insert(
            username.clone(),
            SimUser {
                firstname: first.to_owned(),
                lastname: last.to_owned(),
                username,
                two_factor: rng.random_bool(0.3),
            },
        );
    }
    for index in 0..devices {
        let device = device(&mut rng, index);
        state.devices.insert(device.host_name.clone(), device);
    }
    state
}

/// Device `index`. The random draws keep their order (session, comment,
/// machine id, status): the seeded data every test knows depends on it.
pub(super) fn device(rng: &mut StdRng, index: usize) -> SimDevice {
    let (prefix, os, version) = SYSTEMS[index % SYSTEMS.len()];
    let last_session = if rng.random_bool(0.1) {
        String::new()
    } else {
        format!(
            "2026-{:02}-{:02} {:02}:{:02}:{:02}",
            rng.random_range(1..=11),
            rng.random_range(1..=28),
            rng.random_range(0..24),
            rng.random_range(0..60),
            rng.random_range(0..60)
        )
    };
    let comments = if rng.random_bool(0.2) {
        format!("Asset tag {}", rng.random_range(10_000..99_999))
    } else {
        String::new()
    };
    SimDevice {
        machine_id: format!("{:016x}", rng.random::<u64>()),
        host_name: format!("{prefix}-{index:06}"),
        os: os.to_owned(),
        os_version: version.to_owned(),
        ip: format!(
            "10.{}.{}.{}",
            index / 65_536 % 256,
            index / 256 % 256,
            index % 256
        ),
        last_session,
        comments,
        online: rng.random_bool(0.35),
        assigned_to: Default::default(),
        group: None,
    }
}
