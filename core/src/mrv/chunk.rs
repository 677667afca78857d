//! An export's payload chunks (SPEC §3): the canonical payload bytes cut in pieces of at most
//! [`CHUNK_BYTES`], each stored under the codec its export row names. `zstd` stores each piece
//! as a zstd frame of its own, so that any chunk decompresses alone (a download fetches them one
//! by one); `none` stores the piece as it is (exports written before chunks were compressed).
//! Every reader decompresses chunk by chunk as it streams: the pieces concatenate to exactly
//! the bytes whose SHA-256 is the export's `verification_hash`.

use std::fmt;
use std::io;
use std::str::FromStr;

use crate::mrv::error::MrvError;

/// The most payload bytes in one chunk (before compression).
pub const CHUNK_BYTES: usize = 1024 * 1024;

/// zstd's level for payload chunks. On payload JSON (hex hashes, base64 signatures) level 1
/// stores about a quarter of the bytes at some 450 MB/s per core; higher levels compress
/// little better and several times slower.
const ZSTD_LEVEL: i32 = 1;

/// How a payload of `size_bytes` is cut: the number of chunks.
pub(crate) fn chunk_count(size_bytes: u64) -> Result<i32, MrvError> {
    i32::try_from(size_bytes.div_ceil(CHUNK_BYTES as u64))
        .map_err(|_| MrvError::Storage(format!("a payload of {size_bytes} bytes is too large")))
}

/// How an export's chunks are stored.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ChunkCodec {
    /// The payload bytes as they are.
    None,
    /// One zstd frame per chunk.
    Zstd,
}

impl ChunkCodec {
    /// The codec new exports are stored with.
    pub const STORED: ChunkCodec = ChunkCodec::Zstd;

    /// The name the export row holds.
    pub fn as_str(self) -> &'static str {
        match self {
            ChunkCodec::None => "none",
            ChunkCodec::Zstd => "zstd",
        }
    }

    /// The stored form of a piece of payload of at most [`CHUNK_BYTES`]. CPU-bound: call it on
    /// a blocking thread.
    pub(crate) fn encode(self, piece: Vec<u8>) -> io::Result<Vec<u8>> {
        match self {
            ChunkCodec::None => Ok(piece),
            ChunkCodec::Zstd => zstd::bulk::compress(&piece, ZSTD_LEVEL),
        }
    }

    /// The payload bytes of a stored chunk; a chunk that does not decode, or decodes to more
    /// than [`CHUNK_BYTES`], is a read error. CPU-bound: call it on a blocking thread.
    pub(crate) fn decode(self, stored: Vec<u8>) -> io::Result<Vec<u8>> {
        let piece = match self {
            ChunkCodec::None => stored,
            ChunkCodec::Zstd => zstd::bulk::decompress(&stored, CHUNK_BYTES)
                .map_err(|err| io::Error::other(format!("a zstd chunk does not decode: {err}")))?,
        };
        if piece.len() > CHUNK_BYTES {
            return Err(io::Error::other(format!(
                "a chunk holds {} payload bytes, more than {CHUNK_BYTES}",
                piece.len()
            )));
        }
        Ok(piece)
    }
}

impl fmt::Display for ChunkCodec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for ChunkCodec {
    type Err = io::Error;

    /// A stored codec name; any other is a read error of the export's chunks.
    fn from_str(name: &str) -> Result<Self, Self::Err> {
        match name {
            "none" => Ok(ChunkCodec::None),
            "zstd" => Ok(ChunkCodec::Zstd),
            other => Err(io::Error::other(format!(
                "unknown chunk codec {:?}",
                other.chars().take(32).collect::<String>()
            ))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn payload(len: usize) -> Vec<u8> {
        (0..len)
            .map(|n| b"{\"checksum\":\"3adbc3a4\",}"[n % 24])
            .collect()
    }

    #[test]
    fn every_codec_gives_back_the_piece_it_stored() {
        for codec in [ChunkCodec::None, ChunkCodec::Zstd] {
            for len in [0, 1, 4096, CHUNK_BYTES] {
                let piece = payload(len);
                let stored = codec.encode(piece.clone()).expect("encode");
                assert_eq!(
                    codec.decode(stored).expect("decode"),
                    piece,
                    "{codec} {len}"
                );
            }
        }
    }

    #[test]
    fn zstd_stores_payload_json_smaller() {
        let stored = ChunkCodec::Zstd
            .encode(payload(CHUNK_BYTES))
            .expect("encode");
        assert!(stored.len() < CHUNK_BYTES / 10, "{}", stored.len());
    }

    #[test]
    fn a_chunk_larger_than_a_chunk_is_refused() {
        let big = payload(CHUNK_BYTES + 1);
        let zstd = zstd::bulk::compress(&big, 1).expect("compress");
        assert!(ChunkCodec::Zstd.decode(zstd).is_err());
        assert!(ChunkCodec::None.decode(big).is_err());
    }

    #[test]
    fn bytes_that_are_not_zstd_are_a_read_error() {
        let err = ChunkCodec::Zstd
            .decode(b"{\"impacts\":[]}".to_vec())
            .expect_err("not zstd");
        assert!(err.to_string().contains("does not decode"), "{err}");
    }

    #[test]
    fn names_round_trip_and_unknown_ones_are_refused() {
        for codec in [ChunkCodec::None, ChunkCodec::Zstd] {
            assert_eq!(codec.as_str().parse::<ChunkCodec>().ok(), Some(codec));
        }
        assert!("gzip".parse::<ChunkCodec>().is_err());
    }
}
