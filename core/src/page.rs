//! Relay page requests, shared by every list: `first`/`after` forward, `last`/`before`
//! backward, at most [`MAX_PAGE`] items, keyset cursors that each list encodes itself.

/// The largest page a client may ask for.
pub const MAX_PAGE: u64 = 1000;

/// The page size when a client names none.
pub const DEFAULT_PAGE: u64 = 100;

/// A page request as a client sends it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PageRequest {
    /// At most this many from the start (or after `after`).
    pub first: Option<u64>,
    /// The cursor the page starts after.
    pub after: Option<String>,
    /// At most this many from the end (or before `before`).
    pub last: Option<u64>,
    /// The cursor the page ends before.
    pub before: Option<String>,
}

/// A page request that cannot be served, naming the argument.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PageError {
    /// `first`, `last`, `after` or `before`.
    pub field: &'static str,
    /// What is wrong.
    pub reason: String,
}

impl PageRequest {
    /// The page size and whether the page is read backward (`last`).
    pub fn size(&self) -> Result<(u64, bool), PageError> {
        let check = |value: u64, field: &'static str| {
            if (1..=MAX_PAGE).contains(&value) {
                Ok(value)
            } else {
                Err(PageError {
                    field,
                    reason: format!("must be between 1 and {MAX_PAGE}"),
                })
            }
        };
        match (self.first, self.last) {
            (Some(_), Some(_)) => Err(PageError {
                field: "last",
                reason: "give first or last, not both".to_owned(),
            }),
            (Some(first), None) => Ok((check(first, "first")?, false)),
            (None, Some(last)) => Ok((check(last, "last")?, true)),
            (None, None) => Ok((DEFAULT_PAGE, self.before.is_some() && self.after.is_none())),
        }
    }
}
