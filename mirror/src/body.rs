//! A request body read as it arrives, so that `add-entries` can verify and
//! commit each package before the next is sent (the body's size is
//! unbounded), and an upload cut off mid-way keeps every package that
//! arrived whole. A gzip body (`Content-Encoding: gzip`) is decoded whole
//! first, up to a cap: compression is for bandwidth, and a client that
//! sends gzip sends at most 32 packages a request.

use std::io::Read as _;

use axum::body::{Body, BodyDataStream};
use futures_util::StreamExt as _;

/// The largest gzip body taken, compressed or decoded: 32 packages of 256
/// entries of at most 64 KiB each would be more, but jishi's entries are
/// 34 bytes framed, and a client can always send fewer packages.
const MAX_GZIP_BODY: u64 = 64 << 20;

pub struct BodyReader {
    stream: Option<BodyDataStream>,
    buf: Vec<u8>,
    pos: usize,
    /// Bytes consumed before `buf[pos]`: where in the body a fault is.
    pub offset: u64,
    /// Why the stream ended early, if it did (a connection lost mid-body).
    pub broken: Option<String>,
}

impl BodyReader {
    /// A reader of `body`, decoding gzip if `gzip`.
    pub async fn new(body: Body, gzip: bool) -> Result<BodyReader, String> {
        let mut r = BodyReader {
            stream: Some(body.into_data_stream()),
            buf: Vec::new(),
            pos: 0,
            offset: 0,
            broken: None,
        };
        if gzip {
            let mut all = Vec::new();
            while let Some(chunk) = r.next_chunk().await {
                all.extend_from_slice(&chunk);
                if all.len() as u64 > MAX_GZIP_BODY {
                    return Err(format!(
                        "the gzip body is larger than {MAX_GZIP_BODY} bytes; send fewer packages \
                         a request"
                    ));
                }
            }
            if let Some(e) = r.broken.take() {
                return Err(format!("the gzip body was cut off: {e}"));
            }
            let mut plain = Vec::new();
            flate2::read::GzDecoder::new(all.as_slice())
                .take(MAX_GZIP_BODY)
                .read_to_end(&mut plain)
                .map_err(|e| format!("the body is not gzip: {e}"))?;
            r.stream = None;
            r.buf = plain;
        }
        Ok(r)
    }

    async fn next_chunk(&mut self) -> Option<Vec<u8>> {
        let stream = self.stream.as_mut()?;
        match stream.next().await {
            Some(Ok(b)) => Some(b.to_vec()),
            Some(Err(e)) => {
                self.broken = Some(e.to_string());
                self.stream = None;
                None
            }
            None => {
                self.stream = None;
                None
            }
        }
    }

    /// Makes `n` bytes available; false if the body ends first.
    async fn fill(&mut self, n: usize) -> bool {
        while self.buf.len() - self.pos < n {
            if self.pos > 0 {
                self.buf.drain(..self.pos);
                self.pos = 0;
            }
            match self.next_chunk().await {
                Some(c) => self.buf.extend_from_slice(&c),
                None => return false,
            }
        }
        true
    }

    /// The next `n` bytes, or `None` if the body ends first.
    pub async fn take(&mut self, n: usize) -> Option<Vec<u8>> {
        if !self.fill(n).await {
            return None;
        }
        let out = self.buf[self.pos..self.pos + n].to_vec();
        self.pos += n;
        self.offset += n as u64;
        Some(out)
    }

    pub async fn u8(&mut self) -> Option<u8> {
        self.take(1).await.map(|b| b[0])
    }

    pub async fn u16(&mut self) -> Option<u16> {
        self.take(2).await.map(|b| u16::from_be_bytes([b[0], b[1]]))
    }

    pub async fn u64(&mut self) -> Option<u64> {
        let b = self.take(8).await?;
        let mut a = [0u8; 8];
        a.copy_from_slice(&b);
        Some(u64::from_be_bytes(a))
    }

    /// Whether the body has no byte left.
    pub async fn at_end(&mut self) -> bool {
        !self.fill(1).await
    }
}
