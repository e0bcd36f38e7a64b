//! tcplink patch: the AES-GCM each cipher suite uses.
//!
//! On CPUs with a carry-less multiply instruction (x86 and `x86_64` with PCLMULQDQ, `AArch64`
//! with PMULL) the record layer takes aes-gcm 0.11, whose GHASH (polyval 0.7) folds four
//! blocks into one reduction; aes-gcm 0.10's multiplies and reduces one block at a time, each
//! waiting on the last, and was most of a bulk download's CPU. Both detect the instructions
//! at run time and fall back to software. Every other target (the microcontrollers) keeps
//! aes-gcm 0.10 exactly as upstream, so their code and flash do not change.
//!
//! aes-gcm 0.11 speaks aead 0.6 (hybrid-array) and the crate is written against aead 0.5
//! (generic-array), so [`Aes128Gcm`] and [`Aes256Gcm`] there are thin wrappers that
//! implement aead 0.5's `KeyInit` and `AeadInPlace` by converting the key, nonce and tag.
//! The same type sizes (typenum) on both sides make every conversion total.

#[cfg(not(any(target_arch = "x86", target_arch = "x86_64", target_arch = "aarch64")))]
pub use aes_gcm::{Aes128Gcm, Aes256Gcm};

#[cfg(any(target_arch = "x86", target_arch = "x86_64", target_arch = "aarch64"))]
pub use wide::{Aes128Gcm, Aes256Gcm};

#[cfg(any(target_arch = "x86", target_arch = "x86_64", target_arch = "aarch64"))]
mod wide {
    use aes_gcm::aead::generic_array::{GenericArray, sequence::GenericSequence};
    use aes_gcm::aead::{AeadCore, AeadInPlace, Error, KeyInit, KeySizeUser};
    use aes_gcm_clmul::aead::array::Array;
    use aes_gcm_clmul::aead::{AeadInOut, KeyInit as _};
    use typenum::{U0, U12, U16, U32};

    macro_rules! wrap {
        ($name:ident, $key:ty, $doc:literal) => {
            #[doc = $doc]
            #[derive(Clone)]
            pub struct $name(aes_gcm_clmul::$name);

            impl KeySizeUser for $name {
                type KeySize = $key;
            }

            impl KeyInit for $name {
                fn new(key: &GenericArray<u8, $key>) -> Self {
                    Self(aes_gcm_clmul::$name::new(&Array::from_fn(|i| key[i])))
                }
            }

            impl AeadCore for $name {
                type NonceSize = U12;
                type TagSize = U16;
                type CiphertextOverhead = U0;
            }

            impl AeadInPlace for $name {
                fn encrypt_in_place_detached(
                    &self,
                    nonce: &GenericArray<u8, U12>,
                    associated_data: &[u8],
                    buffer: &mut [u8],
                ) -> Result<GenericArray<u8, U16>, Error> {
                    let nonce = Array::from_fn(|i| nonce[i]);
                    let tag = self
                        .0
                        .encrypt_inout_detached(&nonce, associated_data, buffer.into())
                        .map_err(|_| Error)?;
                    Ok(GenericArray::generate(|i| tag[i]))
                }

                fn decrypt_in_place_detached(
                    &self,
                    nonce: &GenericArray<u8, U12>,
                    associated_data: &[u8],
                    buffer: &mut [u8],
                    tag: &GenericArray<u8, U16>,
                ) -> Result<(), Error> {
                    let nonce = Array::from_fn(|i| nonce[i]);
                    let tag = Array::from_fn(|i| tag[i]);
                    self.0
                        .decrypt_inout_detached(&nonce, associated_data, buffer.into(), &tag)
                        .map_err(|_| Error)
                }
            }
        };
    }

    wrap!(
        Aes128Gcm,
        U16,
        "AES-128-GCM (aes-gcm 0.11) behind aead 0.5's traits."
    );
    wrap!(
        Aes256Gcm,
        U32,
        "AES-256-GCM (aes-gcm 0.11) behind aead 0.5's traits."
    );
}

#[cfg(test)]
mod tests {
    //! Each type against aes-gcm 0.10 (upstream's, and the microcontrollers') on the same
    //! inputs, and the NIST vectors' shape: the wrapper must be a drop-in replacement.
    use super::{Aes128Gcm, Aes256Gcm};
    use aes_gcm::aead::generic_array::GenericArray;
    use aes_gcm::aead::{AeadInPlace, KeyInit};
    use typenum::{U12, U16};

    fn pattern(seed: u8, len: usize) -> std::vec::Vec<u8> {
        (0..len)
            .map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed))
            .collect()
    }

    fn same_as_upstream<C, U>(key_len: usize)
    where
        C: KeyInit + AeadInPlace<NonceSize = U12, TagSize = U16>,
        U: KeyInit + AeadInPlace<NonceSize = U12, TagSize = U16>,
    {
        let key = pattern(7, key_len);
        let ours = C::new_from_slice(&key).unwrap();
        let upstream = U::new_from_slice(&key).unwrap();
        let nonce = GenericArray::clone_from_slice(&pattern(3, 12));
        let aad = [23, 3, 3, 0x40, 0x11];
        // Lengths around the four-block stride and a full 16 KiB record plus its type byte.
        for len in [0, 1, 15, 16, 17, 63, 64, 65, 127, 1000, 16_385] {
            let plain = pattern(len as u8, len);
            let mut a = plain.clone();
            let mut b = plain.clone();
            let tag_a = ours
                .encrypt_in_place_detached(&nonce, &aad, &mut a)
                .unwrap();
            let tag_b = upstream
                .encrypt_in_place_detached(&nonce, &aad, &mut b)
                .unwrap();
            assert_eq!(a, b, "ciphertext of {len} bytes");
            assert_eq!(tag_a.as_slice(), tag_b.as_slice(), "tag of {len} bytes");
            ours.decrypt_in_place_detached(&nonce, &aad, &mut a, &tag_a)
                .unwrap();
            assert_eq!(a, plain, "round trip of {len} bytes");
            if len > 0 {
                // A flipped bit anywhere fails authentication, and leaves an error only.
                let mut c = b.clone();
                c[len / 2] ^= 0x20;
                assert!(
                    ours.decrypt_in_place_detached(&nonce, &aad, &mut c, &tag_b)
                        .is_err()
                );
            }
            let mut bad_tag = tag_b;
            bad_tag[15] ^= 1;
            let mut c = b.clone();
            assert!(
                ours.decrypt_in_place_detached(&nonce, &aad, &mut c, &bad_tag)
                    .is_err()
            );
        }
    }

    #[test]
    fn aes_128_gcm_matches_upstream() {
        same_as_upstream::<Aes128Gcm, aes_gcm::Aes128Gcm>(16);
    }

    #[test]
    fn aes_256_gcm_matches_upstream() {
        same_as_upstream::<Aes256Gcm, aes_gcm::Aes256Gcm>(32);
    }

    #[test]
    fn aes_128_gcm_known_answer() {
        // NIST GCM test case 4 (McGrew and Viega, "The Galois/Counter Mode of Operation"):
        // 60 bytes of plaintext, 20 of associated data.
        let hex = |s: &str| -> std::vec::Vec<u8> {
            (0..s.len())
                .step_by(2)
                .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
                .collect()
        };
        let key = hex("feffe9928665731c6d6a8f9467308308");
        let nonce = hex("cafebabefacedbaddecaf888");
        let aad = hex("feedfacedeadbeeffeedfacedeadbeefabaddad2");
        let plain = hex(
            "d9313225f88406e5a55909c5aff5269a86a7a9531534f7da2e4c303d8a318a721c3c0c95956809532fcf0e2449a6b525b16aedf5aa0de657ba637b39",
        );
        let cipher = hex(
            "42831ec2217774244b7221b784d0d49ce3aa212f2c02a4e035c17e2329aca12e21d514b25466931c7d8f6a5aac84aa051ba30b396a0aac973d58e091",
        );
        let tag = hex("5bc94fbc3221a5db94fae95ae7121a47");
        let ours = Aes128Gcm::new_from_slice(&key).unwrap();
        let mut buf = plain.clone();
        let got = ours
            .encrypt_in_place_detached(GenericArray::from_slice(&nonce), &aad, &mut buf)
            .unwrap();
        assert_eq!(buf, cipher);
        assert_eq!(got.as_slice(), tag.as_slice());
    }
}
