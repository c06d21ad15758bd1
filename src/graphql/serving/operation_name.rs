//! The name of a document's one operation, read from its text without
//! parsing it: what logs, metrics and spans call a request whose client
//! sent no `operationName` (Relay's and plain `fetch` clients send only the
//! document), as OpenTelemetry's `graphql.operation.name` asks.

use super::document::{Piece, Pieces};

/// Where the reading is between the document's definitions.
#[derive(Clone, Copy, PartialEq, Eq)]
enum At {
    /// Between definitions: the next word starts one.
    Between,
    /// Just after `query`, `mutation` or `subscription`.
    Keyword,
    /// Inside a definition, until its selection set closes.
    Inside,
}

/// The name of the document's operation when it has exactly one and that
/// one is named; `None` for an anonymous operation, for several (the
/// client must then name one), and for text that is not a document.
pub(crate) fn only_operation_name(document: &str) -> Option<&str> {
    let (mut at, mut operations, mut name) = (At::Between, 0usize, None);
    let (mut braces, mut parens) = (0usize, 0usize);
    for (_, piece) in Pieces::of(document) {
        if at == At::Keyword {
            at = At::Inside;
            if let Piece::Word(word) = piece {
                name = name.or(Some(word));
                continue;
            }
        }
        match piece {
            Piece::Word("query" | "mutation" | "subscription") if at == At::Between => {
                operations += 1;
                at = At::Keyword;
            }
            Piece::Word(_) if at == At::Between => at = At::Inside,
            Piece::Punct(b'{') => {
                if at == At::Between {
                    // The shorthand `{ … }`: an anonymous query.
                    operations += 1;
                    at = At::Inside;
                }
                braces += 1;
            }
            Piece::Punct(b'}') => {
                braces = braces.saturating_sub(1);
                // Braces inside parentheses are input objects (a default
                // value, a directive's argument), not a selection set.
                if braces == 0 && parens == 0 {
                    at = At::Between;
                }
            }
            Piece::Punct(b'(') => parens += 1,
            Piece::Punct(b')') => parens = parens.saturating_sub(1),
            _ => {}
        }
    }
    // An anonymous operation beside a named one leaves `name` set: only a
    // document of one operation is named by it.
    (operations == 1).then_some(name).flatten()
}

#[cfg(test)]
mod tests {
    use super::only_operation_name;

    #[test]
    fn names_the_only_operation_whatever_its_kind() {
        for (document, name) in [
            ("query Fleet { devices { totalCount } }", "Fleet"),
            (
                "mutation Invite($e: [String!]!) { inviteUsers(emails: $e) { ok } }",
                "Invite",
            ),
            ("subscription Watch { deviceChanged { name } }", "Watch"),
            (
                "# saved query\n  query\n\tFleet\n{ devices { totalCount } }",
                "Fleet",
            ),
            ("query Fleet@cached{ a }", "Fleet"),
        ] {
            assert_eq!(only_operation_name(document), Some(name), "{document}");
        }
    }

    #[test]
    fn reads_past_fragments_input_objects_and_strings() {
        let document = r#"
            fragment query on Device { name }
            query Filtered($f: DeviceFilter = { status: OFFLINE, os: "{ query Q }" }) {
              devices(filter: $f) @include(if: true) { edges { node { ...query } } }
            }
            fragment mutation on User { email }
        "#;
        assert_eq!(only_operation_name(document), Some("Filtered"));
        assert_eq!(
            only_operation_name("fragment F on Device { name } query Q { devices { ...F } }"),
            Some("Q")
        );
    }

    #[test]
    fn anonymous_or_several_operations_have_no_one_name() {
        for document in [
            "{ devices { totalCount } }",
            "query { devices { totalCount } }",
            "query ($first: Int) { devices(first: $first) { totalCount } }",
            "query A { a } query B { b }",
            "query A { a } { b }",
            "{ b } query A { a }",
            "query A { a } mutation B { b }",
            "",
            "query",
        ] {
            assert_eq!(only_operation_name(document), None, "{document}");
        }
    }
}
