//! Trusted documents: a team or role may name a manifest of the operations
//! its frontend was built with (GraphQL Codegen's `persisted-documents.json`
//! or Apollo's persisted query manifest). Its documents can be sent by id;
//! with `only_trusted_documents` nothing else runs, so a stolen browser
//! token cannot run arbitrary queries. A manifest is read again when its
//! file changes; one that does not parse keeps the last good list.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

use async_graphql::Request;
use axum::http::StatusCode;
use serde_json::Value;
use sha2::{Digest, Sha256};

use super::refusal::Refusal;
use crate::graphql::{ErrorCode, canonical};
use crate::settings::Settings;

/// Manifests larger than this are refused: a frontend's operations are a
/// few hundred kilobytes at most.
const MAX_MANIFEST_BYTES: u64 = 16 * 1024 * 1024;

/// The request entry that names a document by id.
pub(super) const DOCUMENT_ID: &str = "documentId";

/// One manifest's documents, by id and by canonical text.
#[derive(Default)]
struct Manifest {
    by_id: HashMap<String, Arc<str>>,
    by_canonical: HashMap<String, String>,
    longest: usize,
}

/// When a file was last modified, and its length: a change to either
/// means it was rewritten.
type Stamp = (SystemTime, u64);

/// A manifest file, read again when it changes.
struct TrustedDocuments {
    path: PathBuf,
    only: bool,
    /// The last good manifest, and the stamp of the file last read.
    state: Mutex<(Arc<Manifest>, Option<Stamp>)>,
}

/// Every team's and role's manifest, by the caller's `team` label.
#[derive(Default)]
pub struct TrustedSet {
    by_caller: BTreeMap<String, TrustedDocuments>,
}

impl TrustedSet {
    /// The manifests `settings` name, read now; an unreadable one stops
    /// the start, naming the setting.
    pub fn load(settings: &Settings) -> Result<Self, String> {
        let mut by_caller = BTreeMap::new();
        let teams = settings.teams.iter().map(|(name, team)| {
            let key = format!("teams.{name}");
            (
                name.clone(),
                key,
                &team.trusted_documents,
                team.only_trusted_documents,
            )
        });
        let roles = settings.auth.oidc.iter().flat_map(|(provider, oidc)| {
            oidc.roles.iter().map(move |(value, role)| {
                let key = format!("auth.oidc.{provider}.roles.{value}");
                (
                    format!("{provider}/{value}"),
                    key,
                    &role.trusted_documents,
                    role.only_trusted_documents,
                )
            })
        });
        for (caller, key, path, only) in teams.chain(roles) {
            let Some(path) = path else {
                if only {
                    return Err(format!(
                        "{key}.only_trusted_documents is set without {key}.trusted_documents"
                    ));
                }
                continue;
            };
            let (manifest, seen) =
                read(path).map_err(|problem| format!("{key}.trusted_documents: {problem}"))?;
            let state = Mutex::new((Arc::new(manifest), Some(seen)));
            by_caller.insert(
                caller,
                TrustedDocuments {
                    path: path.clone(),
                    only,
                    state,
                },
            );
        }
        Ok(Self { by_caller })
    }

    /// Resolves `request` for the caller labelled `team`: a document named
    /// by id is put in place; with `only_trusted_documents`, anything not
    /// in the manifest is refused before it is parsed for execution.
    pub(super) fn admit(&self, team: &str, request: &mut Request) -> Result<(), Box<Refusal>> {
        let id = take_document_id(request);
        let Some(trusted) = self.by_caller.get(team) else {
            return match id {
                Some(_) => Err(not_trusted(
                    "this caller has no trusted documents; send the query text",
                )),
                None => Ok(()),
            };
        };
        let manifest = trusted.current();
        let id = id.or_else(|| apq_hash(request));
        if let Some(id) = id {
            if let Some(text) = manifest.by_id.get(&normalize_id(&id)) {
                request.query = text.to_string();
                request.extensions.remove("persistedQuery");
                return Ok(());
            }
            if trusted.only {
                return Err(not_trusted("no trusted document has this id"));
            }
            return Ok(());
        }
        if !trusted.only || manifest.knows(&request.query) {
            return Ok(());
        }
        Err(not_trusted(
            "this operation is not in the caller's trusted documents",
        ))
    }
}

impl Manifest {
    /// Whether `text` is one of the documents: by its SHA-256, or equal to
    /// one once both are canonical. Texts much longer than any document
    /// are not parsed at all.
    fn knows(&self, text: &str) -> bool {
        let id = hex(&Sha256::digest(text.as_bytes()));
        if self.by_id.contains_key(&id) {
            return true;
        }
        text.len() <= self.longest.saturating_mul(2)
            && canonical(text).is_some_and(|canonical| self.by_canonical.contains_key(&canonical))
    }
}

impl TrustedDocuments {
    /// The manifest, read again first when the file changed since.
    fn current(&self) -> Arc<Manifest> {
        let mut state = self
            .state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let stamp = std::fs::metadata(&self.path)
            .ok()
            .and_then(|meta| Some((meta.modified().ok()?, meta.len())));
        if stamp.is_some() && stamp != state.1 {
            match read(&self.path) {
                Ok((manifest, seen)) => *state = (Arc::new(manifest), Some(seen)),
                Err(problem) => {
                    tracing::warn!(path = %self.path.display(), problem = %problem, "trusted documents unreadable; keeping the last good list");
                    state.1 = stamp;
                }
            }
        }
        Arc::clone(&state.0)
    }
}

fn read(path: &Path) -> Result<(Manifest, Stamp), String> {
    let meta = std::fs::metadata(path)
        .map_err(|error| format!("cannot read {}: {error}", path.display()))?;
    if meta.len() > MAX_MANIFEST_BYTES {
        return Err(format!(
            "{} is larger than {MAX_MANIFEST_BYTES} bytes",
            path.display()
        ));
    }
    let text = std::fs::read_to_string(path)
        .map_err(|error| format!("cannot read {}: {error}", path.display()))?;
    let seen = (
        meta.modified().map_err(|error| error.to_string())?,
        meta.len(),
    );
    Ok((parse_manifest(&text)?, seen))
}

/// Codegen's `{ "<id>": "<document>" }` or Apollo's
/// `{ "format": "apollo-persisted-query-manifest", "operations": [...] }`.
fn parse_manifest(text: &str) -> Result<Manifest, String> {
    let json: Value = serde_json::from_str(text).map_err(|_| "not JSON".to_owned())?;
    let Value::Object(entries) = &json else {
        return Err("not a JSON object".to_owned());
    };
    let pairs: Vec<(String, String)> = if json["format"] == "apollo-persisted-query-manifest" {
        let operations = json["operations"]
            .as_array()
            .ok_or("an Apollo manifest without operations")?;
        operations
            .iter()
            .map(
                |operation| match (operation["id"].as_str(), operation["body"].as_str()) {
                    (Some(id), Some(body)) => Ok((id.to_owned(), body.to_owned())),
                    _ => Err("an Apollo operation without id or body".to_owned()),
                },
            )
            .collect::<Result<_, _>>()?
    } else {
        entries
            .iter()
            .map(|(id, body)| match body.as_str() {
                Some(body) => Ok((id.clone(), body.to_owned())),
                None => Err(format!("document `{id}` is not a string")),
            })
            .collect::<Result<_, _>>()?
    };
    let mut manifest = Manifest::default();
    for (id, body) in pairs {
        let id = normalize_id(&id);
        if let Some(canonical) = canonical(&body) {
            manifest.by_canonical.insert(canonical, id.clone());
        }
        manifest.longest = manifest.longest.max(body.len());
        manifest.by_id.insert(id, Arc::from(body));
    }
    Ok(manifest)
}

/// An id without its `sha256:` prefix, lowercase.
fn normalize_id(id: &str) -> String {
    id.trim().trim_start_matches("sha256:").to_ascii_lowercase()
}

fn take_document_id(request: &mut Request) -> Option<String> {
    match request.extensions.remove(DOCUMENT_ID)? {
        async_graphql::Value::String(id) => Some(id),
        _ => None,
    }
}

fn apq_hash(request: &Request) -> Option<String> {
    let async_graphql::Value::Object(persisted) = request.extensions.get("persistedQuery")? else {
        return None;
    };
    match persisted.get("sha256Hash")? {
        async_graphql::Value::String(hash) => Some(hash.clone()),
        _ => None,
    }
}

fn not_trusted(message: &str) -> Box<Refusal> {
    Box::new(Refusal::new(
        StatusCode::BAD_REQUEST,
        ErrorCode::OperationNotTrusted,
        message,
    ))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|byte| format!("{byte:02x}")).collect()
}
