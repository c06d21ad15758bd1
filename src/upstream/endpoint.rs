//! The eleven documented endpoints, shared with the simulator so both sides
//! name and count calls alike.

use std::fmt;

/// One RemotePC MSP endpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Endpoint {
    /// `POST user/invite`
    UserInvite,
    /// `POST user/create`
    UserCreate,
    /// `POST user/delete`
    UserDelete,
    /// `GET user/list`
    UserList,
    /// `POST computer/assign`
    ComputerAssign,
    /// `POST computer/unassign`
    ComputerUnassign,
    /// `POST computer/group/create`
    GroupCreate,
    /// `POST computer/remove`
    ComputerRemove,
    /// `POST computer/comments/add`
    CommentAdd,
    /// `GET computer/list`
    ComputerList,
    /// `POST computer/group/move`
    GroupMove,
}

impl Endpoint {
    /// Every endpoint, in the order of the vendor's documentation.
    pub const ALL: [Endpoint; 11] = [
        Endpoint::UserInvite,
        Endpoint::UserCreate,
        Endpoint::UserDelete,
        Endpoint::UserList,
        Endpoint::ComputerAssign,
        Endpoint::ComputerUnassign,
        Endpoint::GroupCreate,
        Endpoint::ComputerRemove,
        Endpoint::CommentAdd,
        Endpoint::ComputerList,
        Endpoint::GroupMove,
    ];

    /// Path relative to the API's base URL.
    pub const fn path(self) -> &'static str {
        match self {
            Endpoint::UserInvite => "user/invite",
            Endpoint::UserCreate => "user/create",
            Endpoint::UserDelete => "user/delete",
            Endpoint::UserList => "user/list",
            Endpoint::ComputerAssign => "computer/assign",
            Endpoint::ComputerUnassign => "computer/unassign",
            Endpoint::GroupCreate => "computer/group/create",
            Endpoint::ComputerRemove => "computer/remove",
            Endpoint::CommentAdd => "computer/comments/add",
            Endpoint::ComputerList => "computer/list",
            Endpoint::GroupMove => "computer/group/move",
        }
    }

    /// List calls are reads (GET) and safe to repeat; every other call
    /// changes the account and must never be sent twice by accident.
    pub const fn is_read(self) -> bool {
        matches!(self, Endpoint::UserList | Endpoint::ComputerList)
    }
}

impl fmt::Display for Endpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.path())
    }
}
