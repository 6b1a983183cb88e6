//! Streaming input for the report: a file or stdin, plain or gzip (as CloudWatch exports write
//! it, told apart by its first bytes), read in blocks of whole lines that are billed on several
//! threads, so that memory stays a few blocks plus the rows however long the log is.

use std::io::{BufRead, BufReader, Read};
use std::sync::{Mutex, PoisonError};

use super::Aggregator;

/// How much of a log is read at a time (then cut after its last newline).
const BLOCK_BYTES: usize = 1 << 20;

impl Aggregator<'_> {
    /// Reads every line of `input` (gzip-compressed or plain, told apart by its first bytes),
    /// line by line.
    pub fn read(&mut self, source: &str, input: impl Read) {
        let mut input = BufReader::with_capacity(256 * 1024, input);
        let gzip = matches!(input.fill_buf(), Ok([0x1f, 0x8b, ..]));
        if gzip {
            let decoder = flate2::bufread::MultiGzDecoder::new(input);
            self.read_lines(source, BufReader::with_capacity(256 * 1024, decoder));
        } else {
            self.read_lines(source, input);
        }
    }

    /// Reads `input` in blocks of whole lines and bills them on as many threads as the
    /// machine has cores (at most four): each thread keeps its own totals, merged at the end,
    /// so memory stays a few blocks plus the rows.
    fn read_lines(&mut self, source: &str, mut input: impl BufRead) {
        let workers = std::thread::available_parallelism()
            .map_or(1, |n| n.get())
            .clamp(1, 4);
        let (send, receive) = std::sync::mpsc::sync_channel::<(usize, Vec<u8>)>(workers * 2);
        let receive = Mutex::new(receive);
        let options = self.options;
        let mut unreadable: Option<(usize, String)> = None;
        let partials: Vec<Aggregator<'_>> = std::thread::scope(|scope| {
            let handles: Vec<_> = (0..workers)
                .map(|_| {
                    let receive = &receive;
                    scope.spawn(move || {
                        let mut partial = Aggregator::new(options);
                        loop {
                            let next = receive
                                .lock()
                                .unwrap_or_else(PoisonError::into_inner)
                                .recv();
                            let Ok((first, block)) = next else {
                                return partial;
                            };
                            // A block that is UTF-8 as a whole (checked at once) is cut into
                            // lines by `memchr`; otherwise line by line, each read lossily.
                            if let Ok(text) = std::str::from_utf8(&block) {
                                for (i, line) in text.split('\n').enumerate() {
                                    partial.add(source, first + i, line.trim_end_matches('\r'));
                                }
                                continue;
                            }
                            for (i, line) in block.split(|b| *b == b'\n').enumerate() {
                                let text = String::from_utf8_lossy(line);
                                partial.add(source, first + i, text.trim_end_matches('\r'));
                            }
                        }
                    })
                })
                .collect();
            // Blocks of about a MiB, cut after a newline; `number` counts the lines sent.
            let mut number = 1;
            let mut carry: Vec<u8> = Vec::new();
            let mut chunk = vec![0u8; BLOCK_BYTES];
            loop {
                let mut block = std::mem::take(&mut carry);
                block.reserve(BLOCK_BYTES);
                let read = match input.read(&mut chunk) {
                    Ok(0) => 0,
                    Ok(n) => n,
                    Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                    Err(e) => {
                        // The line the stream broke off in is not billed: it is not whole.
                        let whole = block.iter().rposition(|b| *b == b'\n').map_or(0, |i| i + 1);
                        block.truncate(whole);
                        let lines_before = number - 1 + newlines(&block);
                        unreadable = Some((lines_before, e.to_string()));
                        0
                    }
                };
                block.extend_from_slice(&chunk[..read]);
                let at_end = read == 0;
                let cut = if at_end {
                    block.len()
                } else {
                    match block.iter().rposition(|b| *b == b'\n') {
                        Some(i) => i + 1,
                        None => {
                            carry = block;
                            continue;
                        }
                    }
                };
                carry = block.split_off(cut);
                if block.last() == Some(&b'\n') {
                    block.pop();
                }
                if !block.is_empty() {
                    let lines = newlines(&block) + 1;
                    if send.send((number, block)).is_err() {
                        break;
                    }
                    number += lines;
                }
                if at_end {
                    break;
                }
            }
            drop(send);
            handles.into_iter().filter_map(|h| h.join().ok()).collect()
        });
        for partial in partials {
            self.merge(partial);
        }
        self.report.problems.sort_by_key(|(_, line, _)| *line);
        if let Some((after, problem)) = unreadable {
            self.unreadable(source, after, &problem);
        }
    }
}

/// How many `\n` bytes `bytes` holds (a sum with no branch per byte, which the compiler
/// vectorises).
fn newlines(bytes: &[u8]) -> usize {
    bytes
        .iter()
        .fold(0usize, |count, &b| count + usize::from(b == b'\n'))
}
