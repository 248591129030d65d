//! Any bytes handed to the scenario parser: it must return a scenario or
//! diagnostics whose spans lie inside the text, and render them, without
//! panicking, hanging or growing without bound.
#![no_main]

use std::path::Path;

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Err(e) = firedrill::scenario::parse_bytes(Path::new("fuzz.toml"), data) {
        assert!(!e.diagnostics.is_empty(), "an error without a diagnostic");
        let len = data.len();
        for d in &e.diagnostics {
            if let Some(s) = &d.span {
                assert!(s.start <= s.end && s.end <= len.max(s.start), "span {s:?} outside {len} bytes");
            }
        }
        let _ = e.render();
    }
});
