//! Request bodies and success payloads of the eleven endpoints, with the
//! vendor's field names. Responses are read leniently: unknown fields are
//! ignored, missing ones are absent, scalars may come as strings or numbers.

use std::collections::BTreeMap;
use std::fmt;

use serde::de::{self, Visitor};
use serde::{Deserialize, Deserializer, Serialize};

/// `POST user/invite`.
#[derive(Debug, Clone, Serialize)]
pub struct InviteUsers {
    /// Emails to invite.
    pub email: Vec<String>,
    /// 1 to require two-factor authentication.
    #[serde(rename = "status_2FA", skip_serializing_if = "Option::is_none")]
    pub status_2fa: Option<u8>,
    /// 1 to sign in with SSO (newer revisions of the API).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sso_flag: Option<u8>,
}

/// Success payload of `user/invite`.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(default)]
pub struct InviteOutcome {
    /// Emails the upstream refused.
    #[serde(deserialize_with = "lenient_strings")]
    pub invalid_list: Vec<String>,
    /// Emails invited.
    #[serde(deserialize_with = "lenient_strings")]
    pub invited_list: Vec<String>,
}

/// `POST user/create`. `Debug` redacts the password.
#[expect(
    missing_docs,
    reason = "the vendor's field names (remotepc-api.md): only fields whose name does not say what they hold are documented"
)]
#[derive(Clone, Serialize)]
pub struct CreateUser {
    pub firstname: String,
    pub lastname: String,
    /// Email, used as the username.
    pub username: String,
    /// Initial password.
    pub password: String,
    /// 1 to require two-factor authentication.
    #[serde(rename = "status_2FA", skip_serializing_if = "Option::is_none")]
    pub status_2fa: Option<u8>,
}

impl fmt::Debug for CreateUser {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CreateUser")
            .field("firstname", &self.firstname)
            .field("lastname", &self.lastname)
            .field("username", &self.username)
            .field("password", &"[redacted]")
            .field("status_2fa", &self.status_2fa)
            .finish()
    }
}

/// `POST user/delete`.
#[derive(Debug, Clone, Serialize)]
pub struct DeleteUsers {
    /// Active users' emails.
    pub sub_ids: Vec<String>,
    /// Invited users' emails.
    pub invited_ids: Vec<String>,
}

/// Success payload of `user/delete`: `"SUCCESS"` or `"FAILED"` per email.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(default)]
pub struct DeleteOutcome {
    /// Status per active user's email.
    pub active_user_delete_status: BTreeMap<String, String>,
    /// Status per invited user's email.
    pub invited_user_delete_status: BTreeMap<String, String>,
}

/// `POST computer/assign` and `computer/unassign`.
#[derive(Debug, Clone, Serialize)]
pub struct AssignComputers {
    /// The user's email.
    pub username: String,
    /// Computers' host names.
    pub computer_names: Vec<String>,
}

/// `POST computer/group/create`.
#[derive(Debug, Clone, Serialize)]
pub struct CreateGroup {
    /// New group's name.
    pub group_name: String,
    /// Computers moved into the new group.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub computer_names: Option<Vec<String>>,
}

/// `POST computer/group/move`.
#[derive(Debug, Clone, Serialize)]
pub struct MoveToGroup {
    /// Existing group's name.
    pub group_name: String,
    /// Computers' host names.
    pub computer_names: Vec<String>,
}

/// `POST computer/remove`.
#[derive(Debug, Clone, Serialize)]
pub struct RemoveComputers {
    /// Computers' host names (at most 50, all offline).
    pub computer_names: Vec<String>,
}

/// `POST computer/comments/add`.
#[derive(Debug, Clone, Serialize)]
pub struct AddComment {
    /// Computer's host name.
    pub computer_name: String,
    /// Comment text, 6–250 characters.
    pub comment_desc: String,
}

/// Paging parameters of the list calls, sent both as query parameters and as
/// a JSON body because the vendor documents them as a body on a GET.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct PageRequest {
    /// 1-based page number.
    #[serde(rename = "pageIndex")]
    pub page_index: u32,
    /// Records per page, at most 500.
    #[serde(rename = "recordPerPage")]
    pub record_per_page: u32,
}

/// `pagination` of a list page.
#[derive(Debug, Clone, Copy, Default, Deserialize, PartialEq)]
#[serde(default)]
pub struct Pagination {
    /// Records per page.
    #[serde(deserialize_with = "lenient_u64")]
    pub records_per_page: u64,
    /// Records in the whole collection.
    #[serde(deserialize_with = "lenient_u64")]
    pub total_records: u64,
    /// Pages in the whole collection.
    #[serde(deserialize_with = "lenient_u64")]
    pub total_page_count: u64,
    /// This page's 1-based index.
    #[serde(deserialize_with = "lenient_u64")]
    pub current_page_index: u64,
}

/// One page of a list call: which endpoint answers it, and its records.
/// The paging of every list call is the same; a new list endpoint is a
/// page type that says where its records are.
pub trait ListPage: de::DeserializeOwned + Send + 'static {
    /// The list call.
    const ENDPOINT: super::Endpoint;
    /// One record as the list call returns it.
    type Record: Send + 'static;
    /// Its paging information and its records.
    fn into_parts(self) -> (Pagination, Vec<Self::Record>);
}

impl ListPage for UserPage {
    const ENDPOINT: super::Endpoint = super::Endpoint::UserList;
    type Record = WireUser;
    fn into_parts(self) -> (Pagination, Vec<WireUser>) {
        (self.pagination, self.users)
    }
}

impl ListPage for DevicePage {
    const ENDPOINT: super::Endpoint = super::Endpoint::ComputerList;
    type Record = WireDevice;
    fn into_parts(self) -> (Pagination, Vec<WireDevice>) {
        (self.pagination, self.devices)
    }
}

/// One page of `user/list`.
#[expect(
    missing_docs,
    reason = "the vendor's field names (remotepc-api.md): only fields whose name does not say what they hold are documented"
)]
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct UserPage {
    pub pagination: Pagination,
    /// The users on this page.
    pub users: Vec<WireUser>,
}

/// A user as `user/list` returns it.
#[expect(
    missing_docs,
    reason = "the vendor's field names (remotepc-api.md): only fields whose name does not say what they hold are documented"
)]
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(default)]
pub struct WireUser {
    #[serde(deserialize_with = "lenient_string")]
    pub firstname: Option<String>,
    #[serde(deserialize_with = "lenient_string")]
    pub lastname: Option<String>,
    /// Email.
    #[serde(deserialize_with = "lenient_string")]
    pub username: Option<String>,
}

/// One page of `computer/list`.
#[expect(
    missing_docs,
    reason = "the vendor's field names (remotepc-api.md): only fields whose name does not say what they hold are documented"
)]
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct DevicePage {
    pub pagination: Pagination,
    /// The devices on this page.
    pub devices: Vec<WireDevice>,
}

/// A device as `computer/list` returns it.
#[expect(
    missing_docs,
    reason = "the vendor's field names (remotepc-api.md): only fields whose name does not say what they hold are documented"
)]
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(default)]
pub struct WireDevice {
    /// Vendor's machine id.
    #[serde(deserialize_with = "lenient_string")]
    pub machine_id: Option<String>,
    /// Host name; every POST call addresses computers by it.
    #[serde(deserialize_with = "lenient_string")]
    pub host_name: Option<String>,
    /// OS version, e.g. `10.0`.
    #[serde(deserialize_with = "lenient_string")]
    pub host_os_version: Option<String>,
    /// Last known IP address.
    #[serde(deserialize_with = "lenient_string")]
    pub host_ip: Option<String>,
    /// `YYYY-MM-DD hh:mm:ss` without a time zone, or empty.
    #[serde(deserialize_with = "lenient_string")]
    pub viewer_last_session_time: Option<String>,
    #[serde(deserialize_with = "lenient_string")]
    pub comments: Option<String>,
    /// OS family, e.g. `Windows`.
    #[serde(deserialize_with = "lenient_string")]
    pub host_os_text: Option<String>,
    /// `Online` or `Offline`.
    #[serde(deserialize_with = "lenient_string")]
    pub host_status_text: Option<String>,
}

/// A string, a number or a boolean as text; `null` and other shapes as
/// absent. Visits the value directly: list pages hold thousands of these.
fn lenient_string<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<String>, D::Error> {
    deserializer.deserialize_any(LenientString)
}

struct LenientString;

impl<'de> Visitor<'de> for LenientString {
    type Value = Option<String>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }
    fn visit_str<E: de::Error>(self, value: &str) -> Result<Self::Value, E> {
        Ok(Some(value.to_owned()))
    }
    fn visit_string<E: de::Error>(self, value: String) -> Result<Self::Value, E> {
        Ok(Some(value))
    }
    fn visit_i64<E: de::Error>(self, value: i64) -> Result<Self::Value, E> {
        Ok(Some(value.to_string()))
    }
    fn visit_u64<E: de::Error>(self, value: u64) -> Result<Self::Value, E> {
        Ok(Some(value.to_string()))
    }
    fn visit_f64<E: de::Error>(self, value: f64) -> Result<Self::Value, E> {
        Ok(Some(value.to_string()))
    }
    fn visit_bool<E: de::Error>(self, value: bool) -> Result<Self::Value, E> {
        Ok(Some(value.to_string()))
    }
    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(None)
    }
    fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(None)
    }
    fn visit_some<D: Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        deserializer.deserialize_any(self)
    }
    fn visit_seq<A: de::SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        while seq.next_element::<de::IgnoredAny>()?.is_some() {}
        Ok(None)
    }
    fn visit_map<A: de::MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        while map
            .next_entry::<de::IgnoredAny, de::IgnoredAny>()?
            .is_some()
        {}
        Ok(None)
    }
}

/// A list of strings, skipping entries of other shapes.
fn lenient_strings<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Vec<String>, D::Error> {
    Ok(match serde_json::Value::deserialize(deserializer)? {
        serde_json::Value::Array(items) => items
            .into_iter()
            .filter_map(|item| match item {
                serde_json::Value::String(text) => Some(text),
                _ => None,
            })
            .collect(),
        _ => Vec::new(),
    })
}

/// A non-negative integer given as a number or a numeric string; else 0.
fn lenient_u64<'de, D: Deserializer<'de>>(deserializer: D) -> Result<u64, D::Error> {
    Ok(match serde_json::Value::deserialize(deserializer)? {
        serde_json::Value::Number(number) => number.as_u64().unwrap_or(0),
        serde_json::Value::String(text) => text.trim().parse().unwrap_or(0),
        _ => 0,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn requests_use_the_vendor_field_names() {
        let invite = InviteUsers {
            email: vec!["a@example.com".into()],
            status_2fa: Some(1),
            sso_flag: None,
        };
        assert_eq!(
            serde_json::to_value(invite).expect("serializes"),
            json!({"email": ["a@example.com"], "status_2FA": 1})
        );
        let page = PageRequest {
            page_index: 2,
            record_per_page: 500,
        };
        assert_eq!(
            serde_json::to_value(page).expect("serializes"),
            json!({"pageIndex": 2, "recordPerPage": 500})
        );
    }

    #[test]
    fn devices_tolerate_odd_and_missing_fields() {
        let page: DevicePage = serde_json::from_value(json!({
            "devices": [{"machine_id": 42, "host_name": "A", "comments": null, "host_ip": ["x"],
                         "host_os_text": {"a": 1}, "extra": {"x": 1}}],
            "pagination": {"total_records": "1", "total_page_count": 1}
        }))
        .expect("lenient parse");
        let device = &page.devices[0];
        assert_eq!(device.machine_id.as_deref(), Some("42"));
        assert_eq!(device.comments, None);
        assert_eq!(device.host_ip, None);
        assert_eq!(device.host_os_text, None);
        assert_eq!(device.host_status_text, None);
        assert_eq!(page.pagination.total_records, 1);
    }

    #[test]
    fn create_user_debug_hides_the_password() {
        let create = CreateUser {
            firstname: "A".into(),
            lastname: "B".into(),
            username: "a@b.c".into(),
            password: "hunter22".into(),
            status_2fa: None,
        };
        assert!(!format!("{create:?}").contains("hunter22"));
    }
}
