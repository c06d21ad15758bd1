//! Input validation: every broken rule is collected with the input field it
//! concerns, so a caller learns all that is wrong at once.

use std::fmt;

use super::rules;

/// One broken rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Violation {
    /// Input field path, e.g. `password` or `computerNames[3]`.
    pub field: String,
    /// The rule, in the vendor's words where it has some.
    pub rule: String,
}

/// Input refused before anything was sent upstream.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct ValidationError {
    /// Every rule broken, in input order.
    pub violations: Vec<Violation>,
}

impl fmt::Display for ValidationError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("invalid input: ")?;
        for (index, violation) in self.violations.iter().enumerate() {
            if index > 0 {
                f.write_str("; ")?;
            }
            write!(f, "{}: {}", violation.field, violation.rule)?;
        }
        Ok(())
    }
}

/// Most names or emails one mutation takes, to bound the work it causes.
pub const MAX_LIST_LEN: usize = 1_000;

/// Collects violations.
#[derive(Debug, Default)]
pub(crate) struct Checker {
    violations: Vec<Violation>,
}

impl Checker {
    pub(crate) fn check(&mut self, field: &str, problem: Option<impl Into<String>>) -> &mut Self {
        if let Some(rule) = problem {
            self.violations.push(Violation {
                field: field.to_owned(),
                rule: rule.into(),
            });
        }
        self
    }

    /// A list of emails: present when `required`, bounded, each valid.
    pub(crate) fn emails(&mut self, field: &str, emails: &[String], required: bool) -> &mut Self {
        self.list_size(
            field,
            emails.len(),
            required,
            "must list at least one email",
        );
        for (index, email) in emails.iter().enumerate() {
            self.check(
                &format!("{field}[{index}]"),
                rules::username_problem(email.trim()),
            );
        }
        self
    }

    /// A list of computer names: present, bounded, none blank.
    pub(crate) fn computer_names(&mut self, field: &str, names: &[String]) -> &mut Self {
        self.list_size(
            field,
            names.len(),
            true,
            "Computer names are not found in the request",
        );
        for (index, name) in names.iter().enumerate() {
            self.check(
                &format!("{field}[{index}]"),
                name.trim()
                    .is_empty()
                    .then_some("Computer name cannot be blank"),
            );
        }
        self
    }

    fn list_size(&mut self, field: &str, len: usize, required: bool, empty_rule: &str) {
        self.check(field, (required && len == 0).then_some(empty_rule));
        self.check(
            field,
            (len > MAX_LIST_LEN).then(|| format!("must list at most {MAX_LIST_LEN} entries")),
        );
    }

    pub(crate) fn finish(&mut self) -> Result<(), ValidationError> {
        if self.violations.is_empty() {
            Ok(())
        } else {
            Err(ValidationError {
                violations: std::mem::take(&mut self.violations),
            })
        }
    }
}

/// Trims each entry and drops repeats (case-insensitively for emails), so a
/// list never makes RemotePC act twice on one item.
pub(crate) fn dedup(items: Vec<String>, ignore_case: bool) -> Vec<String> {
    let mut seen = std::collections::HashSet::new();
    items
        .into_iter()
        .map(|item| item.trim().to_owned())
        .filter(|item| {
            seen.insert(if ignore_case {
                item.to_ascii_lowercase()
            } else {
                item.clone()
            })
        })
        .collect()
}
