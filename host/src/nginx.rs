//! nginx for tests and benchmarks: a config that keeps one foreground process and all of its
//! files (pid, logs, temporary files) under a prefix directory, so a run leaves nothing behind
//! and needs no system configuration.

use std::ffi::OsString;
use std::io;
use std::path::{Path, PathBuf};

/// Writes `PREFIX/nginx.conf` for one server listening on every `listen` (`IP:PORT`) with
/// `site` as its body (e.g. `root DIR;` or a `location`), creates `PREFIX/tmp`, and returns
/// the arguments that start nginx on it (`-p PREFIX -c CONF -e LOG`).
///
/// One process (no master, so no user switch), `daemon off;`, sendfile on, no access log.
pub fn prepare(prefix: &Path, listen: &[&str], site: &str) -> io::Result<Vec<OsString>> {
    std::fs::create_dir_all(prefix.join("tmp"))?;
    let p = prefix.display();
    let listen: String = listen
        .iter()
        .map(|l| format!("    listen {l};\n"))
        .collect();
    let conf = format!(
        "daemon off;\nmaster_process off;\nworker_processes 1;\npid {p}/nginx.pid;\n\
         error_log {p}/error.log warn;\nevents {{ worker_connections 64; }}\n\
         http {{\n  access_log off;\n  sendfile on;\n  tcp_nopush on;\n  \
         default_type application/octet-stream;\n  client_body_temp_path {p}/tmp;\n  \
         proxy_temp_path {p}/tmp;\n  fastcgi_temp_path {p}/tmp;\n  uwsgi_temp_path {p}/tmp;\n  \
         scgi_temp_path {p}/tmp;\n  server {{\n{listen}    {site}\n  }}\n}}\n"
    );
    let path = prefix.join("nginx.conf");
    std::fs::write(&path, conf)?;
    let log: PathBuf = prefix.join("error.log");
    Ok(vec![
        "-p".into(),
        prefix.into(),
        "-c".into(),
        path.into(),
        "-e".into(),
        log.into(),
    ])
}

/// The installed nginx's version (`nginx -v` says `nginx version: nginx/1.22.1` on stderr).
pub fn version() -> Option<String> {
    let out = std::process::Command::new("nginx")
        .arg("-v")
        .output()
        .ok()?;
    let text = String::from_utf8_lossy(&out.stderr);
    text.trim().rsplit_once('/').map(|(_, v)| v.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_keeps_everything_under_the_prefix() {
        let dir = std::env::temp_dir().join(format!("tcplink-nginx-conf-{}", std::process::id()));
        let args = prepare(&dir, &["10.0.0.1:80", "10.0.0.2:80"], "root /srv;").unwrap();
        assert_eq!(args[0], "-p");
        let conf = std::fs::read_to_string(dir.join("nginx.conf")).unwrap();
        let p = dir.display();
        assert!(
            conf.contains("daemon off;\nmaster_process off;\n"),
            "{conf}"
        );
        assert!(conf.contains(&format!("pid {p}/nginx.pid;")), "{conf}");
        assert!(
            conf.contains("    listen 10.0.0.1:80;\n    listen 10.0.0.2:80;\n    root /srv;\n"),
            "{conf}"
        );
        assert!(conf.contains("sendfile on;"), "{conf}");
        assert!(dir.join("tmp").is_dir());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
