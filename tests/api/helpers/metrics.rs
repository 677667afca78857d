//! `/metrics` parsed as the Prometheus text exposition format (version 0.0.4), so that tests
//! assert on one series and its value instead of on a substring of the page: a substring
//! matches `..._total 10` when `..._total 1` is meant, and any label set that merely contains
//! the expected one.

use std::collections::{BTreeMap, HashMap};
use std::fmt;

use reqwest::StatusCode;

use super::TestApp;

/// The label set of one series, keyed by label name.
type Labels = BTreeMap<String, String>;

/// One parsed exposition: the `# HELP` and `# TYPE` of each family and every sample.
pub struct Exposition {
    text: String,
    help: HashMap<String, String>,
    types: HashMap<String, String>,
    samples: HashMap<String, Vec<(Labels, f64)>>,
}

impl Exposition {
    /// Parses `text`, refusing anything the format does not allow (an unknown escape, a label
    /// twice, the same series twice, a second `# TYPE` for a family) with the line at fault.
    pub fn parse(text: &str) -> Result<Self, String> {
        let mut exposition = Self {
            text: text.to_owned(),
            help: HashMap::new(),
            types: HashMap::new(),
            samples: HashMap::new(),
        };
        for (index, line) in text.lines().enumerate() {
            exposition
                .parse_line(line)
                .map_err(|err| format!("line {}: {err}: {line:?}", index + 1))?;
        }
        Ok(exposition)
    }

    /// The value of the series `name` whose label set is exactly `labels` (in any order).
    pub fn value(&self, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
        let wanted: Labels = labels
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        self.samples
            .get(name)?
            .iter()
            .find_map(|(labels, value)| (*labels == wanted).then_some(*value))
    }

    /// The sum of every sample of `name` whose labels include `labels` (0 when none does).
    pub fn sum(&self, name: &str, labels: &[(&str, &str)]) -> f64 {
        self.samples.get(name).map_or(0.0, |samples| {
            samples
                .iter()
                .filter(|(have, _)| {
                    labels
                        .iter()
                        .all(|(k, v)| have.get(*k).is_some_and(|have| have == v))
                })
                .map(|(_, value)| value)
                .sum()
        })
    }

    /// The `# TYPE` of `family` (`counter`, `gauge`, `histogram`, `summary` or `untyped`).
    pub fn type_of(&self, family: &str) -> Option<&str> {
        self.types.get(family).map(String::as_str)
    }

    /// The `# HELP` of `family`, unescaped.
    pub fn help_of(&self, family: &str) -> Option<&str> {
        self.help.get(family).map(String::as_str)
    }

    fn parse_line(&mut self, line: &str) -> Result<(), String> {
        let line = line.trim_start_matches(BLANKS);
        if line.is_empty() {
            return Ok(());
        }
        if let Some(comment) = line.strip_prefix('#') {
            return self.parse_comment(comment);
        }
        let (name, labels, value) = parse_sample(line)?;
        let series = self.samples.entry(name).or_default();
        if series.iter().any(|(known, _)| *known == labels) {
            return Err("the same series twice".to_owned());
        }
        series.push((labels, value));
        Ok(())
    }

    /// `# HELP name text` and `# TYPE name type`; any other comment is ignored, as the format
    /// says.
    fn parse_comment(&mut self, comment: &str) -> Result<(), String> {
        let mut cursor = Cursor(comment);
        cursor.skip_blanks();
        let keyword = cursor.take_until_blank();
        if keyword != "HELP" && keyword != "TYPE" {
            return Ok(());
        }
        cursor.skip_blanks();
        let family = cursor.take_name(true)?.to_owned();
        if !cursor.0.is_empty() && !cursor.0.starts_with(BLANKS) {
            return Err(format!("a blank must follow the family name {family}"));
        }
        cursor.skip_blanks();
        if keyword == "HELP" {
            let help = unescape_help(cursor.0)?;
            if self.help.insert(family, help).is_some() {
                return Err("a second # HELP for the family".to_owned());
            }
            return Ok(());
        }
        let kind = cursor.0.trim_end_matches(BLANKS);
        if !["counter", "gauge", "histogram", "summary", "untyped"].contains(&kind) {
            return Err(format!("unknown metric type {kind:?}"));
        }
        if self.samples.contains_key(&family) {
            return Err("# TYPE after the family's first sample".to_owned());
        }
        if self.types.insert(family, kind.to_owned()).is_some() {
            return Err("a second # TYPE for the family".to_owned());
        }
        Ok(())
    }
}

/// Shown in assertion messages: the page as the service answered it.
impl fmt::Display for Exposition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

const BLANKS: [char; 2] = [' ', '\t'];

/// `name{label="value",...} value [timestamp]`.
fn parse_sample(line: &str) -> Result<(String, Labels, f64), String> {
    let mut cursor = Cursor(line);
    let name = cursor.take_name(true)?.to_owned();
    let mut labels = Labels::new();
    let mut labelled = cursor.clone();
    labelled.skip_blanks();
    if labelled.eat('{') {
        cursor = labelled;
        loop {
            cursor.skip_blanks();
            if cursor.eat('}') {
                break;
            }
            let label = cursor.take_name(false)?.to_owned();
            cursor.skip_blanks();
            if !cursor.eat('=') {
                return Err(format!("expected '=' after the label {label}"));
            }
            cursor.skip_blanks();
            let value = cursor.take_quoted()?;
            if labels.insert(label.clone(), value).is_some() {
                return Err(format!("the label {label} twice"));
            }
            cursor.skip_blanks();
            if cursor.eat('}') {
                break;
            }
            if !cursor.eat(',') {
                return Err("expected ',' or '}' after a label value".to_owned());
            }
        }
    }
    if !cursor.0.starts_with(BLANKS) {
        return Err("a blank must separate the series from its value".to_owned());
    }
    let mut fields = cursor.0.split(BLANKS).filter(|field| !field.is_empty());
    let value = parse_value(fields.next().ok_or("no value")?)?;
    if let Some(timestamp) = fields.next() {
        timestamp
            .parse::<i64>()
            .map_err(|_| format!("{timestamp:?} is not a timestamp in milliseconds"))?;
    }
    if fields.next().is_some() {
        return Err("text after the timestamp".to_owned());
    }
    Ok((name, labels, value))
}

/// A sample value: a float as Go's `ParseFloat` reads it, or `NaN`, `+Inf`, `-Inf`.
fn parse_value(raw: &str) -> Result<f64, String> {
    match raw {
        "NaN" => Ok(f64::NAN),
        "+Inf" => Ok(f64::INFINITY),
        "-Inf" => Ok(f64::NEG_INFINITY),
        _ => raw
            .parse::<f64>()
            .map_err(|_| format!("{raw:?} is not a sample value")),
    }
}

/// A docstring: `\\` and `\n` are its only escapes.
fn unescape_help(raw: &str) -> Result<String, String> {
    let mut out = String::with_capacity(raw.len());
    let mut chars = raw.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('\\') => out.push('\\'),
            Some('n') => out.push('\n'),
            other => return Err(format!("unknown escape {other:?} in a # HELP")),
        }
    }
    Ok(out)
}

/// What is left of a line to parse.
#[derive(Clone)]
struct Cursor<'a>(&'a str);

impl<'a> Cursor<'a> {
    fn skip_blanks(&mut self) {
        self.0 = self.0.trim_start_matches(BLANKS);
    }

    fn eat(&mut self, c: char) -> bool {
        match self.0.strip_prefix(c) {
            Some(rest) => {
                self.0 = rest;
                true
            }
            None => false,
        }
    }

    fn take_until_blank(&mut self) -> &'a str {
        let end = self.0.find(BLANKS).unwrap_or(self.0.len());
        let (word, rest) = self.0.split_at(end);
        self.0 = rest;
        word
    }

    /// A metric name (`[a-zA-Z_:][a-zA-Z0-9_:]*`) or, without colons, a label name.
    fn take_name(&mut self, colons: bool) -> Result<&'a str, String> {
        let valid = |(i, c): (usize, char)| {
            c.is_ascii_alphabetic()
                || c == '_'
                || (colons && c == ':')
                || (i > 0 && c.is_ascii_digit())
        };
        let end = self
            .0
            .char_indices()
            .find(|&ic| !valid(ic))
            .map_or(self.0.len(), |(i, _)| i);
        if end == 0 {
            return Err("expected a name".to_owned());
        }
        let (name, rest) = self.0.split_at(end);
        self.0 = rest;
        Ok(name)
    }

    /// A double-quoted label value: `\"`, `\\` and `\n` are its only escapes.
    fn take_quoted(&mut self) -> Result<String, String> {
        if !self.eat('"') {
            return Err("a label value must be double-quoted".to_owned());
        }
        let mut out = String::new();
        let mut chars = self.0.char_indices();
        while let Some((i, c)) = chars.next() {
            match c {
                '"' => {
                    self.0 = &self.0[i + 1..];
                    return Ok(out);
                }
                '\\' => match chars.next() {
                    Some((_, '"')) => out.push('"'),
                    Some((_, '\\')) => out.push('\\'),
                    Some((_, 'n')) => out.push('\n'),
                    other => {
                        return Err(format!(
                            "unknown escape {:?} in a label value",
                            other.map(|(_, c)| c)
                        ));
                    }
                },
                c => out.push(c),
            }
        }
        Err("an unterminated label value".to_owned())
    }
}

impl TestApp {
    /// `GET /metrics`, which must answer 200 with a valid text exposition.
    pub async fn metrics(&self) -> Exposition {
        let response = self
            .client
            .get(self.url("/metrics"))
            .send()
            .await
            .expect("request sent");
        let status = response.status();
        let content_type = response
            .headers()
            .get(reqwest::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned();
        let text = response.text().await.expect("body");
        assert_eq!(status, StatusCode::OK, "{text}");
        assert!(
            content_type.starts_with("text/plain; version=0.0.4"),
            "/metrics is served as {content_type:?}"
        );
        Exposition::parse(&text)
            .unwrap_or_else(|err| panic!("/metrics is not a text exposition: {err}\n{text}"))
    }
}

#[cfg(test)]
mod tests;
