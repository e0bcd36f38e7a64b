use heapless::Vec;

use crate::cipher_suites::CipherSuite;
use crate::crypto_engine::CryptoEngine;
use crate::extensions::extension_data::key_share::KeyShareEntry;
use crate::extensions::extension_data::supported_versions::TLS13;
use crate::extensions::messages::{HelloRetryRequestExtension, ServerHelloExtension};
use crate::parse_buffer::ParseBuffer;
use crate::{TlsError, unused};
use p256::PublicKey;
use p256::ecdh::EphemeralSecret;

// tcplink patch: the random of a HelloRetryRequest, SHA-256("HelloRetryRequest")
// (RFC 8446 §4.1.3).
const HELLO_RETRY_REQUEST: [u8; 32] = [
    0xCF, 0x21, 0xAD, 0x74, 0xE5, 0x9A, 0x61, 0x11, 0xBE, 0x1D, 0x8C, 0x02, 0x1E, 0x65, 0xB8, 0x91,
    0xC2, 0xA2, 0x11, 0x16, 0x7A, 0xBB, 0x8C, 0x5E, 0x07, 0x9E, 0x09, 0xE2, 0xC8, 0xA8, 0x33, 0x9C,
];

#[derive(Debug)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct ServerHello<'a> {
    extensions: Vec<ServerHelloExtension<'a>, 4>,
    // tcplink patch: `Some` when this ServerHello is a HelloRetryRequest.
    pub(crate) retry: Option<HelloRetryRequest<'a>>,
}

/// tcplink patch: what a `HelloRetryRequest` asks of the second `ClientHello` (RFC 8446 §4.1.4).
#[derive(Debug)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct HelloRetryRequest<'a> {
    /// The cipher suite it selects (the one the second `ServerHello` must select).
    pub cipher_suite: u16,
    /// The group it wants a key share of, as sent.
    pub selected_group: Option<u16>,
    /// Whether its `supported_versions` selects TLS 1.3.
    pub tls13: bool,
    /// Its cookie extension's data (the length-prefixed cookie), to echo.
    pub cookie: Option<&'a [u8]>,
}

impl<'a> HelloRetryRequest<'a> {
    fn parse(buf: &mut ParseBuffer<'a>, cipher_suite: u16) -> Result<Self, TlsError> {
        let mut retry = Self {
            cipher_suite,
            selected_group: None,
            tls13: false,
            cookie: None,
        };
        let extensions: Vec<HelloRetryRequestExtension<'a>, 3> =
            HelloRetryRequestExtension::parse_vector(buf)?;
        for extension in extensions {
            match extension {
                HelloRetryRequestExtension::KeyShare(share) => {
                    retry.selected_group = Some(share.selected_group);
                }
                HelloRetryRequestExtension::Cookie(cookie) => retry.cookie = Some(cookie.data),
                HelloRetryRequestExtension::SupportedVersions(version) => {
                    retry.tls13 = version.selected_version == TLS13;
                }
            }
        }
        Ok(retry)
    }
}

impl<'a> ServerHello<'a> {
    pub fn parse(buf: &mut ParseBuffer<'a>) -> Result<ServerHello<'a>, TlsError> {
        //let mut buf = ParseBuffer::new(&buf[0..content_length]);
        //let mut buf = ParseBuffer::new(&buf);

        let _version = buf.read_u16().map_err(|_| TlsError::InvalidHandshake)?;

        let mut random = [0; 32];
        buf.fill(&mut random)?;

        let session_id_length = buf
            .read_u8()
            .map_err(|_| TlsError::InvalidSessionIdLength)?;

        //info!("sh 1");

        let session_id = buf
            .slice(session_id_length as usize)
            .map_err(|_| TlsError::InvalidSessionIdLength)?;
        //info!("sh 2");

        // tcplink patch: the code too, which a HelloRetryRequest's check compares.
        let suite_code = buf.read_u16().map_err(|_| TlsError::InvalidCipherSuite)?;
        let cipher_suite = CipherSuite::parse(&mut ParseBuffer::new(&suite_code.to_be_bytes()))
            .map_err(|_| TlsError::InvalidCipherSuite)?;

        ////info!("sh 3");
        // skip compression method, it's 0.
        buf.read_u8()?;

        // tcplink patch: a HelloRetryRequest's extensions differ (its key_share holds a
        // group alone, RFC 8446 §4.2.8).
        if random == HELLO_RETRY_REQUEST {
            let retry = HelloRetryRequest::parse(buf, suite_code)?;
            debug!("server HelloRetryRequest {:?}", retry);
            unused((session_id, cipher_suite));
            return Ok(Self {
                extensions: Vec::new(),
                retry: Some(retry),
            });
        }

        let extensions = ServerHelloExtension::parse_vector(buf)?;

        // debug!("server random {:x}", random);
        // debug!("server session-id {:x}", session_id.as_slice());
        debug!("server cipher_suite {:?}", cipher_suite);
        debug!("server extensions {:?}", extensions);

        unused(session_id);
        Ok(Self {
            extensions,
            retry: None,
        })
    }

    pub fn key_share(&self) -> Option<&KeyShareEntry<'_>> {
        self.extensions.iter().find_map(|e| {
            if let ServerHelloExtension::KeyShare(entry) = e {
                Some(&entry.0)
            } else {
                None
            }
        })
    }

    #[allow(dead_code)]
    pub fn initialize_crypto_engine(&self, secret: &EphemeralSecret) -> Option<CryptoEngine> {
        let server_key_share = self.key_share()?;

        let group = server_key_share.group;

        let server_public_key = PublicKey::from_sec1_bytes(server_key_share.opaque).ok()?;
        let shared = secret.diffie_hellman(&server_public_key);

        Some(CryptoEngine::new(group, shared))
    }
}
