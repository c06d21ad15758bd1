//! The Dockerfile can build the crate: its build stage copies every file
//! the crate embeds (`include_bytes!`, `include_str!`) and every target
//! directory `Cargo.toml` names. No Docker daemon runs here, so the COPY
//! list is held to the sources instead.

use std::path::{Path, PathBuf};

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// The sources (relative to the root) the Dockerfile's build stage copies.
fn copied() -> Vec<PathBuf> {
    let dockerfile = std::fs::read_to_string(root().join("Dockerfile")).expect("a Dockerfile");
    let build_stage = dockerfile
        .split("\nFROM ")
        .nth(1)
        .expect("a build stage after the first FROM");
    build_stage
        .lines()
        .filter_map(|line| line.trim().strip_prefix("COPY "))
        .filter(|copy| !copy.starts_with("--from"))
        .flat_map(|copy| {
            let parts: Vec<&str> = copy.split_whitespace().collect();
            let sources = &parts[..parts.len().saturating_sub(1)];
            sources.iter().map(PathBuf::from).collect::<Vec<_>>()
        })
        .collect()
}

fn rust_files(directory: &Path, found: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(directory).expect("readable").flatten() {
        let path = entry.path();
        if path.is_dir() {
            rust_files(&path, found);
        } else if path.extension().is_some_and(|extension| extension == "rs") {
            found.push(path);
        }
    }
}

/// Every file a source under `src/` embeds, relative to the root.
fn embedded() -> Vec<PathBuf> {
    let mut sources = Vec::new();
    rust_files(&root().join("src"), &mut sources);
    let mut embedded = Vec::new();
    for source in sources {
        let text = std::fs::read_to_string(&source).expect("readable");
        for macro_name in ["include_bytes!(\"", "include_str!(\""] {
            for (start, _) in text.match_indices(macro_name) {
                let rest = &text[start + macro_name.len()..];
                let relative = rest.split('"').next().expect("a closing quote");
                let path = source.parent().expect("a directory").join(relative);
                let path = path.canonicalize().unwrap_or_else(|_| {
                    panic!("{} embeds {relative}, which is missing", source.display())
                });
                embedded.push(
                    path.strip_prefix(root().canonicalize().expect("root"))
                        .expect("inside the crate")
                        .to_path_buf(),
                );
            }
        }
    }
    assert!(!embedded.is_empty(), "the crate embeds GraphiQL's files");
    embedded
}

#[test]
fn the_dockerfile_copies_every_file_the_crate_embeds() {
    let copied = copied();
    for file in embedded() {
        assert!(
            copied.iter().any(|source| file.starts_with(source)),
            "the Dockerfile's build stage does not COPY {} (copied: {copied:?})",
            file.display()
        );
    }
}

#[test]
fn the_dockerfile_copies_what_cargo_toml_names() {
    let copied = copied();
    let manifest = std::fs::read_to_string(root().join("Cargo.toml")).expect("Cargo.toml");
    let mut needed = vec![
        PathBuf::from("Cargo.toml"),
        PathBuf::from("Cargo.lock"),
        PathBuf::from("src"),
    ];
    if manifest.contains("[[bench]]") {
        needed.push(PathBuf::from("benches"));
    }
    for path in needed {
        assert!(
            copied.iter().any(|source| path.starts_with(source)),
            "the Dockerfile's build stage does not COPY {}",
            path.display()
        );
    }
}

/// The opt-level Cargo builds the gateway's own crate at in `profile`: a
/// per-package level beats the profile's own, and a profile inherits
/// both from the one it inherits (`bench` from `release` unless it says).
fn own_crate_opt_level(profiles: &toml::Table, profile: &str) -> Option<i64> {
    let mut chain = Vec::new();
    let mut name = profile;
    while let Some(table) = profiles.get(name).and_then(toml::Value::as_table) {
        chain.push(table);
        name = match table.get("inherits").and_then(toml::Value::as_str) {
            Some(parent) => parent,
            None if name == "bench" => "release",
            None => break,
        };
    }
    let per_package = chain.iter().find_map(|table| {
        let package = table.get("package")?.get(env!("CARGO_PKG_NAME"))?;
        package.get("opt-level")?.as_integer()
    });
    per_package.or_else(|| {
        chain
            .iter()
            .find_map(|table| table.get("opt-level")?.as_integer())
    })
}

#[test]
fn what_ships_and_what_is_measured_optimise_the_gateways_own_code() {
    let manifest = std::fs::read_to_string(root().join("Cargo.toml")).expect("Cargo.toml");
    let manifest: toml::Table = manifest.parse().expect("Cargo.toml is TOML");
    let profiles = manifest
        .get("profile")
        .and_then(toml::Value::as_table)
        .expect("[profile.*] tables");
    // `release` builds it unoptimised for a quick first build; `dist` and
    // `bench` inherit that level unless they set their own.
    assert_eq!(own_crate_opt_level(profiles, "release"), Some(0));
    for shipped in ["dist", "bench"] {
        assert_eq!(
            own_crate_opt_level(profiles, shipped),
            Some(3),
            "[profile.{shipped}] builds the gateway's code at opt-level 3"
        );
        let lto = profiles.get(shipped).and_then(|profile| profile.get("lto"));
        assert_eq!(lto.and_then(toml::Value::as_str), Some("fat"), "{shipped}");
    }
    let dockerfile = std::fs::read_to_string(root().join("Dockerfile")).expect("a Dockerfile");
    assert!(dockerfile.contains("cargo build --profile dist"));
}
