//! `report.html`: one self-contained page (inline CSS and SVG, no scripts,
//! no network) with verdict, objectives, timeline, findings, checks, canary
//! details, controls, provenance and the evidence list. Prints to PDF.

use std::io::{self, Write};

use minijinja::{Value, context};

use super::Report;
use super::timeline::{objectives_svg, timeline_svg};
use super::view::{self, ArtifactRef};

/// File name inside the run directory.
pub const FILE: &str = "report.html";

/// Render the page.
pub fn write<W: Write>(report: &Report, artifacts: &[ArtifactRef], out: W) -> io::Result<()> {
    let v = view::build(report, artifacts);
    view::render(
        "report.html",
        context! {
            v => Value::from(minijinja::value::Serde(&v)),
            timeline_svg => Value::from_safe_string(timeline_svg(report)),
            objectives_svg => Value::from_safe_string(objectives_svg(report)),
            app_svg => Value::from_safe_string(super::app_timeline::app_timeline_svg(report)),
        },
        out,
    )
}
