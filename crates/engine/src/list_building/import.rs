//! `handoff import`: stream a CSV into the store.
//!
//! The file is read once to hash it (an identical file imported before is
//! recognised and not applied again), then streamed record by record: the
//! header picks the vendor format and column map, each row is parsed and
//! normalised (domain::import, domain::titles), good rows go to the store in
//! batches (one transaction each), bad rows go to a rejects CSV with their
//! row number, column and reason. Memory stays flat whatever the file size.

use std::fs::File;
use std::io::{BufReader, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::Serialize;
use sha2::{Digest, Sha256};

use handoff_domain::Event;
use handoff_domain::import::{self, ImportFormat, MappingError};
use handoff_domain::titles::normalize_title;
use handoff_domain::users::Username;
use handoff_store::import_plan::{
    Assess, BatchOutcome, ImportRow, ImportSource, PreparedScore, row_prospect,
};
use handoff_store::{
    CommandContext, Contact, ImportCounts, ImportRecord, LedgerEntry, LedgerFilter, NewImport,
    Store, StoreError,
};

#[derive(Debug, Clone)]
pub struct ImportOptions {
    /// None: detect from the header row.
    pub format: Option<ImportFormat>,
    /// `field=Column` overrides.
    pub map: Vec<String>,
    pub owner: Option<Username>,
    /// Where rejected rows go (default: FILE.rejects.csv beside the input).
    pub rejects: Option<PathBuf>,
    pub batch_size: usize,
    /// Apply a file even if the same bytes were imported before.
    pub force: bool,
    /// Verify (offline) and score each contact as it is written.
    pub assess: Option<Arc<dyn Assess>>,
}

impl Default for ImportOptions {
    fn default() -> Self {
        Self {
            format: None,
            map: Vec::new(),
            owner: None,
            rejects: None,
            batch_size: 10_000,
            force: false,
            assess: None,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Encoding {
    Utf8,
    /// Windows-1252, a superset of Latin-1: what Excel writes on Windows.
    Windows1252,
}

#[derive(Debug, Clone, Serialize)]
pub struct ImportReport {
    pub file: String,
    pub import_id: Option<String>,
    pub format: ImportFormat,
    pub encoding: Encoding,
    pub delimiter: char,
    /// Data rows read (the header excluded).
    pub rows: u64,
    pub imported: u64,
    pub merged: u64,
    pub unchanged: u64,
    pub rejected: u64,
    pub job_changes: u64,
    pub accounts_created: u64,
    /// Cells left out of otherwise good rows.
    pub warnings: u64,
    pub rejects_file: Option<String>,
    /// Set when the same bytes were imported before and nothing was done.
    pub already_imported: Option<ImportRecord>,
}

#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("cannot write the rejects file {path}: {source}")]
    WriteRejects {
        path: String,
        source: std::io::Error,
    },
    #[error("{path} {problem}")]
    Encoding { path: String, problem: String },
    #[error("{path} is empty: there is no header row")]
    Empty { path: String },
    #[error("{path}: {source}")]
    Mapping { path: String, source: MappingError },
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// What the first bytes say about the file.
#[derive(Debug)]
struct Sniffed {
    encoding: Encoding,
    bom_len: u64,
    delimiter: u8,
}

fn sniff(path: &Path, sample: &[u8]) -> Result<Sniffed, ImportError> {
    let encoding_error = |problem: &str| ImportError::Encoding {
        path: path.display().to_string(),
        problem: problem.to_string(),
    };
    if sample.starts_with(&[0xFF, 0xFE]) || sample.starts_with(&[0xFE, 0xFF]) {
        return Err(encoding_error(
            "is UTF-16 text: save it as \"CSV UTF-8\" (in Excel: File › Save As › CSV UTF-8) and import that",
        ));
    }
    let (bom_len, body) = match sample.strip_prefix(&[0xEF, 0xBB, 0xBF]) {
        Some(rest) => (3, rest),
        None => (0, sample),
    };
    if body.contains(&0) {
        return Err(encoding_error(
            "contains NUL bytes, so it is not a text CSV (a spreadsheet file such as .xlsx?): export it as CSV first",
        ));
    }
    let encoding = match std::str::from_utf8(body) {
        Ok(_) => Encoding::Utf8,
        // Cut in the middle of a character at the end of the sample: fine.
        Err(e) if e.error_len().is_none() => Encoding::Utf8,
        Err(_) => Encoding::Windows1252,
    };
    Ok(Sniffed {
        encoding,
        bom_len,
        delimiter: sniff_delimiter(body),
    })
}

/// The delimiter is whichever of `,` `;` tab occurs most in the header line
/// outside quotes (Excel in many European locales writes `;`).
fn sniff_delimiter(body: &[u8]) -> u8 {
    let mut counts = [(b',', 0usize), (b';', 0), (b'\t', 0)];
    let mut quoted = false;
    for &b in body {
        match b {
            b'"' => quoted = !quoted,
            b'\n' | b'\r' if !quoted => break,
            _ if !quoted => {
                for (d, n) in counts.iter_mut() {
                    if *d == b {
                        *n += 1;
                    }
                }
            }
            _ => {}
        }
    }
    counts
        .iter()
        .max_by_key(|(_, n)| *n)
        .filter(|(_, n)| *n > 0)
        .map(|(d, _)| *d)
        .unwrap_or(b',')
}

fn decode(bytes: &[u8], encoding: Encoding) -> Result<String, ()> {
    match encoding {
        Encoding::Utf8 => std::str::from_utf8(bytes)
            .map(str::to_string)
            .map_err(|_| ()),
        Encoding::Windows1252 => Ok(encoding_rs::WINDOWS_1252
            .decode_without_bom_handling(bytes)
            .0
            .into_owned()),
    }
}

fn sha256_of(file: &mut File) -> std::io::Result<String> {
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 256 * 1024];
    loop {
        let n = file.read(&mut buf)?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
    }
    Ok(hasher
        .finalize()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect())
}

/// A cell that a spreadsheet would run as a formula is prefixed with `'`.
fn safe_cell(value: &str) -> String {
    match value.chars().next() {
        Some('=' | '+' | '-' | '@' | '\t' | '\r') => format!("'{value}"),
        _ => value.to_string(),
    }
}

struct Rejects {
    path: PathBuf,
    writer: Option<csv::Writer<File>>,
    headers: Vec<String>,
    count: u64,
}

impl Rejects {
    fn add(
        &mut self,
        row: u64,
        column: &str,
        reason: &str,
        cells: &[String],
    ) -> Result<(), ImportError> {
        let write_err = |path: &Path, e: std::io::Error| ImportError::WriteRejects {
            path: path.display().to_string(),
            source: e,
        };
        if self.writer.is_none() {
            let file = File::create(&self.path).map_err(|e| write_err(&self.path, e))?;
            // Rejected rows are often the ragged ones: do not insist on the
            // header's column count.
            let mut writer = csv::WriterBuilder::new().flexible(true).from_writer(file);
            let mut header = vec![
                "row".to_string(),
                "column".to_string(),
                "reason".to_string(),
            ];
            header.extend(self.headers.iter().map(|h| safe_cell(h)));
            writer
                .write_record(&header)
                .map_err(|e| write_err(&self.path, e.into()))?;
            self.writer = Some(writer);
        }
        if let Some(writer) = self.writer.as_mut() {
            let mut record = vec![row.to_string(), safe_cell(column), reason.to_string()];
            record.extend(cells.iter().map(|c| safe_cell(c)));
            writer
                .write_record(&record)
                .map_err(|e| write_err(&self.path, e.into()))?;
        }
        self.count += 1;
        Ok(())
    }

    fn finish(self) -> Result<Option<String>, ImportError> {
        match self.writer {
            Some(mut writer) => {
                writer.flush().map_err(|e| ImportError::WriteRejects {
                    path: self.path.display().to_string(),
                    source: e,
                })?;
                Ok(Some(self.path.display().to_string()))
            }
            None => Ok(None),
        }
    }
}

/// One data row of the file, parsed or rejected.
#[derive(Debug)]
pub enum RowItem {
    Good {
        row: Box<ImportRow>,
        warnings: usize,
    },
    Rejected {
        row: u64,
        column: String,
        reason: String,
        cells: Vec<String>,
    },
}

/// Streams a CSV's rows through decoding, mapping and parsing. Works on any
/// reader, so the same code serves files, fuzzing and dry runs.
pub struct RowStream<R: Read> {
    reader: csv::Reader<R>,
    record: csv::ByteRecord,
    encoding: Encoding,
    delimiter: u8,
    headers: Vec<String>,
    format: ImportFormat,
    map: import::ColumnMap,
    rows: u64,
    /// The input itself failed: nothing more can be read.
    stopped: bool,
}

impl<R: Read> std::fmt::Debug for RowStream<R> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RowStream")
            .field("format", &self.format)
            .field("encoding", &self.encoding)
            .field("rows", &self.rows)
            .finish()
    }
}

impl<R: Read> RowStream<R> {
    /// `sample` holds the first bytes of the input (up to 64 KiB) for
    /// sniffing; `input` reads the whole input from its first byte. `name`
    /// is used in error messages.
    pub fn open(
        name: &str,
        sample: &[u8],
        mut input: R,
        format: Option<ImportFormat>,
        map: &[String],
    ) -> Result<Self, ImportError> {
        if sample.iter().all(|b| b.is_ascii_whitespace()) {
            return Err(ImportError::Empty {
                path: name.to_string(),
            });
        }
        let sniffed = sniff(Path::new(name), sample)?;
        let mut bom = [0u8; 3];
        if sniffed.bom_len > 0 {
            input
                .read_exact(&mut bom[..sniffed.bom_len as usize])
                .map_err(|e| ImportError::Read {
                    path: name.to_string(),
                    source: e,
                })?;
        }
        let mut reader = csv::ReaderBuilder::new()
            .delimiter(sniffed.delimiter)
            .has_headers(false)
            .flexible(true)
            .from_reader(input);
        let mut record = csv::ByteRecord::new();
        let has_header = reader
            .read_byte_record(&mut record)
            .map_err(|e| ImportError::Read {
                path: name.to_string(),
                source: std::io::Error::other(e.to_string()),
            })?;
        if !has_header {
            return Err(ImportError::Empty {
                path: name.to_string(),
            });
        }
        let headers: Vec<String> = record
            .iter()
            .map(|h| {
                decode(h, sniffed.encoding)
                    .unwrap_or_else(|()| String::from_utf8_lossy(h).into_owned())
            })
            .collect();
        let format = format
            .or_else(|| import::detect_format(&headers))
            .unwrap_or(ImportFormat::Generic);
        let map =
            import::map_columns(format, &headers, map).map_err(|source| ImportError::Mapping {
                path: name.to_string(),
                source,
            })?;
        Ok(Self {
            reader,
            record,
            encoding: sniffed.encoding,
            delimiter: sniffed.delimiter,
            headers,
            format,
            map,
            rows: 0,
            stopped: false,
        })
    }

    pub fn format(&self) -> ImportFormat {
        self.format
    }

    pub fn encoding(&self) -> Encoding {
        self.encoding
    }

    pub fn delimiter(&self) -> char {
        self.delimiter as char
    }

    pub fn headers(&self) -> &[String] {
        &self.headers
    }

    /// Data rows read so far.
    pub fn rows(&self) -> u64 {
        self.rows
    }

    pub fn byte_position(&self) -> u64 {
        self.reader.position().byte()
    }

    /// The next data row, or None at the end of the input.
    pub fn next_item(&mut self) -> Option<RowItem> {
        loop {
            if self.stopped {
                return None;
            }
            let more = match self.reader.read_byte_record(&mut self.record) {
                Ok(more) => more,
                Err(e) => {
                    // A malformed record (e.g. a broken quote) is rejected and
                    // reading goes on; a failing input ends the stream.
                    self.rows += 1;
                    self.stopped = matches!(e.kind(), csv::ErrorKind::Io(_));
                    let row = e.position().map(|p| p.line()).unwrap_or(self.rows + 1);
                    return Some(RowItem::Rejected {
                        row,
                        column: String::new(),
                        reason: format!("unreadable CSV: {e}"),
                        cells: Vec::new(),
                    });
                }
            };
            if !more {
                return None;
            }
            if self
                .record
                .iter()
                .all(|f| f.iter().all(u8::is_ascii_whitespace))
            {
                continue; // blank line
            }
            self.rows += 1;
            let row = self
                .record
                .position()
                .map(|p| p.line())
                .unwrap_or(self.rows + 1);
            let mut cells = Vec::with_capacity(self.record.len());
            let mut undecodable = false;
            for field in self.record.iter() {
                match decode(field, self.encoding) {
                    Ok(text) => cells.push(text),
                    Err(()) => {
                        undecodable = true;
                        cells.push(String::from_utf8_lossy(field).into_owned());
                    }
                }
            }
            if undecodable {
                return Some(RowItem::Rejected {
                    row,
                    column: String::new(),
                    reason: "the row is not valid UTF-8 while the rest of the file is: re-save the file as CSV UTF-8"
                        .into(),
                    cells,
                });
            }
            let refs: Vec<&str> = cells.iter().map(String::as_str).collect();
            return Some(match import::parse_row(&self.map, &refs) {
                Ok(parsed) => {
                    let titles = parsed.contact.title.as_deref().map(normalize_title);
                    RowItem::Good {
                        warnings: parsed.warnings.len(),
                        row: Box::new(ImportRow {
                            row,
                            contact: parsed.contact,
                            account: parsed.account,
                            seniority: titles.map(|t| t.seniority.as_str().to_string()),
                            department: titles.map(|t| t.department.as_str().to_string()),
                            verdict: None,
                            new_id: handoff_domain::ContactId::new(),
                            assessed: None,
                        }),
                    }
                }
                Err(rejection) => RowItem::Rejected {
                    row,
                    column: rejection.column,
                    reason: rejection.reason,
                    cells,
                },
            });
        }
    }
}

/// What a file would import, without touching the store.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct DryRun {
    pub rows: u64,
    pub good: u64,
    pub rejected: u64,
    pub warnings: u64,
}

/// Parses `bytes` as an import would, store untouched. Used by fuzzing and
/// by tests; never panics.
pub fn dry_run(
    bytes: &[u8],
    format: Option<ImportFormat>,
    map: &[String],
) -> Result<DryRun, ImportError> {
    let sample = &bytes[..bytes.len().min(64 * 1024)];
    let mut stream = RowStream::open("input", sample, bytes, format, map)?;
    let mut out = DryRun::default();
    while let Some(item) = stream.next_item() {
        match item {
            RowItem::Good { warnings, .. } => {
                out.good += 1;
                out.warnings += warnings as u64;
            }
            RowItem::Rejected { .. } => out.rejected += 1,
        }
    }
    out.rows = stream.rows();
    Ok(out)
}

/// Rows parsed on the reader thread, on their way to the store.
struct ParsedBatch {
    rows: Vec<ImportRow>,
    bytes_read: u64,
    rows_read: u64,
}

/// What the reader thread hands back when the file is done.
struct ReadOutcome {
    rows: u64,
    warnings: u64,
    rejects: Rejects,
}

/// Progress: bytes read so far and data rows seen.
pub type Progress<'a> = &'a (dyn Fn(u64, u64) + Sync);

pub async fn import_file(
    store: &dyn Store,
    ctx: &CommandContext,
    path: &Path,
    options: &ImportOptions,
    progress: Progress<'_>,
) -> Result<ImportReport, ImportError> {
    let name = path.display().to_string();
    let read_err = |e: std::io::Error| ImportError::Read {
        path: name.clone(),
        source: e,
    };
    let mut file = File::open(path).map_err(read_err)?;
    let content_sha256 = sha256_of(&mut file).map_err(read_err)?;
    file.seek(SeekFrom::Start(0)).map_err(read_err)?;
    let mut sample = vec![0u8; 64 * 1024];
    let n = read_up_to(&mut file, &mut sample).map_err(read_err)?;
    sample.truncate(n);
    file.seek(SeekFrom::Start(0)).map_err(read_err)?;
    let mut stream = RowStream::open(
        &name,
        &sample,
        BufReader::with_capacity(256 * 1024, file),
        options.format,
        &options.map,
    )?;

    let mut report = ImportReport {
        file: name.clone(),
        import_id: None,
        format: stream.format(),
        encoding: stream.encoding(),
        delimiter: stream.delimiter(),
        rows: 0,
        imported: 0,
        merged: 0,
        unchanged: 0,
        rejected: 0,
        job_changes: 0,
        accounts_created: 0,
        warnings: 0,
        rejects_file: None,
        already_imported: None,
    };
    let previous = match options.force {
        true => None,
        false => store.find_import_by_content(&content_sha256).await?,
    };
    if let Some(previous) = previous {
        report.already_imported = Some(previous);
        return Ok(report);
    }

    let file_name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| name.clone());
    let started = store
        .start_import(
            ctx,
            &NewImport {
                file_name: file_name.clone(),
                format: stream.format().to_string(),
                content_sha256: Some(content_sha256),
            },
        )
        .await?;
    report.import_id = Some(started.id.to_string());
    let source = ImportSource {
        import_id: started.id,
        file_name,
        owner: options.owner.clone(),
        assess: options.assess.clone(),
    };
    let assess = options.assess.clone();
    let owner = options.owner.clone();
    let mut rejects = Rejects {
        path: options
            .rejects
            .clone()
            .unwrap_or_else(|| default_rejects_path(path)),
        writer: None,
        headers: stream.headers().to_vec(),
        count: 0,
    };

    // The file is read and parsed on its own thread while the store writes
    // the previous batch: parsing and writing each take a core.
    let batch_size = options.batch_size.max(1);
    let (batches, mut incoming) = tokio::sync::mpsc::channel::<ParsedBatch>(2);
    let reader = std::thread::spawn(move || -> Result<ReadOutcome, ImportError> {
        let mut batch: Vec<ImportRow> = Vec::with_capacity(batch_size);
        let mut warnings = 0u64;
        while let Some(item) = stream.next_item() {
            match item {
                RowItem::Good {
                    mut row,
                    warnings: w,
                } => {
                    warnings += w as u64;
                    // Verified and scored here, beside parsing, so the
                    // writer mostly writes (the plan checks the score's
                    // assumptions against the database).
                    if let (Some(assess), Some(email)) = (&assess, &row.contact.email) {
                        row.verdict = assess.verify(email.as_str());
                        row.assessed = row_prospect(&row, owner.as_ref())
                            .map(|p| PreparedScore::from(assess.score(&p)));
                    }
                    batch.push(*row);
                }
                RowItem::Rejected {
                    row,
                    column,
                    reason,
                    cells,
                } => rejects.add(row, &column, &reason, &cells)?,
            }
            if batch.len() >= batch_size {
                let full = std::mem::replace(&mut batch, Vec::with_capacity(batch_size));
                let parsed = ParsedBatch {
                    rows: full,
                    bytes_read: stream.byte_position(),
                    rows_read: stream.rows(),
                };
                if batches.blocking_send(parsed).is_err() {
                    // The store failed and stopped listening: nothing more to do.
                    break;
                }
            }
        }
        if !batch.is_empty() {
            let parsed = ParsedBatch {
                rows: batch,
                bytes_read: stream.byte_position(),
                rows_read: stream.rows(),
            };
            let _ = batches.blocking_send(parsed);
        }
        Ok(ReadOutcome {
            rows: stream.rows(),
            warnings,
            rejects,
        })
    });

    let mut totals = BatchOutcome::default();
    let mut stored = Ok(());
    while let Some(batch) = incoming.recv().await {
        match store.import_batch(ctx, &source, &batch.rows).await {
            Ok(outcome) => add(&mut totals, outcome),
            Err(e) => {
                stored = Err(e);
                break;
            }
        }
        progress(batch.bytes_read, batch.rows_read);
    }
    drop(incoming);
    let read = reader.join().map_err(|_| ImportError::Read {
        path: name.clone(),
        source: std::io::Error::other("the CSV reader stopped unexpectedly"),
    })?;
    stored?;
    let ReadOutcome {
        rows,
        warnings,
        rejects,
    } = read?;
    report.warnings = warnings;

    report.rows = rows;
    report.imported = totals.imported;
    report.merged = totals.merged;
    report.unchanged = totals.unchanged;
    report.job_changes = totals.job_changes;
    report.accounts_created = totals.accounts_created;
    report.rejected = rejects.count;
    report.rejects_file = rejects.finish()?;
    store
        .finish_import(
            ctx,
            started.id,
            &ImportCounts {
                rows_total: report.rows,
                imported: report.imported,
                merged: report.merged,
                rejected: report.rejected,
            },
        )
        .await?;
    Ok(report)
}

/// A contact's history: its own ledger entries and, for a contact an
/// import created, the entry of the batch that created it (found through
/// the import and row its address came from).
pub async fn contact_history(
    store: &dyn Store,
    contact: &Contact,
    limit: u32,
) -> Result<Vec<LedgerEntry>, StoreError> {
    let mut history = store
        .tail(&LedgerFilter {
            contact_id: Some(contact.id),
            limit,
            ..LedgerFilter::default()
        })
        .await?;
    let Some(source) = contact.field_sources.of("email") else {
        return Ok(history);
    };
    let batches = store
        .tail(&LedgerFilter {
            kind: Some("contacts_imported".into()),
            limit: 10_000,
            ..LedgerFilter::default()
        })
        .await?;
    let created = batches.into_iter().find(|entry| {
        matches!(&entry.event, Event::ContactsImported { import_id, first_row, last_row, .. }
            if import_id.to_string() == source.import && (*first_row..=*last_row).contains(&source.row))
    });
    if let Some(created) = created {
        history.push(created);
        history.sort_by_key(|e| e.id.get());
        let excess = history.len().saturating_sub(limit as usize);
        history.drain(..excess);
    }
    Ok(history)
}

fn add(total: &mut BatchOutcome, batch: BatchOutcome) {
    total.imported += batch.imported;
    total.merged += batch.merged;
    total.unchanged += batch.unchanged;
    total.job_changes += batch.job_changes;
    total.accounts_created += batch.accounts_created;
}

fn read_up_to(file: &mut File, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut filled = 0;
    while filled < buf.len() {
        let n = file.read(&mut buf[filled..])?;
        if n == 0 {
            break;
        }
        filled += n;
    }
    Ok(filled)
}

fn default_rejects_path(input: &Path) -> PathBuf {
    let stem = input
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| "import".into());
    input.with_file_name(format!("{stem}.rejects.csv"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delimiters_are_sniffed_from_the_header() {
        assert_eq!(sniff_delimiter(b"a,b,c\n1;2;3"), b',');
        assert_eq!(sniff_delimiter(b"a;b;c\n"), b';');
        assert_eq!(sniff_delimiter(b"a\tb\tc\n"), b'\t');
        assert_eq!(sniff_delimiter(b"\"a,b\";c;d\n"), b';');
        assert_eq!(sniff_delimiter(b"email\n"), b',');
    }

    #[test]
    fn encodings_are_sniffed() {
        let p = Path::new("x.csv");
        assert_eq!(
            sniff(p, b"email\nx@y.z").map(|s| s.encoding).ok(),
            Some(Encoding::Utf8)
        );
        assert_eq!(
            sniff(p, b"\xEF\xBB\xBFemail").map(|s| s.bom_len).ok(),
            Some(3)
        );
        assert_eq!(
            sniff(p, b"name\nRen\xE9e").map(|s| s.encoding).ok(),
            Some(Encoding::Windows1252)
        );
        assert!(
            sniff(p, b"\xFF\xFEe\x00m\x00")
                .unwrap_err()
                .to_string()
                .contains("UTF-16")
        );
        assert!(
            sniff(p, b"PK\x03\x04\x00\x00")
                .unwrap_err()
                .to_string()
                .contains("NUL bytes")
        );
    }

    #[test]
    fn rejects_never_carry_formulas() {
        assert_eq!(safe_cell("=1+1"), "'=1+1");
        assert_eq!(safe_cell("-2"), "'-2");
        assert_eq!(safe_cell("Ada"), "Ada");
    }
}
