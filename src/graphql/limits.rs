//! Refuses documents that would hurt the process before the parser sees them,
//! and gives parse and validation errors a `BAD_USER_INPUT` code.
//!
//! async-graphql's parser recurses once per nesting level and overflows the
//! stack (aborting the whole process) on ~1,500 levels of `[[[…]]]`; counting
//! brackets on the raw text is linear and cannot recurse.

use std::sync::Arc;

use async_graphql::extensions::{
    Extension, ExtensionContext, ExtensionFactory, NextParseQuery, NextValidation,
};
use async_graphql::parser::types::ExecutableDocument;
use async_graphql::{ServerError, ServerResult, ValidationResult, Variables};

use super::error::ErrorCode;

/// The extension factory; one `max_nesting` for every request.
pub(crate) struct DocumentGuard {
    pub(crate) max_nesting: usize,
}

impl ExtensionFactory for DocumentGuard {
    fn create(&self) -> Arc<dyn Extension> {
        Arc::new(DocumentGuardExtension {
            max_nesting: self.max_nesting,
        })
    }
}

struct DocumentGuardExtension {
    max_nesting: usize,
}

#[async_graphql::async_trait::async_trait]
impl Extension for DocumentGuardExtension {
    async fn parse_query(
        &self,
        ctx: &ExtensionContext<'_>,
        query: &str,
        variables: &Variables,
        next: NextParseQuery<'_>,
    ) -> ServerResult<ExecutableDocument> {
        if nesting_exceeds(query, self.max_nesting) {
            return Err(bad_input(ServerError::new(
                format!(
                    "document is nested more than {} levels deep (graphql.max_document_nesting)",
                    self.max_nesting
                ),
                None,
            )));
        }
        next.run(ctx, query, variables).await.map_err(bad_input)
    }

    async fn validation(
        &self,
        ctx: &ExtensionContext<'_>,
        next: NextValidation<'_>,
    ) -> Result<ValidationResult, Vec<ServerError>> {
        next.run(ctx)
            .await
            .map_err(|errors| errors.into_iter().map(bad_input).collect())
    }
}

fn bad_input(mut error: ServerError) -> ServerError {
    let extensions = error.extensions.get_or_insert_with(Default::default);
    extensions.set("code", ErrorCode::BadUserInput.as_str());
    error
}

/// Whether `{`, `[` and `(` nest deeper than `max` outside strings and
/// comments.
pub fn nesting_exceeds(document: &str, max: usize) -> bool {
    let bytes = document.as_bytes();
    let mut depth = 0usize;
    let mut index = 0;
    while index < bytes.len() {
        match bytes[index] {
            b'#' => {
                while index < bytes.len() && bytes[index] != b'\n' && bytes[index] != b'\r' {
                    index += 1;
                }
            }
            b'"' if bytes[index..].starts_with(b"\"\"\"") => {
                index += 3;
                while index < bytes.len() && !bytes[index..].starts_with(b"\"\"\"") {
                    index += if bytes[index..].starts_with(b"\\\"\"\"") {
                        4
                    } else {
                        1
                    };
                }
                index += 2;
            }
            b'"' => {
                index += 1;
                while index < bytes.len() && bytes[index] != b'"' && bytes[index] != b'\n' {
                    index += if bytes[index] == b'\\' { 2 } else { 1 };
                }
            }
            b'{' | b'[' | b'(' => {
                depth += 1;
                if depth > max {
                    return true;
                }
            }
            b'}' | b']' | b')' => depth = depth.saturating_sub(1),
            _ => {}
        }
        index += 1;
    }
    false
}

#[cfg(test)]
mod tests {
    use super::nesting_exceeds;

    #[test]
    fn counts_brackets_of_every_kind() {
        assert!(!nesting_exceeds("{ a(x: [1]) { b } }", 3));
        assert!(nesting_exceeds("{ a(x: [1]) { b } }", 2));
        assert!(nesting_exceeds(&"[".repeat(10_000), 64));
    }

    #[test]
    fn ignores_brackets_in_strings_and_comments() {
        let document = "{ a(x: \"[[[[\\\"[[\", y: \"\"\"{{{{\"\"\") # ((((\n }";
        assert!(!nesting_exceeds(document, 2));
    }

    #[test]
    fn unterminated_strings_do_not_panic() {
        for document in ["\"", "\"\"\"", "\"\\", "#", "{\"\"\"\\\"\"\""] {
            let _ = nesting_exceeds(document, 1);
        }
    }
}
