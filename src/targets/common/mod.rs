//! What target kinds share. A kind never imports a sibling kind: helpers
//! used by more than one kind live here (or on the service wrappers in
//! `aws/`, like the waits), so that adding a kind touches its own folder and
//! one registry line.

pub mod compare;
pub mod ec2;
pub mod ec2_iam;
pub mod ec2_undo;
pub mod point_in_time;
pub mod rds;
pub mod rds_compare;
pub mod rds_iam;
pub mod rds_sql;
pub mod rds_undo;
pub mod source;

/// A tag value every service accepts (S3 and RDS allow only letters,
/// digits, spaces and `_ . : / = + - @`, at most 256 characters).
/// The `firedrill:retained` tag saying why a copy is kept.
pub fn retained_tag(why: &str) -> (String, String) {
    (
        firedrill_core::resource::TAG_RETAINED.to_string(),
        tag_value(why),
    )
}

/// A resource's tags with the retained tag set (replacing an earlier one),
/// for services whose tag call replaces the whole set.
pub fn with_retained_tag(tags: Vec<(String, String)>, why: &str) -> Vec<(String, String)> {
    let (key, value) = retained_tag(why);
    let mut tags: Vec<(String, String)> = tags.into_iter().filter(|(k, _)| *k != key).collect();
    tags.push((key, value));
    tags
}

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
