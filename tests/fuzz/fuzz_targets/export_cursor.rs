//! The export list's cursor decoder: any text is refused or decoded, never a panic.

#![no_main]

use greenos_core::mrv::ExportCursor;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = ExportCursor::decode(&String::from_utf8_lossy(data));
});
