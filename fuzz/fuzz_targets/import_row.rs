//! Any cells in an Apollo-shaped row: parsing and normalising must never
//! panic.
#![no_main]

use handoff_domain::import::{ImportFormat, map_columns, parse_row};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let cells: Vec<&str> = text.split('\u{1f}').collect();
    let headers: Vec<String> = ["Email", "First Name", "Title", "Website", "# Employees", "Annual Revenue", "Technologies", "Industry"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    if let Ok(map) = map_columns(ImportFormat::Apollo, &headers, &[]) {
        if let Ok(row) = parse_row(&map, &cells) {
            if let Some(title) = row.contact.title.as_deref() {
                let _ = handoff_domain::titles::normalize_title(title);
            }
        }
    }
});
