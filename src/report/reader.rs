//! Streaming input for the report: a file or stdin, plain or gzip (as CloudWatch exports write
//! it, told apart by its first bytes), read one line at a time into the bill, so that memory
//! stays one buffered block plus the rows however long the log is.
//!
//! One thread reads and bills: measured with `scripts/report-bench.sh`, it was faster and
//! smaller than billing blocks of lines on several threads and merging their totals.

use std::io::{BufRead, BufReader, Read};

use super::Aggregator;

/// How much of the input (and of gzip's output) is buffered at a time.
const BUFFER_BYTES: usize = 256 * 1024;

impl Aggregator<'_> {
    /// Reads every line of `input` (gzip-compressed or plain, told apart by its first bytes),
    /// line by line.
    pub fn read(&mut self, source: &str, input: impl Read) {
        let mut input = BufReader::with_capacity(BUFFER_BYTES, input);
        let gzip = matches!(input.fill_buf(), Ok([0x1f, 0x8b, ..]));
        if gzip {
            let decoder = flate2::bufread::MultiGzDecoder::new(input);
            self.read_lines(source, BufReader::with_capacity(BUFFER_BYTES, decoder));
        } else {
            self.read_lines(source, input);
        }
    }

    /// Bills each line of `input` (`\n`-separated, a `\r` before it dropped; a line that is
    /// not UTF-8 is read lossily). If the input breaks off, the line it broke off in is not
    /// billed (it is not whole) and the break is listed after the lines before it.
    fn read_lines(&mut self, source: &str, mut input: impl BufRead) {
        let mut number = 0;
        let mut line = Vec::new();
        loop {
            line.clear();
            match input.read_until(b'\n', &mut line) {
                Ok(0) => return,
                Ok(_) => {
                    number += 1;
                    if line.last() == Some(&b'\n') {
                        line.pop();
                    }
                    match std::str::from_utf8(&line) {
                        Ok(text) => self.add(source, number, text.trim_end_matches('\r')),
                        Err(_) => {
                            let text = String::from_utf8_lossy(&line);
                            self.add(source, number, text.trim_end_matches('\r'));
                        }
                    }
                }
                Err(e) => {
                    self.unreadable(source, number, &e.to_string());
                    return;
                }
            }
        }
    }
}
