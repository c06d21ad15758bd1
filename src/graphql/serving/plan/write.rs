//! Writing a compiled plan's page straight from a listing: each item's
//! fields copied from the snapshot's written form of it, each cursor from
//! the view's, so that a page costs copies rather than formatting.

use super::{ConnectionField, EdgeField, NodeField, NodeWrite, PageInfoField};
use crate::catalog::{Keyed, Listing, WrittenForm};
use crate::graphql::schema::connection::{PageBounds, encode_cursor};
use crate::graphql::schema::json_out::{write_bool, write_str};
use crate::graphql::schema::planned::{PlannedNode, written_field, written_run};

/// One page of a listing, as the connection's selection writes it.
pub(super) struct Page<'a, T> {
    pub(super) listing: &'a Listing<T>,
    pub(super) bounds: PageBounds,
}

impl<T: Keyed + PlannedNode + WrittenForm> Page<'_, T> {
    /// The connection object, its fields in selection order.
    pub(super) fn write(&self, fields: &[ConnectionField], out: &mut Vec<u8>) {
        out.push(b'{');
        for (index, field) in fields.iter().enumerate() {
            if index > 0 {
                out.push(b',');
            }
            match field {
                ConnectionField::TotalCount(key) => {
                    out.extend_from_slice(key);
                    let total = self.listing.len();
                    out.extend_from_slice(itoa::Buffer::new().format(total).as_bytes());
                }
                ConnectionField::Typename(key, name) => {
                    out.extend_from_slice(key);
                    write_str(name, out);
                }
                ConnectionField::PageInfo(key, fields) => {
                    out.extend_from_slice(key);
                    self.write_page_info(fields, out);
                }
                ConnectionField::Edges(key, fields) => {
                    out.extend_from_slice(key);
                    self.write_each(out, |index, out| self.write_edge(index, fields, out));
                }
                ConnectionField::Nodes(key, fields) => {
                    out.extend_from_slice(key);
                    self.write_each(out, |index, out| self.write_node(index, fields, out));
                }
            }
        }
        out.push(b'}');
    }

    /// A JSON array of what `write` writes for each item of the page.
    fn write_each(&self, out: &mut Vec<u8>, write: impl Fn(usize, &mut Vec<u8>)) {
        out.push(b'[');
        for index in self.bounds.start..self.bounds.end {
            if index > self.bounds.start {
                out.push(b',');
            }
            write(index, out);
        }
        out.push(b']');
    }

    fn write_page_info(&self, fields: &[PageInfoField], out: &mut Vec<u8>) {
        let PageBounds { start, end } = self.bounds;
        out.push(b'{');
        for (index, field) in fields.iter().enumerate() {
            if index > 0 {
                out.push(b',');
            }
            match field {
                PageInfoField::HasPreviousPage(key) => {
                    out.extend_from_slice(key);
                    write_bool(start > 0, out);
                }
                PageInfoField::HasNextPage(key) => {
                    out.extend_from_slice(key);
                    write_bool(end < self.listing.len(), out);
                }
                PageInfoField::StartCursor(key) => {
                    out.extend_from_slice(key);
                    self.write_cursor((start < end).then_some(start), out);
                }
                PageInfoField::EndCursor(key) => {
                    out.extend_from_slice(key);
                    self.write_cursor((start < end).then(|| end - 1), out);
                }
                PageInfoField::Typename(key) => {
                    out.extend_from_slice(key);
                    write_str("PageInfo", out);
                }
            }
        }
        out.push(b'}');
    }

    /// One edge, its fields in selection order.
    fn write_edge(&self, index: usize, fields: &[EdgeField], out: &mut Vec<u8>) {
        out.push(b'{');
        for (position, field) in fields.iter().enumerate() {
            if position > 0 {
                out.push(b',');
            }
            match field {
                EdgeField::Cursor(key) => {
                    out.extend_from_slice(key);
                    self.write_cursor(Some(index), out);
                }
                EdgeField::Node(key, fields) => {
                    out.extend_from_slice(key);
                    self.write_node(index, fields, out);
                }
                EdgeField::Typename(key, name) => {
                    out.extend_from_slice(key);
                    write_str(name, out);
                }
            }
        }
        out.push(b'}');
    }

    /// The item at `index`'s cursor, or `null`. A cursor is base64url,
    /// which JSON never escapes.
    fn write_cursor(&self, index: Option<usize>, out: &mut Vec<u8>) {
        let Some(index) = index else {
            out.extend_from_slice(b"null");
            return;
        };
        let cursor = self.listing.cursor(index, encode_cursor);
        out.reserve(cursor.len() + 2);
        out.push(b'"');
        out.extend_from_slice(cursor.as_bytes());
        out.push(b'"');
    }

    /// One node, its fields in selection order, copied from the item's
    /// written form: a run of fields under their own names in one copy.
    fn write_node(&self, index: usize, fields: &[NodeField], out: &mut Vec<u8>) {
        let written = self.listing.snapshot.written(self.listing.position(index));
        out.push(b'{');
        for (position, (key, write)) in fields.iter().enumerate() {
            if position > 0 {
                out.push(b',');
            }
            out.extend_from_slice(key);
            match write {
                NodeWrite::Typename => write_str(T::TYPENAME, out),
                NodeWrite::Field(field) => {
                    out.extend_from_slice(written_field::<T>(written, *field));
                }
                NodeWrite::Run(first, last) => {
                    out.extend_from_slice(written_run::<T>(written, *first, *last));
                }
            }
        }
        out.push(b'}');
    }
}
