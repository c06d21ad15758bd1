//! Tokens anyone could guess: common words (in three cases and with digits
//! swapped in for letters), with short suffixes, and short numbers, as
//! SHA-256 hashes that a team's `token_sha256` must not be.

/// Letters people swap for digits (`s3cr3t`, `p4ssw0rd`): each set is
/// applied to every guessable word as a whole.
const LEET: &[&[(char, char)]] = &[
    &[('e', '3')],
    &[('o', '0')],
    &[('a', '4')],
    &[('a', '@')],
    &[('i', '1')],
    &[('s', '5')],
    &[('s', '$')],
    &[('e', '3'), ('o', '0'), ('a', '4'), ('i', '1')],
    &[('e', '3'), ('o', '0'), ('a', '@'), ('i', '1'), ('s', '5')],
];

/// Words people type as a token when they mean "anything"; with digit
/// suffixes and short numbers, a few thousand guesses that a token must not
/// be one of.
const GUESSABLE_WORDS: &[&str] = &[
    "test",
    "testing",
    "token",
    "secret",
    "password",
    "passw0rd",
    "admin",
    "root",
    "user",
    "guest",
    "demo",
    "example",
    "changeme",
    "change-me",
    "letmein",
    "welcome",
    "default",
    "qwerty",
    "abc",
    "abcd",
    "abcdef",
    "foo",
    "bar",
    "foobar",
    "dev",
    "prod",
    "staging",
    "local",
    "gateway",
    "remotepc",
    "helpdesk",
    "identity",
    "api",
    "apikey",
    "api-key",
    "key",
    "bearer",
    "team",
    "service",
    "internal",
    "x",
    "xxx",
    "",
];

/// SHA-256 hex of every guessable token: each word in lower, upper and
/// title case and with digits swapped in, alone or with a suffix of up to
/// two digits, `123` or `!`;
/// every number of up to four digits and a few well-known longer ones.
pub(super) fn token_hashes() -> &'static std::collections::HashSet<String> {
    static HASHES: std::sync::OnceLock<std::collections::HashSet<String>> =
        std::sync::OnceLock::new();
    HASHES.get_or_init(|| {
        let hash = |token: &str| crate::digest::sha256_hex(token.as_bytes());
        let suffixes: Vec<String> = [String::new(), "123".to_owned(), "!".to_owned()]
            .into_iter()
            .chain((0..100).map(|number| number.to_string()))
            .chain((0..10).map(|number| format!("0{number}")))
            .collect();
        let mut hashes = std::collections::HashSet::new();
        for word in GUESSABLE_WORDS {
            let title: String = word
                .chars()
                .enumerate()
                .map(|(index, letter)| {
                    if index == 0 {
                        letter.to_ascii_uppercase()
                    } else {
                        letter
                    }
                })
                .collect();
            let leet = LEET.iter().map(|swaps| {
                word.chars()
                    .map(|letter| {
                        swaps
                            .iter()
                            .find(|(plain, _)| *plain == letter)
                            .map_or(letter, |(_, swapped)| *swapped)
                    })
                    .collect::<String>()
            });
            let forms = [word.to_string(), word.to_ascii_uppercase(), title]
                .into_iter()
                .chain(leet);
            for form in forms {
                for suffix in &suffixes {
                    hashes.insert(hash(&format!("{form}{suffix}")));
                }
            }
        }
        let repeated = (1..10u32).map(|digit| digit * 111_111);
        for number in (0..10_000u32).chain(repeated).chain([123_456, 654_321]) {
            hashes.insert(hash(&number.to_string()));
        }
        hashes
    })
}
