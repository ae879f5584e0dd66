//! Results go to stdout through here: when the reader has gone (`ferry get ... | head`), the
//! program ends quietly with success, as other Unix tools do, instead of panicking.

use std::io::Write as _;

/// Writes `text` followed by a newline.
pub fn line(text: impl std::fmt::Display) {
    write(&format!("{text}\n"));
}

/// Writes `text` as is.
pub fn write(text: &str) {
    let mut out = std::io::stdout().lock();
    if let Err(e) = out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        if e.kind() == std::io::ErrorKind::BrokenPipe {
            std::process::exit(0);
        }
        eprintln!("error: writing to stdout: {e}");
        std::process::exit(1);
    }
}
