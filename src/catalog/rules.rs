//! The vendor's documented input rules, as pure functions returning the
//! vendor's own wording. The gateway validates with them before sending.
//! The simulator states them again on its own (`simulator::vendor_rules`),
//! and a test holds the two statements to each other.

/// Shortest and longest accepted password.
pub const PASSWORD_LENGTH: std::ops::RangeInclusive<usize> = 6..=20;
/// Shortest and longest accepted comment.
pub const COMMENT_LENGTH: std::ops::RangeInclusive<usize> = 6..=250;
/// Most computers one `computer/remove` call accepts.
pub const REMOVE_LIMIT: usize = 50;
/// Most records one list page returns.
pub const PAGE_LIMIT: usize = 500;

const PASSWORD_SPECIALS: &str = "~`!@#$%^&*()-_+={}|[];\\'\"<>,.?/";

/// `First name` / `Last name`: not blank, only `a-z`, `A-Z` and space.
pub fn person_name_problem(label: &str, name: &str) -> Option<String> {
    if name.trim().is_empty() {
        Some(format!("{label} cannot be blank"))
    } else if !name.chars().all(|c| c.is_ascii_alphabetic() || c == ' ') {
        Some(format!("{label} can contain a-z, A-Z and space"))
    } else {
        None
    }
}

/// Username (an email): not blank, a valid address.
pub fn username_problem(username: &str) -> Option<&'static str> {
    if username.trim().is_empty() {
        Some("Username/Email cannot be blank")
    } else if !is_valid_email(username) {
        Some("Enter a valid Username/Email")
    } else {
        None
    }
}

/// Password: not blank, only the documented characters, 6–20 long.
pub fn password_problem(password: &str) -> Option<&'static str> {
    if password.is_empty() {
        Some("Password cannot be blank")
    } else if !password
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || PASSWORD_SPECIALS.contains(c))
    {
        Some("Password can contain A-Z a-z 0-9 ~`!@#$%^&*()-_+={}|[];\\'\"<>,.?/")
    } else if !PASSWORD_LENGTH.contains(&password.chars().count()) {
        Some("Password should be between 6 - 20 characters")
    } else {
        None
    }
}

/// Comment: not blank, 6–250 characters.
pub fn comment_problem(comment: &str) -> Option<&'static str> {
    if comment.trim().is_empty() {
        Some("Comment can not be blank")
    } else if !COMMENT_LENGTH.contains(&comment.chars().count()) {
        Some("Comments length should be between 6 to 250")
    } else {
        None
    }
}

/// An email address as RemotePC accepts it: one `@`, a non-empty local part,
/// a dotted domain of letters, digits and hyphens, no spaces, at most 254.
pub fn is_valid_email(email: &str) -> bool {
    let Some((local, domain)) = email.split_once('@') else {
        return false;
    };
    let local_ok = !local.is_empty()
        && local.len() <= 64
        && !local.starts_with('.')
        && !local.ends_with('.')
        && !local.contains("..")
        && local
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "!#$%&'*+-/=?^_`{|}~.".contains(c));
    let labels: Vec<&str> = domain.split('.').collect();
    let domain_ok = labels.len() >= 2
        && labels.iter().all(|label| {
            !label.is_empty()
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
        })
        && labels
            .last()
            .is_some_and(|tld| tld.len() >= 2 && tld.chars().all(|c| c.is_ascii_alphabetic()));
    email.len() <= 254 && local_ok && domain_ok
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_allow_letters_and_spaces_only() {
        assert_eq!(person_name_problem("First name", "Mary Ann"), None);
        assert_eq!(
            person_name_problem("First name", "  ").as_deref(),
            Some("First name cannot be blank")
        );
        assert_eq!(
            person_name_problem("Last name", "O'Brien").as_deref(),
            Some("Last name can contain a-z, A-Z and space")
        );
        assert!(person_name_problem("First name", "José").is_some());
    }

    #[test]
    fn passwords_follow_charset_then_length() {
        assert_eq!(password_problem("abc12!"), None);
        assert_eq!(password_problem("a".repeat(20).as_str()), None);
        assert_eq!(password_problem(""), Some("Password cannot be blank"));
        assert_eq!(
            password_problem("abc12"),
            Some("Password should be between 6 - 20 characters")
        );
        assert_eq!(
            password_problem(&"a".repeat(21)),
            Some("Password should be between 6 - 20 characters")
        );
        assert!(
            password_problem("abc 123")
                .is_some_and(|rule| rule.starts_with("Password can contain"))
        );
        assert!(
            password_problem("pässwort")
                .is_some_and(|rule| rule.starts_with("Password can contain"))
        );
    }

    #[test]
    fn emails() {
        for good in [
            "a@b.co",
            "first.last+tag@sub.example.org",
            "x_y@ex-ample.io",
        ] {
            assert!(is_valid_email(good), "{good}");
        }
        for bad in [
            "", "a", "a@", "@b.co", "a@b", "a b@c.de", "a@b..co", "a@-b.co", "a@b.c", ".a@b.co",
            "a@b.c0",
        ] {
            assert!(!is_valid_email(bad), "{bad}");
        }
    }

    #[test]
    fn comments_are_6_to_250_characters() {
        assert_eq!(comment_problem("abcdef"), None);
        assert_eq!(comment_problem("   "), Some("Comment can not be blank"));
        assert_eq!(
            comment_problem("abcde"),
            Some("Comments length should be between 6 to 250")
        );
        assert_eq!(comment_problem(&"é".repeat(250)), None);
        assert_eq!(
            comment_problem(&"a".repeat(251)),
            Some("Comments length should be between 6 to 250")
        );
    }
}
