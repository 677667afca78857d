//! A byte-level scanner that picks chosen top-level members out of a JSON object fed in pieces
//! (the stored payload, chunk by chunk), without parsing the rest: verifying a stored export
//! reads its `methodology` block, which sits after the impacts, at hashing speed.

use std::collections::BTreeMap;

/// Collects the raw bytes of the top-level members named in `wanted`, each up to a size cap.
#[derive(Debug)]
pub(crate) struct TopLevelCapture {
    wanted: &'static [&'static str],
    max_member_bytes: usize,
    depth: u32,
    in_string: bool,
    escaped: bool,
    expecting_key: bool,
    reading_key: bool,
    key: Vec<u8>,
    capturing: Option<String>,
    value: Vec<u8>,
    captured: BTreeMap<String, Vec<u8>>,
}

impl TopLevelCapture {
    /// A scanner for the members named `wanted`, each kept if at most `max_member_bytes` long.
    pub(crate) fn new(wanted: &'static [&'static str], max_member_bytes: usize) -> Self {
        Self {
            wanted,
            max_member_bytes,
            depth: 0,
            in_string: false,
            escaped: false,
            expecting_key: false,
            reading_key: false,
            key: Vec::new(),
            capturing: None,
            value: Vec::new(),
            captured: BTreeMap::new(),
        }
    }

    /// Feeds the next piece of the document.
    pub(crate) fn feed(&mut self, bytes: &[u8]) {
        let mut i = 0;
        while i < bytes.len() {
            if self.in_string && !self.escaped && !self.reading_key {
                // Fast path through string contents: jump to the next quote or backslash.
                let rest = &bytes[i..];
                let run = rest
                    .iter()
                    .position(|&b| b == b'"' || b == b'\\')
                    .unwrap_or(rest.len());
                self.keep(&rest[..run]);
                i += run;
                if i == bytes.len() {
                    break;
                }
            }
            self.step(bytes[i]);
            i += 1;
        }
    }

    fn step(&mut self, b: u8) {
        if self.in_string {
            if self.escaped {
                self.escaped = false;
            } else if b == b'\\' {
                self.escaped = true;
            } else if b == b'"' {
                self.in_string = false;
                if self.reading_key {
                    self.reading_key = false;
                    return;
                }
            }
            if self.reading_key {
                self.key.push(b);
            } else {
                self.keep(&[b]);
            }
            return;
        }
        match b {
            b'"' => {
                self.in_string = true;
                if self.depth == 1 && self.expecting_key {
                    self.expecting_key = false;
                    self.reading_key = true;
                    self.key.clear();
                } else {
                    self.keep(&[b]);
                }
            }
            b'{' | b'[' => {
                self.depth += 1;
                if self.depth == 1 {
                    self.expecting_key = true;
                } else {
                    self.keep(&[b]);
                }
            }
            b'}' | b']' => {
                if self.depth == 1 {
                    self.end_member();
                } else {
                    self.keep(&[b]);
                }
                self.depth = self.depth.saturating_sub(1);
            }
            b',' if self.depth == 1 => {
                self.end_member();
                self.expecting_key = true;
            }
            b':' if self.depth == 1 && self.capturing.is_none() => {
                let key = String::from_utf8_lossy(&self.key).into_owned();
                if self.wanted.contains(&key.as_str()) {
                    self.capturing = Some(key);
                    self.value.clear();
                }
            }
            _ => self.keep(&[b]),
        }
    }

    fn keep(&mut self, bytes: &[u8]) {
        if self.capturing.is_some() && self.value.len() <= self.max_member_bytes {
            self.value.extend_from_slice(bytes);
        }
    }

    fn end_member(&mut self) {
        if let Some(key) = self.capturing.take()
            && self.value.len() <= self.max_member_bytes
        {
            self.captured.insert(key, std::mem::take(&mut self.value));
        }
    }

    /// The captured members, raw bytes by key.
    pub(crate) fn finish(self) -> BTreeMap<String, Vec<u8>> {
        self.captured
    }
}

#[cfg(test)]
mod tests {
    use super::TopLevelCapture;

    #[test]
    fn captures_members_across_piece_boundaries() {
        let doc = br#"{"aggregation":{"a":[1,2]},"impacts":[{"x":"],\"methodology\":{\"fake\":1}"}],"methodology":{"methodology_version":"v1","l":["a,b"]},"z":"}"}"#;
        for piece in [1, 2, 3, 7, doc.len()] {
            let mut scan = TopLevelCapture::new(&["methodology", "z"], 1024);
            for part in doc.chunks(piece) {
                scan.feed(part);
            }
            let captured = scan.finish();
            assert_eq!(
                captured.get("methodology").map(Vec::as_slice),
                Some(br#"{"methodology_version":"v1","l":["a,b"]}"#.as_slice()),
                "pieces of {piece}"
            );
            assert_eq!(
                captured.get("z").map(Vec::as_slice),
                Some(br#""}""#.as_slice())
            );
            assert!(!captured.contains_key("impacts"));
        }
    }

    #[test]
    fn oversized_members_are_dropped() {
        let mut scan = TopLevelCapture::new(&["m"], 4);
        scan.feed(br#"{"m":"0123456789"}"#);
        assert!(scan.finish().is_empty());
    }
}
