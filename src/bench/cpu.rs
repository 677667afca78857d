//! CPU time of this process and of the PostgreSQL server, read from `/proc` (Linux): with it the
//! benchmark reports what a trip costs in CPU, which does not depend on what else the machine
//! is running, beside the wall-clock rates, which do.

use std::time::Duration;

/// Linux reports `utime`/`stime` in clock ticks of 1/100 s (`USER_HZ`) on every mainstream
/// architecture.
const TICKS_PER_SECOND: u64 = 100;

/// CPU consumed so far by this process and by every `postgres` process.
#[derive(Clone, Copy, Debug, Default)]
pub(super) struct CpuSnapshot {
    own: Duration,
    postgres: Duration,
}

impl CpuSnapshot {
    /// Reads the counters now; zero where `/proc` is unavailable.
    pub(super) fn take() -> CpuSnapshot {
        let mut postgres = Duration::ZERO;
        if let Ok(entries) = std::fs::read_dir("/proc") {
            for entry in entries.flatten() {
                let name = entry.file_name();
                let Some(name) = name.to_str() else { continue };
                if !name.bytes().all(|b| b.is_ascii_digit()) {
                    continue;
                }
                if let Some(("postgres", cpu)) = read_stat(&format!("/proc/{name}/stat")) {
                    postgres += cpu;
                }
            }
        }
        CpuSnapshot {
            own: read_stat("/proc/self/stat").map_or(Duration::ZERO, |(_, cpu)| cpu),
            postgres,
        }
    }

    /// CPU used since `earlier`: (this process, the PostgreSQL server).
    pub(super) fn since(&self, earlier: &CpuSnapshot) -> (Duration, Duration) {
        (
            self.own.saturating_sub(earlier.own),
            self.postgres.saturating_sub(earlier.postgres),
        )
    }
}

/// `(comm, utime + stime)` of one `/proc/PID/stat` file.
fn read_stat(path: &str) -> Option<(&'static str, Duration)> {
    let text = std::fs::read_to_string(path).ok()?;
    let open = text.find('(')?;
    let close = text.rfind(')')?;
    let comm = &text[open + 1..close];
    let fields: Vec<&str> = text[close + 1..].split_whitespace().collect();
    // After "pid (comm)", field 3 (state) is at index 0: utime and stime are fields 14 and 15.
    let ticks = fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?;
    let kind = if comm == "postgres" {
        "postgres"
    } else {
        "other"
    };
    Some((kind, Duration::from_millis(ticks * 1000 / TICKS_PER_SECOND)))
}

/// `"client 71 µs + postgres 52 µs CPU per trip"`.
pub(super) fn per_trip(
    own: Duration,
    postgres: Duration,
    trips: usize,
    with_postgres: bool,
) -> String {
    let micros = |d: Duration| d.as_secs_f64() * 1e6 / trips.max(1) as f64;
    if with_postgres {
        format!(
            "CPU per trip: greenos {:.0} µs + postgres {:.0} µs",
            micros(own),
            micros(postgres)
        )
    } else {
        format!("CPU per trip: greenos {:.0} µs", micros(own))
    }
}
