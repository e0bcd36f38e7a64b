//! What `https://` trusts on a host: CA certificates from a PEM file (`--cacert`, or the
//! system's store), the OS random source, and the system clock for validity dates.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::CertificateDer;
use tcplink::tls::Verify;

use crate::cli::TlsArgs;

/// The system's CA bundle (Debian's ca-certificates).
pub const SYSTEM_STORE: &str = "/etc/ssl/certs/ca-certificates.crt";

/// The trust anchors (DER), loaded once for the run (none: nothing is trusted).
#[derive(Default)]
pub struct Anchors {
    ders: Vec<Vec<u8>>,
    insecure: bool,
}

impl Anchors {
    /// The anchors `args` ask for: `--cacert FILE`, else the system store if present (a
    /// missing store only matters once an `https://` server must be verified). `--insecure`
    /// loads nothing and warns.
    pub fn load(args: &TlsArgs) -> Result<Self> {
        if args.insecure {
            eprintln!(
                "warning: --insecure: the server's certificate is NOT verified; anyone on the \
                 path can read and change this download"
            );
            return Ok(Self {
                ders: Vec::new(),
                insecure: true,
            });
        }
        let ders = match &args.cacert {
            Some(path) => {
                let ders = read_pem(path)?;
                if ders.is_empty() {
                    anyhow::bail!("{}: no PEM certificate in it", path.display());
                }
                ders
            }
            None if Path::new(SYSTEM_STORE).exists() => read_pem(&PathBuf::from(SYSTEM_STORE))?,
            None => Vec::new(),
        };
        Ok(Self {
            ders,
            insecure: false,
        })
    }

    /// The anchors as the core takes them, with `slices` as the backing list.
    pub fn verify<'a>(&'a self, slices: &'a mut Vec<&'a [u8]>) -> Verify<'a> {
        if self.insecure {
            return Verify::Insecure;
        }
        slices.extend(self.ders.iter().map(Vec::as_slice));
        Verify::Anchors {
            anchors: slices,
            clock: Some(unix_now),
            more: Some(&tcplink_rsa::Rsa),
        }
    }
}

/// Every certificate in a PEM file, DER.
fn read_pem(path: &Path) -> Result<Vec<Vec<u8>>> {
    let mut ders = Vec::new();
    for cert in CertificateDer::pem_file_iter(path)
        .with_context(|| format!("cannot read CA certificates from {}", path.display()))?
    {
        let cert = cert.with_context(|| format!("{}: bad PEM", path.display()))?;
        ders.push(cert.as_ref().to_vec());
    }
    Ok(ders)
}

/// The system clock, Unix seconds (for certificate validity).
fn unix_now() -> Option<u64> {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .ok()
        .map(|d| d.as_secs())
}
