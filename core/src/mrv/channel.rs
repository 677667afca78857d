//! Blocking ends of async channels: a `Write` that hands what is written to an async consumer
//! in pieces (downloads written on a blocking thread: the CSV, the evidence archive), and a
//! `Read` over pieces an async producer sends (an export's chunks, an artifact download).

use std::fmt;
use std::io::{self, Read, Write};

use tokio::sync::mpsc;

/// Buffers writes and sends them as pieces of about `piece_bytes`; a closed consumer stops the
/// writer with `BrokenPipe`.
pub(crate) struct ChannelWriter {
    tx: mpsc::Sender<io::Result<Vec<u8>>>,
    buffer: Vec<u8>,
    piece_bytes: usize,
}

impl ChannelWriter {
    pub(crate) fn new(tx: &mpsc::Sender<io::Result<Vec<u8>>>, piece_bytes: usize) -> Self {
        ChannelWriter {
            tx: tx.clone(),
            buffer: Vec::with_capacity(piece_bytes),
            piece_bytes,
        }
    }

    /// Sends what is buffered.
    pub(crate) fn send(&mut self) -> io::Result<()> {
        if self.buffer.is_empty() {
            return Ok(());
        }
        let piece = std::mem::replace(&mut self.buffer, Vec::with_capacity(self.piece_bytes));
        self.tx
            .blocking_send(Ok(piece))
            .map_err(|_| io::Error::new(io::ErrorKind::BrokenPipe, "the client went away"))
    }
}

impl Write for ChannelWriter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.buffer.extend_from_slice(buf);
        if self.buffer.len() >= self.piece_bytes {
            self.send()?;
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// Turns a piece as sent into the bytes it stands for (decompresses a stored chunk, say).
pub(crate) type Decode = Box<dyn FnMut(Vec<u8>) -> io::Result<Vec<u8>> + Send>;

/// Reads the pieces an async producer sends, in order, each decoded on the reading thread as
/// it is reached; an `Err` piece is a read error, and the end of the channel is the end of the
/// input. Use it on a blocking thread only.
pub struct ChannelReader {
    pieces: mpsc::Receiver<io::Result<Vec<u8>>>,
    decode: Option<Decode>,
    current: Vec<u8>,
    position: usize,
}

impl ChannelReader {
    pub(crate) fn new(pieces: mpsc::Receiver<io::Result<Vec<u8>>>) -> Self {
        ChannelReader {
            pieces,
            decode: None,
            current: Vec::new(),
            position: 0,
        }
    }

    /// Reads the pieces `decode` makes of those sent.
    pub(crate) fn decoding(pieces: mpsc::Receiver<io::Result<Vec<u8>>>, decode: Decode) -> Self {
        ChannelReader {
            decode: Some(decode),
            ..ChannelReader::new(pieces)
        }
    }
}

impl fmt::Debug for ChannelReader {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ChannelReader")
            .field("decoding", &self.decode.is_some())
            .field("position", &self.position)
            .finish_non_exhaustive()
    }
}

impl Read for ChannelReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        while self.position == self.current.len() {
            match self.pieces.blocking_recv() {
                Some(piece) => {
                    self.current = match &mut self.decode {
                        Some(decode) => decode(piece?)?,
                        None => piece?,
                    };
                    self.position = 0;
                }
                None => return Ok(0),
            }
        }
        let n = buf.len().min(self.current.len() - self.position);
        buf[..n].copy_from_slice(&self.current[self.position..self.position + n]);
        self.position += n;
        Ok(n)
    }
}
