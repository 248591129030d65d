//! What target kinds share. A kind never imports a sibling kind: helpers
//! used by more than one kind live here (or on the service wrappers in
//! `aws/`, like the waits), so that adding a kind touches its own folder and
//! one registry line.

pub mod compare;
pub mod ec2;
pub mod ec2_undo;
pub mod rds;
pub mod rds_compare;
pub mod rds_sql;
pub mod rds_undo;

/// A tag value every service accepts (S3 and RDS allow only letters,
/// digits, spaces and `_ . : / = + - @`, at most 256 characters).
pub fn tag_value(text: &str) -> String {
    text.chars()
        .map(|c| {
            if c.is_alphanumeric() || " _.:/=+-@".contains(c) {
                c
            } else {
                ' '
            }
        })
        .take(256)
        .collect()
}
