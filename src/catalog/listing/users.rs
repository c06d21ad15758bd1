//! Users: their orderings and their search filter.

use super::{Needle, Selection, SortOrder};
use crate::catalog::User;

/// How users can be ordered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum UserOrder {
    /// By username (email).
    #[default]
    Username,
    /// By first name, case-insensitively.
    FirstName,
    /// By last name, case-insensitively.
    LastName,
}

impl SortOrder<User> for UserOrder {
    fn name(&self) -> &'static str {
        match self {
            UserOrder::Username => "username",
            UserOrder::FirstName => "firstName",
            UserOrder::LastName => "lastName",
        }
    }

    fn sort_key(&self, user: &User) -> String {
        match self {
            UserOrder::Username => user.username.to_ascii_lowercase(),
            UserOrder::FirstName => user
                .first_name
                .as_deref()
                .unwrap_or_default()
                .to_lowercase(),
            UserOrder::LastName => user.last_name.as_deref().unwrap_or_default().to_lowercase(),
        }
    }
}

/// Which users to select.
#[derive(Debug, Clone, Default)]
pub struct UserFilter {
    /// Username, first name, last name or full name contains this, ignoring
    /// case.
    pub search: Option<String>,
}

impl UserFilter {
    /// The selection of these users: the search is tested user by user.
    pub fn selection(&self) -> Selection<'_, User> {
        let Some(search) = self.search.as_deref().map(Needle::new) else {
            return Selection::default();
        };
        Selection {
            rest: Some(Box::new(move |user: &User| {
                if search.found_in(&user.username) {
                    return true;
                }
                let full_name = format!(
                    "{} {}",
                    user.first_name.as_deref().unwrap_or_default(),
                    user.last_name.as_deref().unwrap_or_default()
                );
                search.found_in(&full_name)
            })),
            ..Selection::default()
        }
    }
}
