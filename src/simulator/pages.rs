//! `user/list` and `computer/list` pages, serialized from borrowed, typed
//! records as the vendor writes them.

use serde::Serialize;

use super::state::{SimError, SimState};

impl SimState {
    /// One page of `user/list`, as the message's JSON text.
    pub(crate) fn user_page(&self, page: usize, per_page: usize) -> Result<String, SimError> {
        let total = self.claimed_total.unwrap_or(self.users.len());
        let users = page_of(self.users.values(), page, per_page, total)?
            .map(|user| UserOut {
                firstname: &user.firstname,
                lastname: &user.lastname,
                username: &user.username,
            })
            .collect();
        to_json(&UserPageOut {
            pagination: Pagination::new(page, per_page, total),
            users,
        })
    }

    /// One page of `computer/list`, as the message's JSON text.
    pub(crate) fn device_page(&self, page: usize, per_page: usize) -> Result<String, SimError> {
        let total = self.claimed_total.unwrap_or(self.devices.len());
        let devices = page_of(self.devices.values(), page, per_page, total)?
            .map(|device| DeviceOut {
                machine_id: &device.machine_id,
                host_name: &device.host_name,
                host_os_version: &device.os_version,
                host_ip: &device.ip,
                viewer_last_session_time: &device.last_session,
                comments: &device.comments,
                host_os_text: &device.os,
                host_status_text: if device.online { "Online" } else { "Offline" },
            })
            .collect();
        to_json(&DevicePageOut {
            devices,
            pagination: Pagination::new(page, per_page, total),
        })
    }
}

fn page_of<'a, T: 'a>(
    items: impl Iterator<Item = &'a T>,
    page: usize,
    per_page: usize,
    total: usize,
) -> Result<impl Iterator<Item = &'a T>, SimError> {
    let pages = total.div_ceil(per_page).max(1);
    if page == 0 || page > pages {
        return Err(SimError::bad_request("Invalid page index"));
    }
    Ok(items.skip((page - 1) * per_page).take(per_page))
}

// Pages are serialized from borrowed, typed records: a 500-record page built
// as a `json!` tree cost more than everything else the simulator does.
#[derive(Serialize)]
struct Pagination {
    records_per_page: usize,
    total_records: usize,
    total_page_count: usize,
    current_page_index: usize,
}

impl Pagination {
    fn new(page: usize, per_page: usize, total: usize) -> Self {
        Self {
            records_per_page: per_page,
            total_records: total,
            total_page_count: total.div_ceil(per_page),
            current_page_index: page,
        }
    }
}

#[derive(Serialize)]
struct UserOut<'a> {
    firstname: &'a str,
    lastname: &'a str,
    username: &'a str,
}

#[derive(Serialize)]
struct UserPageOut<'a> {
    pagination: Pagination,
    users: Vec<UserOut<'a>>,
}

#[derive(Serialize)]
struct DeviceOut<'a> {
    machine_id: &'a str,
    host_name: &'a str,
    host_os_version: &'a str,
    host_ip: &'a str,
    viewer_last_session_time: &'a str,
    comments: &'a str,
    host_os_text: &'a str,
    host_status_text: &'static str,
}

#[derive(Serialize)]
struct DevicePageOut<'a> {
    devices: Vec<DeviceOut<'a>>,
    pagination: Pagination,
}

fn to_json(value: &impl Serialize) -> Result<String, SimError> {
    serde_json::to_string(value).map_err(|_| SimError::new(500, "INTERNAL_SERVER_ERROR"))
}
