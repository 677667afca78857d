//! MRV exports (SPEC §8–9, auditor guide §5): creating them, reading them, verifying them
//! (stored, posted and offline), and the `greenos export` / `greenos verify` commands.

mod fixtures;

mod auditor;
mod chunks;
mod commands;
mod evidence;
mod export_content;
mod export_reads;
mod export_refusals;
mod tampering;
