//! Any bytes as a CSV file: sniffing, decoding, mapping and parsing must
//! return rows or a clear error, never panic.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = handoff_engine::list_building::import::dry_run(data, None, &[]);
    let _ = handoff_engine::list_building::import::dry_run(data, None, &["email=Email".to_string()]);
});
