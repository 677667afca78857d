//! The worker role's settings: `GREENOS_EXPORT_*` (scheduled exports), `GREENOS_OUTBOX_*` and
//! `GREENOS_REDIS_STREAM_*` (the outbox relay), `GREENOS_TRIP_*` (the trip consumer),
//! `GREENOS_LOG_ORIGIN`, `GREENOS_LOG_INTEGRATE_MS` and `GREENOS_LOG_MAX_DELAY_MS` (the
//! transparency log's integrator).

use std::time::Duration;

use greenos_core::log::{LogSettings, Pacing};
use greenos_core::mrv::Period;
use greenos_core::outbox::RetryPolicy;
use greenos_core::proof::UtcMicros;
use greenos_jobs::consumer::ConsumerSettings;
use greenos_jobs::relay::RelaySettings;
use greenos_jobs::scheduler::ExportSchedule;

use super::{ConfigError, Vars};

pub(super) fn export_schedule(vars: &Vars) -> Result<ExportSchedule, ConfigError> {
    let listed = vars.string("GREENOS_EXPORT_SCHEDULE");
    let mut periods = Vec::new();
    if listed.trim() != "off" {
        for name in listed.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let (period, var) = match name {
                "3M" => (Period::ThreeMonths, "GREENOS_EXPORT_CRON_3M"),
                "6M" => (Period::SixMonths, "GREENOS_EXPORT_CRON_6M"),
                "12M" => (Period::TwelveMonths, "GREENOS_EXPORT_CRON_12M"),
                other => {
                    return Err(ConfigError {
                        var: "GREENOS_EXPORT_SCHEDULE",
                        expected: "a comma-separated list of 3M, 6M, 12M, or off".to_owned(),
                        got: Some(other.to_owned()),
                    });
                }
            };
            if !periods.iter().any(|(p, _, _)| *p == period) {
                periods.push((period, vars.string(var), var));
            }
        }
    }
    let catch_up_from = match vars.optional("GREENOS_EXPORT_CATCH_UP_FROM") {
        None => None,
        Some(text) => {
            let parsed = UtcMicros::parse_rfc3339(&text)
                .ok()
                .or_else(|| UtcMicros::parse_rfc3339(&format!("{text}T00:00:00Z")).ok());
            Some(parsed.ok_or_else(|| ConfigError {
                var: "GREENOS_EXPORT_CATCH_UP_FROM",
                expected: "an RFC 3339 instant or a date, e.g. 2026-01-01".to_owned(),
                got: Some(text),
            })?)
        }
    };
    Ok(ExportSchedule {
        periods,
        catch_up_from,
    })
}

pub(super) fn relay_settings(vars: &Vars) -> Result<RelaySettings, ConfigError> {
    let number = |var: &'static str, min: u64, max: u64| -> Result<u64, ConfigError> {
        let expected = format!("a whole number from {min} to {max}");
        let value: u64 = vars.parse(var, &expected)?;
        if (min..=max).contains(&value) {
            Ok(value)
        } else {
            Err(ConfigError {
                var,
                expected,
                got: Some(value.to_string()),
            })
        }
    };
    let retention_days = number("GREENOS_OUTBOX_RETENTION_DAYS", 0, 3650)?;
    let prefix = vars
        .optional("GREENOS_REDIS_STREAM_PREFIX")
        .unwrap_or_default();
    if prefix.chars().any(char::is_whitespace) {
        return Err(ConfigError {
            var: "GREENOS_REDIS_STREAM_PREFIX",
            expected: "a prefix without spaces, e.g. prod:".to_owned(),
            got: Some(prefix),
        });
    }
    Ok(RelaySettings {
        batch: number("GREENOS_OUTBOX_BATCH", 1, 10_000)?,
        poll: Duration::from_millis(number("GREENOS_OUTBOX_POLL_MS", 10, 60_000)?),
        retry: RetryPolicy {
            base_delay: Duration::from_millis(number(
                "GREENOS_OUTBOX_BASE_DELAY_MS",
                1,
                3_600_000,
            )?),
            max_delay: Duration::from_millis(number("GREENOS_OUTBOX_MAX_DELAY_MS", 1, 86_400_000)?),
            max_retries: i32::try_from(number("GREENOS_OUTBOX_MAX_RETRIES", 1, 1000)?)
                .unwrap_or(1000),
        },
        retention: (retention_days > 0).then(|| Duration::from_secs(retention_days * 86_400)),
        stream_prefix: prefix,
        stream_maxlen: usize::try_from(number("GREENOS_REDIS_STREAM_MAXLEN", 1000, 1_000_000_000)?)
            .unwrap_or(usize::MAX),
    })
}

pub(super) fn consumer_settings(vars: &Vars) -> Result<ConsumerSettings, ConfigError> {
    let relay = relay_settings(vars)?;
    let name_ok = |name: &str| {
        !name.is_empty()
            && name.len() <= 128
            && name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b':' | b'-'))
    };
    let group = vars.string("GREENOS_TRIP_CONSUMER_GROUP");
    if !name_ok(&group) {
        return Err(ConfigError {
            var: "GREENOS_TRIP_CONSUMER_GROUP",
            expected: "1 to 128 characters of A-Z a-z 0-9 . _ : -".to_owned(),
            got: Some(group),
        });
    }
    let consumer = match vars.optional("GREENOS_TRIP_CONSUMER_NAME") {
        Some(name) if name_ok(&name) => name,
        Some(name) => {
            return Err(ConfigError {
                var: "GREENOS_TRIP_CONSUMER_NAME",
                expected: "1 to 128 characters of A-Z a-z 0-9 . _ : -".to_owned(),
                got: Some(name),
            });
        }
        None => {
            let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
                .unwrap_or_else(|_| "greenos".to_owned());
            let host: String = host
                .trim()
                .chars()
                .filter(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-'))
                .take(100)
                .collect();
            format!("{host}-{}", std::process::id())
        }
    };
    let claim_idle_ms: u64 = vars.parse(
        "GREENOS_TRIP_CLAIM_IDLE_MS",
        "a whole number of milliseconds, e.g. 60000",
    )?;
    Ok(ConsumerSettings {
        group,
        consumer,
        claim_idle: Duration::from_millis(claim_idle_ms),
        stream_prefix: relay.stream_prefix,
        stream_maxlen: relay.stream_maxlen,
        backoff: relay.retry.base_delay,
    })
}

pub(super) fn log_settings(vars: &Vars) -> Result<LogSettings, ConfigError> {
    let every = milliseconds(vars, "GREENOS_LOG_INTEGRATE_MS", 10)?;
    let max_delay = milliseconds(vars, "GREENOS_LOG_MAX_DELAY_MS", 0)?;
    let origin = vars.string("GREENOS_LOG_ORIGIN");
    LogSettings::new(&origin, Pacing { every, max_delay }).map_err(|_| ConfigError {
        var: "GREENOS_LOG_ORIGIN",
        expected: "a log name without spaces or '+', e.g. greenos.example.org/log".to_owned(),
        got: Some(origin),
    })
}

/// A whole number of milliseconds from `least` to one hour.
fn milliseconds(vars: &Vars, var: &'static str, least: u64) -> Result<Duration, ConfigError> {
    let expected = format!("a whole number of milliseconds from {least} to 3600000");
    let ms: u64 = vars.parse(var, &expected)?;
    if !(least..=3_600_000).contains(&ms) {
        return Err(ConfigError {
            var,
            expected,
            got: Some(ms.to_string()),
        });
    }
    Ok(Duration::from_millis(ms))
}
