//! tcplink patch (new file): the client's ephemeral key share, for the group it was made for.
//!
//! Upstream made one P-256 key pair, always. The `ClientHello` now carries one key share for
//! the first group of `TlsConfig::named_groups` (X25519 with the `x25519` feature and
//! `TlsConfig::with_x25519`, else P-256), and the second `ClientHello` after a
//! `HelloRetryRequest` one for the group the server asked for (RFC 8446 §4.1.4).

use p256::EncodedPoint;
use p256::ecdh::EphemeralSecret as P256Secret;
use rand_core::CryptoRngCore;

use crate::TlsError;
use crate::buffer::CryptoBuffer;
use crate::extensions::extension_data::key_share::KeyShareEntry;
use crate::extensions::extension_data::supported_groups::NamedGroup;

/// The groups this client can make a key share for.
pub(crate) fn can_share(group: NamedGroup) -> bool {
    match group {
        NamedGroup::Secp256r1 => true,
        #[cfg(feature = "x25519")]
        NamedGroup::X25519 => true,
        _ => false,
    }
}

/// One ephemeral secret, of one group.
pub(crate) enum KeyShareSecret {
    P256(P256Secret),
    #[cfg(feature = "x25519")]
    X25519(x25519_dalek::EphemeralSecret),
}

impl KeyShareSecret {
    /// A new secret for `group` (one that [`can_share`]).
    pub(crate) fn new(group: NamedGroup, rng: &mut impl CryptoRngCore) -> Result<Self, TlsError> {
        match group {
            NamedGroup::Secp256r1 => Ok(Self::P256(P256Secret::random(rng))),
            #[cfg(feature = "x25519")]
            NamedGroup::X25519 => Ok(Self::X25519(
                x25519_dalek::EphemeralSecret::random_from_rng(rng),
            )),
            _ => Err(TlsError::InvalidKeyShare),
        }
    }

    pub(crate) fn group(&self) -> NamedGroup {
        match self {
            Self::P256(_) => NamedGroup::Secp256r1,
            #[cfg(feature = "x25519")]
            Self::X25519(_) => NamedGroup::X25519,
        }
    }

    /// Encodes the `KeyShareEntry` of this secret's public key.
    pub(crate) fn encode_entry(&self, buf: &mut CryptoBuffer<'_>) -> Result<(), TlsError> {
        let group = self.group();
        match self {
            Self::P256(secret) => {
                let point = EncodedPoint::from(&secret.public_key());
                KeyShareEntry {
                    group,
                    opaque: point.as_ref(),
                }
                .encode(buf)
            }
            #[cfg(feature = "x25519")]
            Self::X25519(secret) => {
                let public = x25519_dalek::PublicKey::from(secret);
                KeyShareEntry {
                    group,
                    opaque: public.as_bytes(),
                }
                .encode(buf)
            }
        }
    }

    /// The shared secret with the server's `share`, which must be of this secret's group.
    pub(crate) fn agree(self, share: &KeyShareEntry<'_>) -> Result<[u8; 32], TlsError> {
        if share.group != self.group() {
            warn!("The server's key share is not of the group we sent");
            return Err(TlsError::InvalidKeyShare);
        }
        match self {
            Self::P256(secret) => {
                let public = p256::PublicKey::from_sec1_bytes(share.opaque)
                    .map_err(|_| TlsError::InvalidKeyShare)?;
                let shared = secret.diffie_hellman(&public);
                Ok((*shared.raw_secret_bytes()).into())
            }
            #[cfg(feature = "x25519")]
            Self::X25519(secret) => {
                let public: [u8; 32] = share
                    .opaque
                    .try_into()
                    .map_err(|_| TlsError::InvalidKeyShare)?;
                let shared = secret.diffie_hellman(&x25519_dalek::PublicKey::from(public));
                // RFC 8446 §7.4.2: an all-zero X25519 result (a small-order point) aborts.
                if !shared.was_contributory() {
                    return Err(TlsError::InvalidKeyShare);
                }
                Ok(shared.to_bytes())
            }
        }
    }
}
