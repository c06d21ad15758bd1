//! The tables compiled plans write objects by: for each object type, every
//! field a plan may select and how it is written, declared in the object's
//! own file beside its resolvers so that adding a field touches one place.
//! A test in each object's file holds its table to the served schema.

use crate::catalog::WrittenForm;

/// How a compiled plan writes one field of a node: its name in the schema
/// and its JSON, as the object above resolves it. Declared beside the
/// object's resolvers.
pub(crate) type FieldWriter<T> = (&'static str, fn(&T, &mut Vec<u8>));

/// A node type compiled plans can write.
pub(crate) trait PlannedNode: Sized + 'static {
    /// Its name, for `__typename`.
    const TYPENAME: &'static str;
    /// Every field a plan may select, with how it is written.
    const FIELDS: &'static [FieldWriter<Self>];
}

/// Where each field of a written form ends: one little-endian `u32` per
/// table field, ahead of the fields' JSON.
const END_BYTES: usize = 4;

/// A planned node's written form is every field of its table as the
/// object's JSON holds it, `"name":value`, joined by commas, behind where
/// each field ends: a page copies the fields it selects instead of
/// escaping strings and formatting dates again, and fields selected in
/// table order under their own names in one copy.
impl<T: PlannedNode> WrittenForm for T {
    fn written_form(&self) -> Box<[u8]> {
        let header = T::FIELDS.len() * END_BYTES;
        let mut form = vec![0; header];
        for (index, (name, write)) in T::FIELDS.iter().enumerate() {
            if index > 0 {
                form.push(b',');
            }
            form.extend_from_slice(own_key(name).as_bytes());
            write(self, &mut form);
            // A field past 4 GiB cannot be in a snapshot; saturating keeps
            // the reads below within the form regardless.
            let end = u32::try_from(form.len() - header).unwrap_or(u32::MAX);
            form[index * END_BYTES..][..END_BYTES].copy_from_slice(&end.to_le_bytes());
        }
        form.into_boxed_slice()
    }
}

/// A table field's own response key as JSON: table names are GraphQL
/// names, which JSON never escapes.
fn own_key(name: &str) -> String {
    format!("\"{name}\":")
}

/// The table's fields `first..=last` out of `T`'s written form, as a node
/// selecting them under their own names writes them: `"name":value`,
/// comma-separated.
pub(crate) fn written_run<T: PlannedNode>(form: &[u8], first: usize, last: usize) -> &[u8] {
    let body = form.get(T::FIELDS.len() * END_BYTES..).unwrap_or_default();
    body.get(field_start(form, first)..field_end(form, last))
        .unwrap_or_default()
}

/// The value of the table's field at `field` out of `T`'s written form.
pub(crate) fn written_field<T: PlannedNode>(form: &[u8], field: usize) -> &[u8] {
    let run = written_run::<T>(form, field, field);
    let key = T::FIELDS.get(field).map_or(0, |(name, _)| name.len() + 3);
    run.get(key..).unwrap_or_default()
}

/// Where field `index`'s `"name":` starts in a form's body.
fn field_start(form: &[u8], index: usize) -> usize {
    match index {
        0 => 0,
        _ => field_end(form, index - 1) + 1,
    }
}

/// Where field `index`'s value ends in a form's body.
fn field_end(form: &[u8], index: usize) -> usize {
    let bytes = form.get(index * END_BYTES..(index + 1) * END_BYTES);
    let bytes = bytes.and_then(|bytes| <[u8; END_BYTES]>::try_from(bytes).ok());
    bytes.map_or(0, |bytes| u32::from_le_bytes(bytes) as usize)
}

/// Test support: every field of the served object `name` is in `T`'s
/// table, or named in `not_planned` as one plans leave to async-graphql,
/// and every field of the table is served.
#[cfg(test)]
pub(crate) fn check_table<T: PlannedNode>(name: &str, not_planned: &[&str]) {
    let planned: Vec<&str> = T::FIELDS.iter().map(|(field, _)| *field).collect();
    for field in schema_fields(name) {
        assert!(
            planned.contains(&field.as_str()) || not_planned.contains(&field.as_str()),
            "{name}.{field} is served but missing from its plan table"
        );
    }
    for field in planned {
        assert!(
            schema_fields(name).iter().any(|served| served == field),
            "{name}.{field} is not served"
        );
    }
}

/// Test support: each field read out of `item`'s written form is the
/// bytes its table writer writes alone, and each run of fields is the
/// fields under their own names, comma-separated.
#[cfg(test)]
pub(crate) fn check_written_form<T: PlannedNode>(item: &T) {
    let form = item.written_form();
    let alone: Vec<String> = T::FIELDS
        .iter()
        .map(|(_, write)| {
            let mut out = Vec::new();
            write(item, &mut out);
            String::from_utf8_lossy(&out).into_owned()
        })
        .collect();
    for (index, (field, _)) in T::FIELDS.iter().enumerate() {
        let read = String::from_utf8_lossy(written_field::<T>(&form, index));
        assert_eq!(read, alone[index], "{field}");
    }
    for first in 0..T::FIELDS.len() {
        for last in first..T::FIELDS.len() {
            let expected: Vec<String> = (first..=last)
                .map(|index| format!("{}{}", own_key(T::FIELDS[index].0), alone[index]))
                .collect();
            let run = String::from_utf8_lossy(written_run::<T>(&form, first, last));
            assert_eq!(run, expected.join(","), "fields {first}..={last}");
        }
    }
}

/// The fields of `type NAME { … }` in the served schema.
#[cfg(test)]
fn schema_fields(name: &str) -> Vec<String> {
    let sdl = crate::graphql::sdl();
    let start = sdl
        .find(&format!("type {name} {{"))
        .or_else(|| sdl.find(&format!("type {name} implements ")))
        .expect("type in the schema");
    let body = &sdl[start..];
    let body = &body[..body.find("\n}").expect("closing brace")];
    let mut in_description = false;
    body.lines()
        .skip(1)
        .map(str::trim)
        .filter(|line| {
            // Descriptions are `"""` blocks of their own lines, or one
            // `"…"` line.
            if *line == "\"\"\"" {
                in_description = !in_description;
                return false;
            }
            !in_description && !line.is_empty() && !line.starts_with('"')
        })
        .filter_map(|line| line.split([':', '(']).next().map(str::to_owned))
        .collect()
}
