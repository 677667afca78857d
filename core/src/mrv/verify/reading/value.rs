//! Any JSON value re-written canonically as it is parsed (SPEC §5): object members sorted by
//! code point, duplicates refused, no whitespace.

use std::fmt;

use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};

use super::{Context, Failure, put_string};

/// Writes any JSON value canonically into `out` (after `prefix`); object members are sorted by
/// code point, duplicates refused. Numbers GreenOS never writes (fractions, exponents) are
/// written as parsed, so they can only change the hash, never pass for canonical.
pub(super) struct CanonicalSeed<'c, 'o> {
    pub(super) context: &'c Context,
    pub(super) out: &'o mut Vec<u8>,
    pub(super) prefix: &'static [u8],
}

impl<'de> DeserializeSeed<'de> for CanonicalSeed<'_, '_> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        self.out.extend_from_slice(self.prefix);
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for CanonicalSeed<'_, '_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_bool<E: de::Error>(self, v: bool) -> Result<(), E> {
        self.out
            .extend_from_slice(if v { b"true" } else { b"false" });
        Ok(())
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<(), E> {
        self.out.extend_from_slice(v.to_string().as_bytes());
        Ok(())
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<(), E> {
        self.out.extend_from_slice(v.to_string().as_bytes());
        Ok(())
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<(), E> {
        let text =
            serde_json::Number::from_f64(v).map_or_else(|| "null".to_owned(), |n| n.to_string());
        self.out.extend_from_slice(text.as_bytes());
        Ok(())
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<(), E> {
        put_string(self.out, v);
        Ok(())
    }

    fn visit_unit<E: de::Error>(self) -> Result<(), E> {
        self.out.extend_from_slice(b"null");
        Ok(())
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        self.out.push(b'[');
        let mut prefix: &'static [u8] = b"";
        while seq
            .next_element_seed(CanonicalSeed {
                context: self.context,
                out: &mut *self.out,
                prefix,
            })?
            .is_some()
        {
            prefix = b",";
        }
        self.out.push(b']');
        Ok(())
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let mut members: Vec<(String, Vec<u8>)> = Vec::new();
        while let Some(key) = map.next_key::<String>()? {
            let mut value = Vec::new();
            map.next_value_seed(CanonicalSeed {
                context: self.context,
                out: &mut value,
                prefix: b"",
            })?;
            members.push((key, value));
        }
        members.sort_unstable_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()));
        if let Some(pair) = members.windows(2).find(|pair| pair[0].0 == pair[1].0) {
            return Err(self.context.fail(Failure::Duplicate(pair[0].0.clone())));
        }
        self.out.push(b'{');
        for (i, (key, value)) in members.iter().enumerate() {
            if i > 0 {
                self.out.push(b',');
            }
            put_string(self.out, key);
            self.out.push(b':');
            self.out.extend_from_slice(value);
        }
        self.out.push(b'}');
        Ok(())
    }
}
