//! Walking a stored (canonical) payload once, handing each element of `impacts` to a callback
//! as it is parsed: the CSV download streams through this, one impact in memory at a time.

use std::fmt;
use std::io::{BufReader, Read};

use serde::de::{self, DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Value};

use crate::mrv::error::MrvError;

/// Calls `on_impact` with each impact object of the payload read from `reader`, in order, and
/// answers how many there were. Other members are skipped unparsed.
pub fn for_each_impact<R, F>(reader: R, mut on_impact: F) -> Result<u64, MrvError>
where
    R: Read,
    F: FnMut(Map<String, Value>) -> std::io::Result<()>,
{
    let mut deserializer =
        serde_json::Deserializer::from_reader(BufReader::with_capacity(256 * 1024, reader));
    let count = PayloadSeed {
        on_impact: &mut on_impact,
    }
    .deserialize(&mut deserializer)
    .and_then(|count| deserializer.end().map(|()| count))
    .map_err(|e| MrvError::Storage(format!("stored payload: {e}")))?;
    Ok(count)
}

struct PayloadSeed<'f, F> {
    on_impact: &'f mut F,
}

impl<'de, F> DeserializeSeed<'de> for PayloadSeed<'_, F>
where
    F: FnMut(Map<String, Value>) -> std::io::Result<()>,
{
    type Value = u64;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<u64, D::Error> {
        deserializer.deserialize_map(self)
    }
}

impl<'de, F> Visitor<'de> for PayloadSeed<'_, F>
where
    F: FnMut(Map<String, Value>) -> std::io::Result<()>,
{
    type Value = u64;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a payload object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<u64, A::Error> {
        let mut count = 0;
        while let Some(key) = map.next_key::<String>()? {
            if key == "impacts" {
                count = map.next_value_seed(ImpactsSeed {
                    on_impact: &mut *self.on_impact,
                })?;
            } else {
                map.next_value::<IgnoredAny>()?;
            }
        }
        Ok(count)
    }
}

struct ImpactsSeed<'f, F> {
    on_impact: &'f mut F,
}

impl<'de, F> DeserializeSeed<'de> for ImpactsSeed<'_, F>
where
    F: FnMut(Map<String, Value>) -> std::io::Result<()>,
{
    type Value = u64;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<u64, D::Error> {
        deserializer.deserialize_seq(self)
    }
}

impl<'de, F> Visitor<'de> for ImpactsSeed<'_, F>
where
    F: FnMut(Map<String, Value>) -> std::io::Result<()>,
{
    type Value = u64;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an array of impacts")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<u64, A::Error> {
        let mut count = 0;
        while let Some(impact) = seq.next_element::<Map<String, Value>>()? {
            (self.on_impact)(impact).map_err(de::Error::custom)?;
            count += 1;
        }
        Ok(count)
    }
}
