//! A static file server on tiny_http: fixed-length or chunked responses, streamed from disk.

use std::fs::File;
use std::io;
use std::net::SocketAddr;
use std::path::{Component, Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::{self, JoinHandle};
use std::time::Duration;

use tiny_http::{Header, Method, Request, Response, Server, StatusCode};

/// Why a request path does not map to a file under the root.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PathError {
    /// Malformed: not absolute, bad percent-escape, or a NUL byte (400).
    BadRequest,
    /// A `..` segment, or a path that resolves outside the root through a symlink (403).
    Forbidden,
    /// No such file (404).
    NotFound,
}

impl PathError {
    pub fn status(&self) -> u16 {
        match self {
            PathError::BadRequest => 400,
            PathError::Forbidden => 403,
            PathError::NotFound => 404,
        }
    }
}

/// Maps a request target (`/a/b.txt?x=1`) to a regular file under `root`.
///
/// `root` must be canonical. Any `..` segment is refused outright, before and after
/// percent-decoding, and the resolved path is checked to still lie under `root`, so neither
/// `/../x`, `/%2e%2e/x` nor a symlink can escape it. A directory serves its `index.html`.
pub fn resolve_path(root: &Path, target: &str) -> Result<PathBuf, PathError> {
    let path = target.split(['?', '#']).next().unwrap_or("");
    if !path.starts_with('/') {
        return Err(PathError::BadRequest);
    }
    let decoded = percent_decode(path).ok_or(PathError::BadRequest)?;
    let decoded = String::from_utf8(decoded).map_err(|_| PathError::BadRequest)?;
    if decoded.contains('\0') {
        return Err(PathError::BadRequest);
    }
    let mut full = root.to_path_buf();
    for segment in decoded.split('/') {
        match segment {
            "" | "." => {}
            ".." => return Err(PathError::Forbidden),
            s => {
                // A segment must be one plain name (e.g. no "a\\..", which Unix treats as a
                // name anyway, but be strict).
                let mut comps = Path::new(s).components();
                match (comps.next(), comps.next()) {
                    (Some(Component::Normal(_)), None) => full.push(s),
                    _ => return Err(PathError::Forbidden),
                }
            }
        }
    }
    let mut real = full.canonicalize().map_err(|_| PathError::NotFound)?;
    if !real.starts_with(root) {
        return Err(PathError::Forbidden);
    }
    if real.is_dir() {
        real = real.join("index.html");
    }
    if real.is_file() {
        Ok(real)
    } else {
        Err(PathError::NotFound)
    }
}

/// Decodes `%XX` escapes; `None` for a malformed escape.
fn percent_decode(s: &str) -> Option<Vec<u8>> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = bytes.get(i + 1..i + 3)?;
            let hex = std::str::from_utf8(hex).ok()?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    Some(out)
}

/// A Content-Type for common test-page extensions, so browsers and curl show them sensibly.
fn content_type(path: &Path) -> &'static str {
    match path.extension().and_then(|e| e.to_str()) {
        Some("html" | "htm") => "text/html; charset=utf-8",
        Some("txt") => "text/plain; charset=utf-8",
        Some("css") => "text/css",
        Some("js") => "text/javascript",
        Some("json") => "application/json",
        Some("png") => "image/png",
        Some("jpg" | "jpeg") => "image/jpeg",
        _ => "application/octet-stream",
    }
}

/// A bound static file server, not yet serving.
pub struct HttpServer {
    server: Arc<Server>,
    root: PathBuf,
    chunked: bool,
}

impl HttpServer {
    /// Binds `addr` and serves files under `root`. With `chunked`, responses carry no length so
    /// HTTP/1.1 clients get `Transfer-Encoding: chunked`; otherwise `Content-Length`.
    pub fn bind(addr: SocketAddr, root: &Path, chunked: bool) -> io::Result<HttpServer> {
        let root = root
            .canonicalize()
            .map_err(|e| io::Error::new(e.kind(), format!("root {}: {e}", root.display())))?;
        if !root.is_dir() {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("root {} is not a directory", root.display()),
            ));
        }
        let server = Server::http(addr).map_err(io::Error::other)?;
        Ok(HttpServer {
            server: Arc::new(server),
            root,
            chunked,
        })
    }

    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.server
            .server_addr()
            .to_ip()
            .ok_or_else(|| io::Error::other("not an IP listener"))
    }

    /// Serves forever, one thread per request so a large download does not hold up others.
    pub fn run(self) {
        self.serve(&AtomicBool::new(false));
    }

    /// Serves on a background thread until the handle is dropped.
    pub fn spawn(self) -> io::Result<HttpServerHandle> {
        let addr = self.local_addr()?;
        let server = Arc::clone(&self.server);
        let stop = Arc::new(AtomicBool::new(false));
        let flag = Arc::clone(&stop);
        let thread = thread::Builder::new()
            .name("http-accept".into())
            .spawn(move || self.serve(&flag))?;
        Ok(HttpServerHandle {
            addr,
            server,
            stop,
            thread: Some(thread),
        })
    }

    fn serve(self, stop: &AtomicBool) {
        let root = Arc::new(self.root);
        loop {
            // Not `incoming_requests()`: that iterator ends on the first accept error.
            let request = match self.server.recv() {
                Ok(r) => r,
                Err(_) if stop.load(Ordering::SeqCst) => return,
                Err(e) => {
                    eprintln!("accept failed: {e}");
                    thread::sleep(Duration::from_millis(10));
                    continue;
                }
            };
            let root = Arc::clone(&root);
            let chunked = self.chunked;
            let spawned = thread::Builder::new()
                .name("http-request".into())
                .spawn(move || respond(&root, chunked, request));
            if let Err(e) = spawned {
                eprintln!("cannot start a thread for a request: {e}");
            }
        }
    }
}

/// Stops the background server when dropped.
pub struct HttpServerHandle {
    addr: SocketAddr,
    server: Arc<Server>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl HttpServerHandle {
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }
}

impl Drop for HttpServerHandle {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        self.server.unblock();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn header(name: &str, value: &str) -> Header {
    Header::from_bytes(name.as_bytes(), value.as_bytes()).expect("valid header")
}

/// Answers one request and prints its log line to stderr.
fn respond(root: &Path, chunked: bool, request: Request) {
    let peer = request
        .remote_addr()
        .map_or_else(|| "-".to_string(), |a| a.to_string());
    let line = format!(
        "{} {} HTTP/{}",
        request.method(),
        request.url(),
        request.http_version()
    );
    let (status, bytes, result) = match request.method() {
        Method::Get | Method::Head => match open(root, request.url()) {
            Ok((file, len, kind)) => {
                let headers = vec![header("Content-Type", kind)];
                let response = if chunked {
                    Response::new(StatusCode(200), headers, file, None, None)
                } else {
                    let length = usize::try_from(len).ok();
                    // tiny_http switches to chunked above 32 KiB by default; a fixed-length
                    // server must never do that.
                    Response::new(StatusCode(200), headers, file, length, None)
                        .with_chunked_threshold(usize::MAX)
                };
                (200, len, request.respond(response))
            }
            Err(code) => (code, 0, request.respond(error_page(code))),
        },
        _ => {
            let response = error_page(405).with_header(header("Allow", "GET, HEAD"));
            (405, 0, request.respond(response))
        }
    };
    match result {
        Ok(()) => eprintln!("{peer} \"{line}\" {status} {bytes}"),
        Err(e) => eprintln!("{peer} \"{line}\" {status} {bytes} (send failed: {e})"),
    }
}

fn open(root: &Path, target: &str) -> Result<(File, u64, &'static str), u16> {
    let path = resolve_path(root, target).map_err(|e| e.status())?;
    let file = File::open(&path).map_err(|e| match e.kind() {
        io::ErrorKind::NotFound => 404u16,
        io::ErrorKind::PermissionDenied => 403,
        _ => 500,
    })?;
    let len = file.metadata().map_err(|_| 500u16)?.len();
    Ok((file, len, content_type(&path)))
}

fn error_page(code: u16) -> Response<io::Cursor<Vec<u8>>> {
    let reason = match code {
        400 => "Bad Request",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        _ => "Internal Server Error",
    };
    Response::from_string(format!("{code} {reason}\n"))
        .with_status_code(code)
        .with_header(header("Content-Type", "text/plain; charset=utf-8"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_stay_under_root() {
        let dir = std::env::temp_dir().join(format!("tcplink-host-paths-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("sub")).unwrap();
        std::fs::write(dir.join("sub/a.txt"), b"a").unwrap();
        std::fs::write(dir.join("index.html"), b"i").unwrap();
        let root = dir.canonicalize().unwrap();

        assert_eq!(
            resolve_path(&root, "/sub/a.txt?x=1"),
            Ok(root.join("sub/a.txt"))
        );
        assert_eq!(
            resolve_path(&root, "/sub/%61.txt"),
            Ok(root.join("sub/a.txt"))
        );
        assert_eq!(resolve_path(&root, "/"), Ok(root.join("index.html")));
        assert_eq!(resolve_path(&root, "/sub/"), Err(PathError::NotFound));
        assert_eq!(resolve_path(&root, "/nope"), Err(PathError::NotFound));
        assert_eq!(
            resolve_path(&root, "/../etc/passwd"),
            Err(PathError::Forbidden)
        );
        assert_eq!(
            resolve_path(&root, "/sub/../index.html"),
            Err(PathError::Forbidden)
        );
        assert_eq!(
            resolve_path(&root, "/%2e%2e/etc/passwd"),
            Err(PathError::Forbidden)
        );
        assert_eq!(resolve_path(&root, "/%zz"), Err(PathError::BadRequest));
        assert_eq!(resolve_path(&root, "/a%00"), Err(PathError::BadRequest));
        assert_eq!(resolve_path(&root, "sub/a.txt"), Err(PathError::BadRequest));

        let outside =
            std::env::temp_dir().join(format!("tcplink-host-outside-{}.txt", std::process::id()));
        std::fs::write(&outside, b"secret").unwrap();
        std::os::unix::fs::symlink(&outside, dir.join("escape")).unwrap();
        std::os::unix::fs::symlink(dir.join("sub/a.txt"), dir.join("inside")).unwrap();
        assert_eq!(resolve_path(&root, "/escape"), Err(PathError::Forbidden));
        assert_eq!(resolve_path(&root, "/inside"), Ok(root.join("sub/a.txt")));
        std::fs::remove_file(&outside).unwrap();
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
