//! CPU time read from `/proc` (Linux): the whole machine's busy time from `/proc/stat`, which is
//! what SPEC §17 compares with the cores available, and within it this process's and the
//! PostgreSQL server's shares. A rate below `cores / CPU per item` means the pipeline waits
//! instead of working; the machine's busy cores say how much.

use std::time::{Duration, Instant};

/// Linux reports CPU times in clock ticks of 1/100 s (`USER_HZ`) on every mainstream
/// architecture.
const TICKS_PER_SECOND: u64 = 100;

/// CPU consumed so far: by the whole machine, by this process and by every `postgres` process.
#[derive(Clone, Copy, Debug)]
pub(super) struct CpuSnapshot {
    at: Instant,
    machine: Duration,
    own: Duration,
    postgres: Duration,
}

/// The CPU used between two snapshots, and the wall-clock time between them.
#[derive(Clone, Copy, Debug)]
pub(super) struct CpuUsage {
    /// Busy time of every core of the machine (everything but idle and I/O wait).
    pub(super) machine: Duration,
    /// This process.
    pub(super) own: Duration,
    /// Every `postgres` process.
    pub(super) postgres: Duration,
    /// Wall-clock time.
    pub(super) wall: Duration,
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
            at: Instant::now(),
            machine: machine_busy().unwrap_or_default(),
            own: read_stat("/proc/self/stat").map_or(Duration::ZERO, |(_, cpu)| cpu),
            postgres,
        }
    }

    /// The CPU used since `earlier`.
    pub(super) fn since(&self, earlier: &CpuSnapshot) -> CpuUsage {
        CpuUsage {
            machine: self.machine.saturating_sub(earlier.machine),
            own: self.own.saturating_sub(earlier.own),
            postgres: self.postgres.saturating_sub(earlier.postgres),
            wall: self.at.saturating_duration_since(earlier.at),
        }
    }
}

impl CpuUsage {
    /// How many cores were busy on average.
    pub(super) fn cores_busy(&self) -> f64 {
        self.machine.as_secs_f64() / self.wall.as_secs_f64().max(1e-9)
    }

    /// The whole machine's CPU per item, in µs.
    pub(super) fn machine_micros_per(&self, items: u64) -> f64 {
        self.machine.as_secs_f64() * 1e6 / items.max(1) as f64
    }

    /// `"machine 61 µs per trip (greenos 35 + postgres 22), 1.9 of 2 cores busy"`.
    pub(super) fn per_item(&self, items: usize, unit: &str, with_postgres: bool) -> String {
        let micros = |d: Duration| d.as_secs_f64() * 1e6 / items.max(1) as f64;
        let shares = if with_postgres {
            format!(
                "greenos {:.0} + postgres {:.0}",
                micros(self.own),
                micros(self.postgres)
            )
        } else {
            format!("greenos {:.0}", micros(self.own))
        };
        format!(
            "machine {:.0} µs per {unit} ({shares}), {:.1} of {} cores busy",
            micros(self.machine),
            self.cores_busy(),
            super::cpus()
        )
    }
}

/// The machine's busy time: the first line of `/proc/stat` without `idle` and `iowait`.
fn machine_busy() -> Option<Duration> {
    let text = std::fs::read_to_string("/proc/stat").ok()?;
    let line = text.lines().next()?.strip_prefix("cpu ")?;
    let ticks: Vec<u64> = line
        .split_whitespace()
        .map(|field| field.parse::<u64>().unwrap_or(0))
        .collect();
    // user nice system idle iowait irq softirq steal (guest time is already in user).
    let busy: u64 = ticks
        .iter()
        .take(8)
        .enumerate()
        .filter(|(i, _)| *i != 3 && *i != 4)
        .map(|(_, t)| t)
        .sum();
    Some(Duration::from_millis(busy * 1000 / TICKS_PER_SECOND))
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
