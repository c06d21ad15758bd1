//! Change cursors: a position in one account's change log, written so that
//! a client cannot mistake one account's position for another's and every
//! replica reads it the same.

use std::fmt;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

/// A position in an account's change log: every change after it is what
/// a resume there delivers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChangeCursor {
    /// The log position (0: before the first change).
    pub position: u64,
}

/// Why a cursor cannot be resumed from; every reason means the same to a
/// client: list again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CursorProblem {
    /// It is not a cursor this gateway wrote.
    Malformed,
    /// It is a position in another account's log.
    OtherAccount,
    /// Changes after it are no longer kept (retention, the row cap) or
    /// were lost before the log had them.
    Expired,
    /// It is past the end of the log.
    Unknown,
}

impl fmt::Display for CursorProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            CursorProblem::Malformed => "the cursor is not one this gateway gave",
            CursorProblem::OtherAccount => "the cursor belongs to another account",
            CursorProblem::Expired => {
                "changes after the cursor are no longer kept (live.history_retention, live.history_max_rows) or were lost"
            }
            CursorProblem::Unknown => "the cursor is past the end of the change log",
        })
    }
}

const VERSION: &str = "c1";

impl ChangeCursor {
    /// The cursor at `position`.
    pub fn at(position: u64) -> Self {
        Self { position }
    }

    /// The cursor as `account`'s clients see it.
    pub fn encode(self, account: &str) -> String {
        URL_SAFE_NO_PAD.encode(format!(
            "{VERSION}.{}.{}",
            self.position,
            account_tag(account)
        ))
    }

    /// Reads a cursor `encode` gave for `account`.
    pub fn decode(text: &str, account: &str) -> Result<Self, CursorProblem> {
        let bytes = URL_SAFE_NO_PAD
            .decode(text.trim())
            .map_err(|_| CursorProblem::Malformed)?;
        let text = std::str::from_utf8(&bytes).map_err(|_| CursorProblem::Malformed)?;
        let mut parts = text.split('.');
        let (Some(VERSION), Some(position), Some(tag), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(CursorProblem::Malformed);
        };
        let position = position.parse().map_err(|_| CursorProblem::Malformed)?;
        if tag != account_tag(account) {
            return Err(CursorProblem::OtherAccount);
        }
        Ok(Self { position })
    }
}

/// Twelve hex digits of the account id's digest: tells accounts apart
/// without naming one in every cursor.
fn account_tag(account: &str) -> String {
    let mut digest = crate::digest::sha256_hex(account.as_bytes());
    digest.truncate(12);
    digest
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cursor_reads_back_for_its_account_only() {
        let cursor = ChangeCursor::at(42).encode("acme");
        assert_eq!(
            ChangeCursor::decode(&cursor, "acme"),
            Ok(ChangeCursor::at(42))
        );
        assert_eq!(
            ChangeCursor::decode(&cursor, "globex"),
            Err(CursorProblem::OtherAccount)
        );
    }

    #[test]
    fn anything_else_is_malformed() {
        let forged = [
            "",
            "not base64!",
            &URL_SAFE_NO_PAD.encode("c1.x.abc"),
            &URL_SAFE_NO_PAD.encode("c2.1.abc"),
            &URL_SAFE_NO_PAD.encode("c1.1"),
            &URL_SAFE_NO_PAD.encode("c1.-1.abc"),
            &URL_SAFE_NO_PAD.encode([0xff, 0xfe]),
        ];
        for text in forged {
            assert_eq!(
                ChangeCursor::decode(text, "acme"),
                Err(CursorProblem::Malformed),
                "{text}"
            );
        }
    }
}
