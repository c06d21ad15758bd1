//! The vendor's documented input rules, restated for the simulator from
//! `../shared/remotepc-api.md` and written apart from the gateway's
//! `catalog::rules`. The simulator is the RemotePC the gateway is tested
//! against: a rule the gateway gets wrong must show up as a difference
//! between the two, not be copied into both. A test runs both on the same
//! inputs.

/// "At most 500 records per list page."
pub(super) const MAX_PER_PAGE: usize = 500;
/// "`computer/remove`: at most 50 computers per call."
pub(super) const MAX_REMOVE: usize = 50;

/// First and last names: "not blank; only a-z, A-Z and space".
pub(super) fn name_error(which: &str, value: &str) -> Option<String> {
    if value.chars().all(char::is_whitespace) {
        return Some(format!("{which} cannot be blank"));
    }
    let letters_and_spaces = value
        .bytes()
        .all(|byte| matches!(byte, b'a'..=b'z' | b'A'..=b'Z' | b' '));
    (!letters_and_spaces).then(|| format!("{which} can contain a-z, A-Z and space"))
}

/// The username: "a valid email".
pub(super) fn username_error(value: &str) -> Option<&'static str> {
    if value.chars().all(char::is_whitespace) {
        Some("Username/Email cannot be blank")
    } else if !email_ok(value) {
        Some("Enter a valid Username/Email")
    } else {
        None
    }
}

/// The password: "6–20 characters from A-Z a-z 0-9 ~`!@#$%^&*()-_+={}|[];\'"<>,.?/".
pub(super) fn password_error(value: &str) -> Option<&'static str> {
    const ALLOWED_SYMBOLS: &[u8] = b"~`!@#$%^&*()-_+={}|[];\\'\"<>,.?/";
    let allowed = |c: char| {
        c.is_ascii() && (c.is_ascii_alphanumeric() || ALLOWED_SYMBOLS.contains(&(c as u8)))
    };
    let length = value.chars().count();
    match () {
        () if value.is_empty() => Some("Password cannot be blank"),
        () if !value.chars().all(allowed) => {
            Some("Password can contain A-Z a-z 0-9 ~`!@#$%^&*()-_+={}|[];\\'\"<>,.?/")
        }
        () if !(6..=20).contains(&length) => Some("Password should be between 6 - 20 characters"),
        () => None,
    }
}

/// A comment: "not blank, 6–250 characters".
pub(super) fn comment_error(value: &str) -> Option<&'static str> {
    let length = value.chars().count();
    if value.chars().all(char::is_whitespace) {
        Some("Comment can not be blank")
    } else if !(6..=250).contains(&length) {
        Some("Comments length should be between 6 to 250")
    } else {
        None
    }
}

/// An address of the form `local@host.tld`: no spaces, one `@`, a host of
/// dot-separated labels of letters, digits and inner hyphens, a top-level
/// domain of two letters or more, at most 254 characters.
pub(super) fn email_ok(value: &str) -> bool {
    let mut parts = value.split('@');
    let (Some(local), Some(host), None) = (parts.next(), parts.next(), parts.next()) else {
        return false;
    };
    let label_ok = |label: &str| {
        !label.is_empty()
            && label
                .bytes()
                .all(|byte| byte.is_ascii_alphanumeric() || byte == b'-')
            && !label.starts_with('-')
            && !label.ends_with('-')
    };
    let labels: Vec<&str> = host.split('.').collect();
    let tld_ok = labels
        .last()
        .is_some_and(|tld| tld.len() >= 2 && tld.bytes().all(|byte| byte.is_ascii_alphabetic()));
    value.len() <= 254
        && !local.is_empty()
        && !value.chars().any(char::is_whitespace)
        && labels.len() >= 2
        && labels.iter().all(|label| label_ok(label))
        && tld_ok
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::rules;

    /// Names, passwords, comments: typical and edge values, as frontends
    /// and people send them.
    fn samples() -> Vec<String> {
        let mut samples: Vec<String> = [
            "",
            " ",
            "   ",
            "Ada",
            "Mary Ann",
            "O'Brien",
            "Zoë",
            "Ana-Maria",
            "x1",
            "ABC",
            "abcdef",
            "abcde",
            "Sup3r-secret!",
            "pass word",
            "tab\tbed",
            "ünïcode6",
            "12345678901234567890",
            "123456789012345678901",
            "~`!@#$%^&*()-_+={}|[];\\'\"<>,.?/",
            "short",
            "exactly6",
            "a comment that is long enough",
        ]
        .iter()
        .map(|sample| (*sample).to_owned())
        .collect();
        samples.push("y".repeat(250));
        samples.push("y".repeat(251));
        samples
    }

    #[test]
    fn the_simulator_and_the_gateway_state_names_passwords_and_comments_alike() {
        for sample in samples() {
            for label in ["First name", "Last name"] {
                assert_eq!(
                    name_error(label, &sample),
                    rules::person_name_problem(label, &sample),
                    "{label}: {sample:?}"
                );
            }
            assert_eq!(
                password_error(&sample),
                rules::password_problem(&sample),
                "{sample:?}"
            );
            assert_eq!(
                comment_error(&sample),
                rules::comment_problem(&sample),
                "{sample:?}"
            );
        }
    }

    #[test]
    fn every_email_the_gateway_sends_the_simulator_accepts() {
        let emails = [
            "ada@example.com",
            "ada.king@example.co.uk",
            "a+tag@sub.example.org",
            "ada@",
            "@x.com",
            "ada@example",
            "ada@exam_ple.com",
            "ada@-x.com",
            "a da@x.com",
            "a@b@c.com",
            "ada@x.c",
            "ada..king@example.com",
            ".ada@example.com",
            "ada@example.c0m",
            "",
        ];
        for email in emails {
            if rules::is_valid_email(email) {
                assert!(
                    email_ok(email),
                    "the gateway would send {email:?}, which RemotePC refuses"
                );
            }
            assert_eq!(
                username_error(email).is_none(),
                email_ok(email),
                "{email:?}"
            );
        }
        for email in [
            "ada@example.com",
            "ada.king@example.co.uk",
            "a+tag@sub.example.org",
        ] {
            assert!(rules::is_valid_email(email) && email_ok(email), "{email}");
        }
    }
}
