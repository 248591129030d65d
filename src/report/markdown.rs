//! `report.md`: verdict, objectives table, stages, findings, controls,
//! provenance and links to the other artifacts, for pull requests and wikis.

use std::io::{self, Write};

use minijinja::{Value, context};

use super::Report;
use super::view::{self, ArtifactRef};

/// File name inside the run directory.
pub const FILE: &str = "report.md";

/// Render the Markdown report.
pub fn write<W: Write>(report: &Report, artifacts: &[ArtifactRef], out: W) -> io::Result<()> {
    let v = view::build(report, artifacts);
    view::render(
        "report.md",
        context! { v => Value::from(minijinja::value::Serde(&v)) },
        out,
    )
}
