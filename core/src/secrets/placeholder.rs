//! Recognising values that were never replaced by real secrets.

/// Words that make up the usual stand-in values (`changeme`, `dev-secret`, `test`...).
pub(crate) const PLACEHOLDER_WORDS: [&str; 10] = [
    "changeme",
    "dev",
    "test",
    "secret",
    "password",
    "placeholder",
    "example",
    "default",
    "xxx",
    "key",
];

/// Words that betray a template wherever they appear: no random secret contains them.
const TELLTALE_WORDS: [&str; 2] = ["changeme", "placeholder"];

/// Bytes ignored between words, so `dev-secret_key` counts as words only.
const SEPARATORS: &[u8] = b"-_. :/";

/// The longest unit whose repetition (`abab...`, `0101...`) is taken for a placeholder.
const MAX_REPEATED_UNIT: usize = 4;

/// True when `bytes` is a stand-in rather than a secret.
///
/// That is: empty; one short unit repeated (all-same bytes such as 32 × `a` or a seed of
/// 32 zero bytes, or `abab...`); made only of placeholder words (case-insensitive,
/// separators ignored, e.g. `changemechangeme`, `Dev-Secret`); or containing `changeme`
/// or `placeholder` anywhere.
pub fn is_placeholder(bytes: &[u8]) -> bool {
    if bytes.is_empty() || is_short_repetition(bytes) {
        return true;
    }
    let words: Vec<u8> = bytes
        .iter()
        .filter(|b| !SEPARATORS.contains(b))
        .map(u8::to_ascii_lowercase)
        .collect();
    words.is_empty()
        || TELLTALE_WORDS
            .iter()
            .any(|word| words.windows(word.len()).any(|w| w == word.as_bytes()))
        || is_word_sequence(&words)
}

/// True when `bytes` is a unit of at most [`MAX_REPEATED_UNIT`] bytes, repeated.
fn is_short_repetition(bytes: &[u8]) -> bool {
    (1..=MAX_REPEATED_UNIT)
        .filter(|unit| *unit < bytes.len())
        .any(|unit| {
            let (head, _) = bytes.split_at(unit);
            bytes.chunks(unit).all(|chunk| head.starts_with(chunk))
        })
}

/// True when `text` (lowercase, no separators) is a concatenation of placeholder words.
fn is_word_sequence(text: &[u8]) -> bool {
    let mut reachable = vec![false; text.len() + 1];
    reachable[0] = true;
    for start in 0..text.len() {
        if !reachable[start] {
            continue;
        }
        for word in PLACEHOLDER_WORDS {
            if text[start..].starts_with(word.as_bytes()) {
                reachable[start + word.len()] = true;
            }
        }
    }
    reachable[text.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recognises_stand_ins() {
        for value in [
            "",
            "changeme",
            "CHANGEME",
            "changemechangemechangemechangeme",
            "dev",
            "dev-secret-key",
            "Test_Secret",
            "password",
            "default-example",
            "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx",
            "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
            "abababababababababababababababab",
            "please-replace-changeme-0f1e2d3c4b5a69788796a5b4c3d2e1f0",
            "my-placeholder-value",
        ] {
            assert!(is_placeholder(value.as_bytes()), "{value:?}");
        }
        assert!(is_placeholder(&[0u8; 32]));
        assert!(is_placeholder(&[7u8; 32]));
    }

    #[test]
    fn accepts_real_secrets() {
        for value in [
            "k8Zq1vN3xR7pT2mW9cY4bL6hJ0dF5sGa",
            "development-team-shared-hmac-9f3a7c",
            "0f1e2d3c4b5a69788796a5b4c3d2e1f00f1e2d3c4b5a6978",
        ] {
            assert!(!is_placeholder(value.as_bytes()), "{value:?}");
        }
        let seed: Vec<u8> = (0u8..32)
            .map(|i| i.wrapping_mul(37).wrapping_add(11))
            .collect();
        assert!(!is_placeholder(&seed));
    }
}
