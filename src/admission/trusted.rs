//! Trusted documents: a team or role may name a manifest of the operations
//! its frontend was built with (GraphQL Codegen's `persisted-documents.json`
//! or Apollo's persisted query manifest). Its documents can be sent by id;
//! with `only_trusted_documents` nothing else runs, so a stolen browser
//! token cannot run arbitrary queries. A manifest is read again when its
//! file changes; one that does not parse keeps the last good list.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

use async_graphql::Request;
use axum::http::StatusCode;
use serde_json::Value;

use super::{Admission, Refusal};
use crate::auth::{Caller, Grant, Scope};
use crate::graphql::{ErrorCode, Operation, RequestIds, canonical};
use crate::settings::Settings;

/// Manifests larger than this are refused: a frontend's operations are a
/// few hundred kilobytes at most.
const MAX_MANIFEST_BYTES: u64 = 16 * 1024 * 1024;

/// The request entry that names a document by id.
pub const DOCUMENT_ID: &str = "documentId";

/// One manifest's documents, by id and by canonical text.
#[derive(Default)]
struct Manifest {
    by_id: HashMap<String, Arc<str>>,
    by_canonical: HashMap<String, String>,
    longest: usize,
}

/// The scopes a request runs with when only some of the caller's grants
/// admit it (`None`: all of the caller's).
pub(super) type Narrowed = Option<Vec<Scope>>;

/// Whether a grant runs only its trusted documents, and its manifest.
type Policy = (bool, Arc<Manifest>);

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
    /// Advanced each time a manifest is read anew.
    revision: AtomicU64,
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
        Ok(Self {
            by_caller,
            revision: AtomicU64::new(0),
        })
    }

    /// Resolves `request` for `caller`: a document named by id is put in
    /// place from the first of the caller's manifests that has it. Each of
    /// the caller's grants (the team, or each role on the account) lends
    /// its scopes only to documents its own policy admits: with
    /// `only_trusted_documents`, those of its manifest. A document no grant
    /// admits is refused before it is parsed for execution; one that only
    /// some admit runs with their scopes alone (`Some`).
    fn admit(&self, caller: &Caller, request: &mut Request) -> Result<Narrowed, Refusal> {
        let id = take_document_id(request);
        if self.by_caller.is_empty() {
            // No manifest anywhere (most deployments): nothing to look up.
            return without_manifests(id.as_deref());
        }
        let policies: Vec<(&Grant, Option<Policy>)> = caller
            .grants
            .iter()
            .map(|grant| {
                let policy = self.by_caller.get(&grant.label);
                let policy = policy.map(|trusted| (trusted.only, trusted.current(&self.revision)));
                (grant, policy)
            })
            .collect();
        if policies.iter().all(|(_, policy)| policy.is_none()) {
            return without_manifests(id.as_deref());
        }
        if let Some(id) = id.or_else(|| apq_hash(request)).map(|id| normalize_id(&id)) {
            let manifests = policies.iter().filter_map(|(_, policy)| policy.as_ref());
            let mut found = manifests.filter_map(|(_, manifest)| manifest.by_id.get(&id));
            if let Some(text) = found.next() {
                request.query = text.to_string();
                request.extensions.remove("persistedQuery");
            } else if policies
                .iter()
                .all(|(_, policy)| matches!(policy, Some((true, _))))
            {
                return Err(not_trusted("no trusted document has this id"));
            }
        }
        let admitting: Vec<&Grant> = policies
            .iter()
            .filter(|(_, policy)| match policy {
                Some((true, manifest)) => manifest.knows(&request.query),
                _ => true,
            })
            .map(|(grant, _)| *grant)
            .collect();
        if admitting.len() == policies.len() {
            Ok(None)
        } else if admitting.is_empty() {
            Err(not_trusted(
                "this operation is not in the caller's trusted documents",
            ))
        } else {
            Ok(Some(Caller::scopes_of(&admitting)))
        }
    }

    /// Every document of `caller`'s manifests (its team's, or each of its
    /// roles'), by id, each once, in id order: what an assistant may be
    /// offered as tools.
    pub fn documents(&self, caller: &Caller) -> Vec<(String, Arc<str>)> {
        let mut found = BTreeMap::new();
        for grant in caller.grants.iter() {
            if let Some(trusted) = self.by_caller.get(&grant.label) {
                let manifest = trusted.current(&self.revision);
                for (id, text) in &manifest.by_id {
                    found.entry(id.clone()).or_insert_with(|| Arc::clone(text));
                }
            }
        }
        found.into_iter().collect()
    }

    /// A number that changes whenever one of `caller`'s manifests is read
    /// anew: answers kept for a request name the revision they were
    /// admitted under, so a manifest change takes effect at once.
    pub fn revision(&self, caller: &Caller) -> u64 {
        if self.by_caller.is_empty() {
            return 0;
        }
        for grant in caller.grants.iter() {
            if let Some(trusted) = self.by_caller.get(&grant.label) {
                trusted.current(&self.revision);
            }
        }
        self.revision.load(Ordering::Acquire)
    }
}

/// The trusted-documents step for one request sent by `caller`: as
/// [`TrustedSet::admit`]. A mutation refused here is audited as any refused
/// mutation is (the stolen-browser-token case); the record is written on
/// the write tracker, which shutdown waits for.
pub(super) fn admit_audited(
    admission: &Admission,
    caller: &Caller,
    ids: &RequestIds,
    request: &mut Request,
) -> Result<Narrowed, Refusal> {
    let inner = &admission.0;
    inner.trusted.admit(caller, request).inspect_err(|refusal| {
        let mut sent = Request::new(request.query.clone()).variables(request.variables.clone());
        sent.operation_name.clone_from(&request.operation_name);
        let operation = Operation {
            request: sent,
            caller: caller.clone(),
            ids: ids.clone(),
            introspection: false,
            read_ahead: None,
        };
        let (operations, code) = (inner.operations.clone(), refusal.code());
        let message = refusal.message().to_owned();
        inner.writes.spawn(async move {
            operations.record_refused(&operation, code, &message).await;
        });
    })
}

impl Manifest {
    /// Whether `text` is one of the documents: by its SHA-256, or equal to
    /// one once both are canonical. Texts much longer than any document
    /// are not parsed at all.
    fn knows(&self, text: &str) -> bool {
        let id = crate::digest::sha256_hex(text.as_bytes());
        if self.by_id.contains_key(&id) {
            return true;
        }
        text.len() <= self.longest.saturating_mul(2)
            && canonical(text).is_some_and(|canonical| self.by_canonical.contains_key(&canonical))
    }
}

impl TrustedDocuments {
    /// The manifest, read again first when the file changed since; a
    /// manifest read anew advances `revision`.
    fn current(&self, revision: &AtomicU64) -> Arc<Manifest> {
        let mut state = self
            .state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let stamp = std::fs::metadata(&self.path)
            .ok()
            .and_then(|meta| Some((meta.modified().ok()?, meta.len())));
        if stamp.is_some() && stamp != state.1 {
            match read(&self.path) {
                Ok((manifest, seen)) => {
                    *state = (Arc::new(manifest), Some(seen));
                    revision.fetch_add(1, Ordering::AcqRel);
                }
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

/// A caller with no manifest runs any text, and no id.
fn without_manifests(id: Option<&str>) -> Result<Narrowed, Refusal> {
    match id {
        Some(_) => Err(not_trusted(
            "this caller has no trusted documents; send the query text",
        )),
        None => Ok(None),
    }
}

fn not_trusted(message: &str) -> Refusal {
    Refusal::new(
        StatusCode::BAD_REQUEST,
        ErrorCode::OperationNotTrusted,
        message,
    )
}
