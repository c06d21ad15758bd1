//! Who is calling: the `Caller` every GraphQL request carries, naming the
//! team and the RemotePC account it acts on.

/// The identity a request acts under.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    /// The team's name, as written in audit records and logs.
    pub team: String,
    /// The RemotePC account the team's requests go to.
    pub account: String,
}

impl Caller {
    /// The caller of a gateway without teams: everything acts on `account`.
    pub fn anonymous(account: &str) -> Self {
        Self {
            team: "anonymous".to_owned(),
            account: account.to_owned(),
        }
    }
}
