//! Where a GET's body goes: a temporary file next to the output, renamed over it only when
//! the whole body arrived, so a failed or interrupted download never leaves a file that looks
//! complete. An output that exists and is not a regular file (`/dev/null`, a FIFO) is written
//! directly: renaming over a device node would replace it; so is stdout (`-o -`). A progress
//! bar is drawn on stderr when stderr is a terminal.

use std::fs::{File, OpenOptions, Permissions};
use std::io::{self, BufWriter, IsTerminal, Write};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use indicatif::{ProgressBar, ProgressStyle};
use tempfile::NamedTempFile;

/// What the body is written to.
enum Sink {
    /// A temporary file, renamed over the output when complete.
    Staged(NamedTempFile),
    /// The output itself, which is not a regular file (a device or a pipe).
    Direct(File),
    /// This process's stdout.
    Stdout(io::Stdout),
}

impl Write for Sink {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Sink::Staged(file) => file.write(buf),
            Sink::Direct(file) => file.write(buf),
            Sink::Stdout(out) => out.write(buf),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match self {
            Sink::Staged(file) => file.flush(),
            Sink::Direct(file) => file.flush(),
            Sink::Stdout(out) => out.flush(),
        }
    }
}

/// One body being saved.
pub struct Download {
    /// The output file, or `None` for stdout.
    path: Option<PathBuf>,
    file: Option<BufWriter<Sink>>,
    received: u64,
    /// The first error writing the body (disk full...), reported instead of the core's
    /// generic "sink refused".
    error: Option<io::Error>,
    progress: Option<ProgressBar>,
}

impl Download {
    /// Prepares to save to `path`: creates the temporary file in the same directory (so the
    /// final rename stays on one filesystem and is atomic).
    pub fn create(path: &Path) -> Result<Self> {
        let sink = match std::fs::metadata(path) {
            Ok(meta) if meta.is_dir() => anyhow::bail!("output {} is a directory", path.display()),
            Ok(meta) if !meta.is_file() => Sink::Direct(
                OpenOptions::new()
                    .write(true)
                    .open(path)
                    .with_context(|| format!("cannot open {}", path.display()))?,
            ),
            _ => Sink::Staged(Self::temporary(path)?),
        };
        Ok(Self::new(Some(path.to_path_buf()), sink))
    }

    /// Prepares to write the body to stdout (`-o -`).
    pub fn stdout() -> Self {
        Self::new(None, Sink::Stdout(io::stdout()))
    }

    fn new(path: Option<PathBuf>, sink: Sink) -> Self {
        Self {
            path,
            file: Some(BufWriter::with_capacity(64 * 1024, sink)),
            received: 0,
            error: None,
            progress: None,
        }
    }

    /// A temporary file in the output's directory (so the final rename stays on one
    /// filesystem and is atomic).
    fn temporary(path: &Path) -> Result<NamedTempFile> {
        let dir = match path.parent() {
            Some(dir) if !dir.as_os_str().is_empty() => dir,
            _ => Path::new("."),
        };
        let name = path
            .file_name()
            .with_context(|| format!("output {} is not a file name", path.display()))?;
        let tmp = tempfile::Builder::new()
            .prefix(&format!(".{}.", name.to_string_lossy()))
            .suffix(".part")
            // Like any new file: 0666 less the umask, not tempfile's private 0600.
            .permissions(Permissions::from_mode(0o666))
            .tempfile_in(dir)
            .with_context(|| format!("cannot create a temporary file in {}", dir.display()))?;
        Ok(tmp)
    }

    /// Whether the body goes to stdout.
    pub fn is_stdout(&self) -> bool {
        self.path.is_none()
    }

    /// Where the body goes, for messages: the file's path, or `stdout`.
    pub fn destination(&self) -> String {
        self.path
            .as_ref()
            .map_or_else(|| "stdout".to_string(), |p| p.display().to_string())
    }

    /// The response head arrived: a progress bar of `length` bytes (if known), on a terminal.
    pub fn start(&mut self, length: Option<u64>) {
        if !io::stderr().is_terminal() {
            return;
        }
        let bar = match length {
            Some(len) => ProgressBar::new(len).with_style(
                ProgressStyle::with_template(
                    "{bar:40} {binary_bytes}/{binary_total_bytes} {binary_bytes_per_sec} {eta}",
                )
                .expect("valid template"),
            ),
            None => ProgressBar::new_spinner().with_style(
                ProgressStyle::with_template("{spinner} {binary_bytes} {binary_bytes_per_sec}")
                    .expect("valid template"),
            ),
        };
        self.progress = Some(bar);
    }

    /// The next piece of the body; false if it could not be written (the GET must fail).
    pub fn write(&mut self, chunk: &[u8]) -> bool {
        let Some(file) = &mut self.file else {
            return false;
        };
        if let Err(e) = file.write_all(chunk) {
            self.error = Some(e);
            self.file = None;
            return false;
        }
        self.received += chunk.len() as u64;
        if let Some(bar) = &self.progress {
            bar.set_position(self.received);
        }
        true
    }

    /// The write error that failed the GET, if that is what failed it.
    pub fn take_error(&mut self) -> Option<io::Error> {
        self.error.take()
    }

    /// The whole body arrived: flush, then rename the temporary file to the output.
    pub fn finish(mut self) -> Result<u64> {
        self.clear_progress();
        let destination = self.destination();
        let file = self
            .file
            .take()
            .with_context(|| format!("cannot write {destination}"))?;
        let sink = file
            .into_inner()
            .map_err(|e| e.into_error())
            .with_context(|| format!("cannot write {destination}"))?;
        if let (Sink::Staged(tmp), Some(path)) = (sink, &self.path) {
            tmp.as_file()
                .sync_all()
                .with_context(|| format!("cannot write {destination}"))?;
            tmp.persist(path)
                .map_err(|e| e.error)
                .with_context(|| format!("cannot rename the download to {destination}"))?;
        }
        Ok(self.received)
    }

    fn clear_progress(&mut self) {
        if let Some(bar) = self.progress.take() {
            bar.finish_and_clear();
        }
    }
}

impl Drop for Download {
    /// Not finished: the temporary file is deleted (NamedTempFile's own drop) and the output
    /// is left as it was.
    fn drop(&mut self) {
        self.clear_progress();
    }
}

/// The file name a URL's body is saved under without `-o`: its last path segment, or
/// `index.html` for a directory (as wget does).
pub fn default_name(url: &str) -> PathBuf {
    let name = tcplink::url::Url::parse(url)
        .ok()
        .map(|url| url.path)
        .and_then(|path| path.split(['?', '#']).next())
        .and_then(|path| path.rsplit('/').next())
        .filter(|name| !name.is_empty() && *name != "." && *name != "..")
        .unwrap_or("index.html");
    PathBuf::from(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_names() {
        assert_eq!(default_name("http://h/a/b.bin"), Path::new("b.bin"));
        assert_eq!(default_name("http://h/a/b.bin?x=1"), Path::new("b.bin"));
        assert_eq!(default_name("http://h/"), Path::new("index.html"));
        assert_eq!(default_name("http://h"), Path::new("index.html"));
        assert_eq!(default_name("http://h/a/.."), Path::new("index.html"));
    }

    #[test]
    fn output_appears_only_when_finished() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("page.html");
        let mut download = Download::create(&out).unwrap();
        assert!(download.write(b"hello "));
        assert!(download.write(b"world"));
        assert!(!out.exists(), "no output before the body is complete");
        assert_eq!(download.finish().unwrap(), 11);
        assert_eq!(std::fs::read(&out).unwrap(), b"hello world");
        assert_eq!(
            std::fs::read_dir(dir.path()).unwrap().count(),
            1,
            "no leftovers"
        );
    }

    #[test]
    fn a_device_is_written_to_never_replaced() {
        let null = Path::new("/dev/null");
        let mut download = Download::create(null).unwrap();
        assert!(download.write(b"discarded"));
        assert_eq!(download.finish().unwrap(), 9);
        let meta = std::fs::metadata(null).unwrap();
        assert!(!meta.is_file(), "/dev/null is still a device");
        assert!(
            Download::create(Path::new("/tmp")).is_err(),
            "a directory is refused"
        );
    }

    #[test]
    fn abandoned_download_leaves_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("page.html");
        let mut download = Download::create(&out).unwrap();
        assert!(download.write(b"partial"));
        drop(download);
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
    }
}
