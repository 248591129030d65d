//! "Did you mean" suggestions for misspelt keys and values.

/// The closest candidate to `input`, if one is close enough to be a typo.
pub fn did_you_mean<'a, S: AsRef<str>>(input: &str, candidates: &'a [S]) -> Option<&'a str> {
    let input_lower = input.to_ascii_lowercase();
    candidates
        .iter()
        .map(AsRef::as_ref)
        .map(|c| {
            (
                strsim::jaro_winkler(&input_lower, &c.to_ascii_lowercase()),
                c,
            )
        })
        .filter(|(score, _)| *score >= 0.8)
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, c)| c)
}

#[cfg(test)]
mod tests {
    use super::did_you_mean;

    #[test]
    fn suggests_close_keys_only() {
        let keys = ["bucket", "backup", "fault", "canary"];
        assert_eq!(did_you_mean("buckt", &keys), Some("bucket"));
        assert_eq!(did_you_mean("fualt", &keys), Some("fault"));
        assert_eq!(did_you_mean("zzz", &keys), None);
    }
}
