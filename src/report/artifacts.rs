//! The report files of a run directory: which formats exist, rendering any
//! of them from the model, and the reporter that writes them when a run
//! finishes. `report.json` is always written; the others on request.

use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::Path;

use super::view::ArtifactRef;
use super::{Report, Reporter, html, json, junit, markdown};
use crate::report::Event;

/// A report format.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, clap::ValueEnum)]
pub enum Format {
    Json,
    Junit,
    Markdown,
    Html,
}

impl Format {
    /// File name inside the run directory.
    pub fn file(self) -> &'static str {
        match self {
            Format::Json => json::FILE,
            Format::Junit => junit::FILE,
            Format::Markdown => markdown::FILE,
            Format::Html => html::FILE,
        }
    }
}

/// Manifest files never listed as artifacts of their own.
pub const MANIFEST_FILES: [&str; 2] = ["manifest.json", "manifest.sig"];

/// Files of a run directory (sorted, relative, `/`-separated), skipping
/// temporary files.
pub fn list_files(run_dir: &Path) -> io::Result<Vec<String>> {
    let mut out = Vec::new();
    walk(run_dir, run_dir, &mut out)?;
    out.sort();
    Ok(out)
}

fn walk(root: &Path, dir: &Path, out: &mut Vec<String>) -> io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let path = entry.path();
        let ft = entry.file_type()?;
        if ft.is_dir() {
            walk(root, &path, out)?;
        } else if ft.is_file() {
            let rel = path
                .strip_prefix(root)
                .map_err(io::Error::other)?
                .components()
                .map(|c| c.as_os_str().to_string_lossy().into_owned())
                .collect::<Vec<_>>()
                .join("/");
            if !Path::new(&rel)
                .extension()
                .is_some_and(|e| e.eq_ignore_ascii_case("tmp"))
            {
                out.push(rel);
            }
        }
    }
    Ok(())
}

/// What the HTML and Markdown reports list as evidence: the files already
/// in the run directory, plus the report files about to be written and the
/// manifest that will follow.
pub fn evidence_list(run_dir: &Path, formats: &[Format]) -> Vec<ArtifactRef> {
    let mut names: Vec<String> = list_files(run_dir).unwrap_or_default();
    for f in formats {
        names.push(f.file().to_string());
    }
    names.push(MANIFEST_FILES[0].to_string());
    names.sort();
    names.dedup();
    names
        .into_iter()
        .map(|name| {
            let size = if formats.iter().any(|f| f.file() == name) || name == MANIFEST_FILES[0] {
                None
            } else {
                std::fs::metadata(run_dir.join(&name)).ok().map(|m| m.len())
            };
            ArtifactRef { name, size }
        })
        .collect()
}

/// Render one format.
pub fn render<W: Write>(
    format: Format,
    report: &Report,
    artifacts: &[ArtifactRef],
    out: W,
) -> io::Result<()> {
    match format {
        Format::Json => json::write(report, out),
        Format::Junit => junit::write(report, out),
        Format::Markdown => markdown::write(report, artifacts, out),
        Format::Html => html::write(report, artifacts, out),
    }
}

/// Write each format into the run directory (via a temporary file and a
/// rename, so a reader never sees half a report).
pub fn write_formats(run_dir: &Path, report: &Report, formats: &[Format]) -> io::Result<()> {
    let artifacts = evidence_list(run_dir, formats);
    for &format in formats {
        let path = run_dir.join(format.file());
        let tmp = run_dir.join(format!("{}.tmp", format.file()));
        let mut w = BufWriter::new(File::create(&tmp)?);
        render(format, report, &artifacts, &mut w)?;
        w.into_inner()
            .map_err(io::IntoInnerError::into_error)?
            .sync_all()?;
        std::fs::rename(tmp, path)?;
    }
    Ok(())
}

/// Writes the requested formats (besides `report.json`) when a run finishes.
#[derive(Debug)]
pub struct FileReporter {
    formats: Vec<Format>,
}

impl FileReporter {
    pub fn new(formats: Vec<Format>) -> Self {
        Self { formats }
    }
}

impl Reporter for FileReporter {
    fn event(&mut self, event: &Event) -> io::Result<()> {
        if let Event::RunFinished { report, run_dir } = event {
            write_formats(run_dir, report, &self.formats)?;
        }
        Ok(())
    }
}
