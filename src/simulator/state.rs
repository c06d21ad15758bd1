//! The simulated account: users, invitations, devices, groups and
//! assignments, with RemotePC's rules and error descriptions.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{Value, json};

use super::vendor_rules;

/// A refusal: HTTP status and the vendor's descriptions.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct SimError {
    pub(crate) status: u16,
    pub(crate) descriptions: Vec<String>,
}

impl SimError {
    pub(super) fn new(status: u16, description: &str) -> Self {
        Self {
            status,
            descriptions: vec![description.to_owned()],
        }
    }

    pub(super) fn bad_request(description: &str) -> Self {
        Self::new(400, description)
    }
}

type SimResult = Result<Value, SimError>;

/// An active user of the simulated account.
#[expect(
    missing_docs,
    reason = "the vendor's field names (remotepc-api.md): only fields whose name does not say what they hold are documented"
)]
#[derive(Debug, Clone, PartialEq)]
pub struct SimUser {
    pub firstname: String,
    pub lastname: String,
    /// Email, the key.
    pub username: String,
    /// Whether two-factor authentication is required.
    pub two_factor: bool,
}

/// A computer of the simulated account.
#[expect(
    missing_docs,
    reason = "the vendor's field names (remotepc-api.md): only fields whose name does not say what they hold are documented"
)]
#[derive(Debug, Clone, PartialEq)]
pub struct SimDevice {
    /// Vendor machine id.
    pub machine_id: String,
    /// Host name, the key.
    pub host_name: String,
    pub os: String,
    pub os_version: String,
    pub ip: String,
    /// `YYYY-MM-DD hh:mm:ss` or empty.
    pub last_session: String,
    pub comments: String,
    /// Online (cannot be removed) or offline.
    pub online: bool,
    /// Users the computer is assigned to.
    pub assigned_to: BTreeSet<String>,
    /// Group the computer is in.
    pub group: Option<String>,
}

/// Everything the simulated account holds.
#[derive(Debug, Clone, Default)]
pub struct SimState {
    pub(crate) users: BTreeMap<String, SimUser>,
    pub(crate) invited: BTreeSet<String>,
    pub(crate) devices: BTreeMap<String, SimDevice>,
    pub(crate) groups: BTreeSet<String>,
    /// The record count list calls claim, whatever the records hold (a
    /// broken upstream); pages past the real records come back empty.
    pub claimed_total: Option<usize>,
}

impl SimState {
    /// An active user by email (case-insensitive).
    pub fn user(&self, email: &str) -> Option<&SimUser> {
        self.users.get(&email.to_ascii_lowercase())
    }

    /// Whether an invitation is pending for this email.
    pub fn is_invited(&self, email: &str) -> bool {
        self.invited.contains(&email.to_ascii_lowercase())
    }

    /// A device by host name.
    pub fn device(&self, name: &str) -> Option<&SimDevice> {
        self.devices.get(name)
    }

    /// Mutable access for tests that need a device in a given state.
    pub fn device_mut(&mut self, name: &str) -> Option<&mut SimDevice> {
        self.devices.get_mut(name)
    }

    /// All devices, by host name.
    pub fn devices(&self) -> impl Iterator<Item = &SimDevice> {
        self.devices.values()
    }

    /// All active users, by email.
    pub fn users(&self) -> impl Iterator<Item = &SimUser> {
        self.users.values()
    }

    /// Whether a group exists.
    pub fn has_group(&self, name: &str) -> bool {
        self.groups.contains(name)
    }

    pub(crate) fn invite(&mut self, body: &Value) -> SimResult {
        let emails = string_list(body, "email")
            .ok_or_else(|| SimError::bad_request("Email cannot be blank"))?;
        check_flag(body, "status_2FA", "Invalid two factor status")?;
        check_flag(body, "sso_flag", "Invalid SSO flag")?;
        let (mut invited, mut invalid) = (Vec::new(), Vec::new());
        let mut all_taken = !emails.is_empty();
        for email in emails {
            let key = email.trim().to_ascii_lowercase();
            let taken = self.users.contains_key(&key) || self.invited.contains(&key);
            all_taken &= taken;
            if taken || !vendor_rules::email_ok(email.trim()) {
                invalid.push(email);
            } else {
                self.invited.insert(key);
                invited.push(email);
            }
        }
        if all_taken {
            return Err(SimError::bad_request(
                "Email is already in use or already invited.",
            ));
        }
        Ok(json!({ "invalid_list": invalid, "invited_list": invited }))
    }

    pub(crate) fn create_user(&mut self, body: &Value) -> SimResult {
        let firstname = string_field(body, "firstname");
        let lastname = string_field(body, "lastname");
        let username = string_field(body, "username").trim().to_owned();
        let password = string_field(body, "password");
        let mut problems: Vec<String> = [
            vendor_rules::name_error("First name", &firstname),
            vendor_rules::name_error("Last name", &lastname),
            vendor_rules::username_error(&username).map(str::to_owned),
            vendor_rules::password_error(&password).map(str::to_owned),
        ]
        .into_iter()
        .flatten()
        .collect();
        if let Err(flag) = check_flag(body, "status_2FA", "Invalid two factor status") {
            problems.extend(flag.descriptions);
        }
        if !problems.is_empty() {
            return Err(SimError {
                status: 400,
                descriptions: problems,
            });
        }
        let key = username.to_ascii_lowercase();
        if self.users.contains_key(&key) || self.invited.contains(&key) {
            return Err(SimError::bad_request(
                "Email is already in use or already invited.",
            ));
        }
        let two_factor = body.get("status_2FA").and_then(Value::as_u64) == Some(1);
        self.users.insert(
            key,
            SimUser {
                firstname,
                lastname,
                username,
                two_factor,
            },
        );
        Ok(json!("SUCCESS"))
    }

    pub(crate) fn delete_users(&mut self, body: &Value) -> SimResult {
        let (Some(active), Some(invited)) = (
            string_list(body, "sub_ids"),
            string_list(body, "invited_ids"),
        ) else {
            return Err(SimError::bad_request("FAILED"));
        };
        let mut active_status = serde_json::Map::new();
        for email in active {
            let removed = self.users.remove(&email.to_ascii_lowercase()).is_some();
            if removed {
                for device in self.devices.values_mut() {
                    device.assigned_to.remove(&email.to_ascii_lowercase());
                }
            }
            active_status.insert(email, json!(if removed { "SUCCESS" } else { "FAILED" }));
        }
        let mut invited_status = serde_json::Map::new();
        for email in invited {
            let removed = self.invited.remove(&email.to_ascii_lowercase());
            invited_status.insert(email, json!(if removed { "SUCCESS" } else { "FAILED" }));
        }
        // RemotePC sends this object as a string holding JSON.
        Ok(Value::String(
            json!({
                "active_user_delete_status": active_status,
                "invited_user_delete_status": invited_status,
            })
            .to_string(),
        ))
    }

    pub(crate) fn assign(&mut self, body: &Value, assign: bool) -> SimResult {
        let username = string_field(body, "username").trim().to_ascii_lowercase();
        if username.is_empty() {
            return Err(SimError::bad_request("Username is required"));
        }
        let names = self.required_names(body)?;
        if !self.users.contains_key(&username) {
            return Err(SimError::new(404, "User not found"));
        }
        self.require_devices(&names)?;
        for name in &names {
            if let Some(device) = self.devices.get_mut(name) {
                if assign {
                    device.assigned_to.insert(username.clone());
                } else {
                    device.assigned_to.remove(&username);
                }
            }
        }
        Ok(json!("SUCCESS"))
    }

    pub(crate) fn create_group(&mut self, body: &Value) -> SimResult {
        let group = string_field(body, "group_name").trim().to_owned();
        if group.is_empty() {
            return Err(SimError::bad_request("Invalid group name"));
        }
        if self.groups.contains(&group) {
            return Err(SimError::bad_request("Group name is already exists"));
        }
        let names = string_list(body, "computer_names").unwrap_or_default();
        self.require_devices(&names)?;
        self.groups.insert(group.clone());
        self.move_devices(&group, &names);
        Ok(json!("SUCCESS"))
    }

    pub(crate) fn move_to_group(&mut self, body: &Value) -> SimResult {
        let group = string_field(body, "group_name").trim().to_owned();
        if group.is_empty() {
            return Err(SimError::bad_request("Invalid group name"));
        }
        let names = self.required_names(body)?;
        if !self.groups.contains(&group) {
            return Err(SimError::bad_request("Group name does not exists"));
        }
        self.require_devices(&names)?;
        self.move_devices(&group, &names);
        Ok(json!("SUCCESS"))
    }

    pub(crate) fn remove(&mut self, body: &Value) -> SimResult {
        let names = self.required_names(body)?;
        if names.len() > vendor_rules::MAX_REMOVE {
            return Err(SimError::bad_request("Computer limit exceeded"));
        }
        self.require_devices(&names)?;
        if names
            .iter()
            .any(|name| self.devices.get(name).is_some_and(|device| device.online))
        {
            return Err(SimError::bad_request(
                "Only offline computers can be removed",
            ));
        }
        for name in &names {
            self.devices.remove(name);
        }
        Ok(json!("SUCCESS"))
    }

    pub(crate) fn add_comment(&mut self, body: &Value) -> SimResult {
        let name = string_field(body, "computer_name").trim().to_owned();
        if name.is_empty() {
            return Err(SimError::bad_request("Computer name cannot be blank"));
        }
        let comment = string_field(body, "comment_desc");
        if let Some(problem) = vendor_rules::comment_error(&comment) {
            return Err(SimError::bad_request(problem));
        }
        let device = self
            .devices
            .get_mut(&name)
            .ok_or_else(|| SimError::new(404, "Computer(s) not found"))?;
        device.comments = comment;
        Ok(json!("SUCCESS"))
    }

    fn required_names(&self, body: &Value) -> Result<Vec<String>, SimError> {
        match string_list(body, "computer_names") {
            Some(names) if !names.is_empty() => Ok(names),
            _ => Err(SimError::bad_request(
                "Computer names are not found in the request",
            )),
        }
    }

    fn require_devices(&self, names: &[String]) -> Result<(), SimError> {
        if names.iter().all(|name| self.devices.contains_key(name)) {
            Ok(())
        } else {
            Err(SimError::new(404, "Computer(s) not found"))
        }
    }

    fn move_devices(&mut self, group: &str, names: &[String]) {
        for name in names {
            if let Some(device) = self.devices.get_mut(name) {
                device.group = Some(group.to_owned());
            }
        }
    }
}

fn string_field(body: &Value, name: &str) -> String {
    body.get(name)
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned()
}

fn string_list(body: &Value, name: &str) -> Option<Vec<String>> {
    body.get(name)?
        .as_array()?
        .iter()
        .map(|item| item.as_str().map(str::to_owned))
        .collect()
}

/// An optional 0/1 flag; anything else present is refused.
fn check_flag(body: &Value, name: &str, description: &str) -> Result<(), SimError> {
    match body.get(name) {
        None | Some(Value::Null) => Ok(()),
        Some(value) if matches!(value.as_u64(), Some(0 | 1)) => Ok(()),
        Some(_) => Err(SimError::bad_request(description)),
    }
}
