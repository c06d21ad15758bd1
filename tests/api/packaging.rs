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
