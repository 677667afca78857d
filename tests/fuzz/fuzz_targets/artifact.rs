//! The artifact re-canonicaliser behind `POST /api/v2/esg/mrv/verify` and `greenos verify`: any
//! bytes are read without a panic, and an artifact it accepts yields a payload hash.

#![no_main]

use greenos_core::mrv::read_artifact_bytes;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(reading) = read_artifact_bytes(data) {
        assert_eq!(reading.recomputed_hash.as_str().len(), 64);
    }
});
