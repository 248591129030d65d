//! `report.json`: the complete report model, and the source every other
//! format can be re-rendered from.

use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::Path;

use super::{Report, Reporter};
use crate::report::Event;

/// File name inside the run directory.
pub const FILE: &str = "report.json";

/// Write a report as pretty JSON.
pub fn write<W: Write>(report: &Report, mut out: W) -> io::Result<()> {
    serde_json::to_writer_pretty(&mut out, report)?;
    out.write_all(b"\n")
}

/// Read `report.json` back.
pub fn read(path: &Path) -> io::Result<Report> {
    let file = File::open(path)?;
    serde_json::from_reader(io::BufReader::new(file)).map_err(|e| {
        io::Error::new(
            io::ErrorKind::InvalidData,
            format!("{}: {e}", path.display()),
        )
    })
}

/// Writes `report.json` into the run directory when the run finishes.
#[derive(Debug, Default)]
pub struct JsonReporter;

impl Reporter for JsonReporter {
    fn event(&mut self, event: &Event) -> io::Result<()> {
        if let Event::RunFinished { report, run_dir } = event {
            let path = run_dir.join(FILE);
            let tmp = run_dir.join(format!("{FILE}.tmp"));
            let mut w = BufWriter::new(File::create(&tmp)?);
            write(report, &mut w)?;
            w.into_inner()
                .map_err(io::IntoInnerError::into_error)?
                .sync_all()?;
            std::fs::rename(tmp, path)?;
        }
        Ok(())
    }
}
