//! The serving path of one operation: the document checked (nesting,
//! tokens, normalization, operation selection) and its limits; a
//! mutation's write profile, read at admission from the document that
//! execution then uses (`writes`: parsed once); validation by the
//! specification's rules (once per document); then an answer from the
//! response cache, from a compiled plan over a cached snapshot, or from
//! execution; refused mutations are recorded after.

pub(crate) mod canonical;
pub(crate) mod depth;
pub(crate) mod document;
pub(crate) mod entity_tag;
pub(crate) mod escapes;
pub(crate) mod flow;
pub(crate) mod limits;
pub(crate) mod operation_name;
pub(crate) mod plan;
pub(crate) mod refusals;
pub(crate) mod response_body;
pub(crate) mod response_cache;
pub(crate) mod runner;
pub(crate) mod validation;
pub(crate) mod writes;
