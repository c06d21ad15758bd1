//! The name and kind of a document's operation, read from its text
//! without parsing it: what logs, metrics and spans call a request whose
//! client sent no `operationName` (Relay's and plain `fetch` clients send
//! only the document), and its `graphql.operation.type`, as
//! OpenTelemetry's GraphQL conventions ask.

use super::document::{Piece, Pieces};

/// Where the reading is between the document's definitions.
#[derive(Clone, Copy, PartialEq, Eq)]
enum At {
    /// Between definitions: the next word starts one.
    Between,
    /// Just after `query`, `mutation` or `subscription`.
    Keyword(OperationKind),
    /// Inside a definition, until its selection set closes.
    Inside,
}

/// What an operation does, as `graphql.operation.type` names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum OperationKind {
    Query,
    Mutation,
    Subscription,
}

impl OperationKind {
    fn of_keyword(word: &str) -> Option<Self> {
        match word {
            "query" => Some(Self::Query),
            "mutation" => Some(Self::Mutation),
            "subscription" => Some(Self::Subscription),
            _ => None,
        }
    }

    /// The keyword, which is also OpenTelemetry's value.
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Self::Query => "query",
            Self::Mutation => "mutation",
            Self::Subscription => "subscription",
        }
    }
}

/// Calls `visit` with each operation's kind and name, in order.
fn each_operation<'d>(document: &'d str, mut visit: impl FnMut(OperationKind, Option<&'d str>)) {
    let (mut at, mut braces, mut parens) = (At::Between, 0usize, 0usize);
    for (_, piece) in Pieces::of(document) {
        if let At::Keyword(kind) = at {
            at = At::Inside;
            if let Piece::Word(name) = piece {
                visit(kind, Some(name));
                continue;
            }
            visit(kind, None);
        }
        match piece {
            // A fragment (or any other definition) is read past.
            Piece::Word(word) if at == At::Between => {
                at = OperationKind::of_keyword(word).map_or(At::Inside, At::Keyword);
            }
            Piece::Punct(b'{') => {
                if at == At::Between {
                    // The shorthand `{ … }`: an anonymous query.
                    visit(OperationKind::Query, None);
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
}

/// The name of the document's operation when it has exactly one and that
/// one is named; `None` for an anonymous operation, for several (the
/// client must then name one), and for text that is not a document.
pub(crate) fn only_operation_name(document: &str) -> Option<&str> {
    let (mut operations, mut name) = (0usize, None);
    each_operation(document, |_, named| {
        operations += 1;
        name = named;
    });
    (operations == 1).then_some(name).flatten()
}

/// The kind of the operation a request runs: the one named `chosen`, else
/// the document's only one; `None` when there is no such operation (the
/// request is then refused before it runs).
pub(crate) fn operation_kind(document: &str, chosen: Option<&str>) -> Option<OperationKind> {
    let (mut operations, mut only, mut named) = (0usize, None, None);
    each_operation(document, |kind, name| {
        operations += 1;
        only = Some(kind);
        if chosen.is_some() && name == chosen {
            named = named.or(Some(kind));
        }
    });
    match chosen {
        Some(_) => named,
        None => (operations == 1).then_some(only).flatten(),
    }
}

#[cfg(test)]
mod tests {
    use super::{OperationKind, only_operation_name, operation_kind};

    #[test]
    fn the_kind_is_the_chosen_operations_or_the_only_ones() {
        use OperationKind::{Mutation, Query, Subscription};
        for (document, chosen, kind) in [
            ("{ devices { totalCount } }", None, Some(Query)),
            ("query ($f: Int) { a }", None, Some(Query)),
            (
                "subscription { deviceChanges { kind } }",
                None,
                Some(Subscription),
            ),
            (
                "subscription Watch { a }",
                Some("Watch"),
                Some(Subscription),
            ),
            ("mutation M { a }", None, Some(Mutation)),
            (
                "query A { a } subscription B { b }",
                Some("B"),
                Some(Subscription),
            ),
            ("query A { a } subscription B { b }", Some("A"), Some(Query)),
            ("query A { a } subscription B { b }", None, None),
            ("query A { a } subscription B { b }", Some("C"), None),
            (
                "fragment subscription on Device { name } query Q { a }",
                None,
                Some(Query),
            ),
            ("", None, None),
        ] {
            assert_eq!(
                operation_kind(document, chosen),
                kind,
                "{document} {chosen:?}"
            );
        }
    }

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
