use crate::config::{TlsCipherSuite, TlsConfig};
use crate::handshake::{ClientHandshake, ServerHandshake};
use crate::key_schedule::{KeySchedule, ReadKeySchedule, WriteKeySchedule};
use crate::reassembly::Reassembly;
use crate::record::{ClientRecord, ServerRecord};
use crate::record_reader::RecordReader;
use crate::write_buffer::WriteBuffer;
use crate::{CertificateVerify, CryptoProvider, TlsError, TlsVerifier};
use crate::{
    alert::{Alert, AlertDescription, AlertLevel},
    handshake::{certificate::CertificateRef, certificate_request::CertificateRequest},
};
use core::fmt::Debug;
use digest::Digest;
use embedded_io::Error as _;
use embedded_io::{Read as BlockingRead, Write as BlockingWrite};
use embedded_io_async::{Read as AsyncRead, Write as AsyncWrite};

use crate::application_data::ApplicationData;
use crate::buffer::CryptoBuffer;
use crate::handshake::client_hello::ClientHello;
use crate::handshake::server_hello::HelloRetryRequest;
use crate::key_exchange::{KeyShareSecret, can_share};
use digest::generic_array::typenum::Unsigned;
use signature::SignerMut;

use crate::content_types::ContentType;
use crate::parse_buffer::ParseBuffer;
use aes_gcm::aead::{AeadCore, AeadInPlace, KeyInit};

pub(crate) fn decrypt_record<CipherSuite>(
    key_schedule: &mut ReadKeySchedule<CipherSuite>,
    record: ServerRecord<'_, CipherSuite>,
    cb: impl FnMut(
        &mut ReadKeySchedule<CipherSuite>,
        ServerRecord<'_, CipherSuite>,
    ) -> Result<(), TlsError>,
) -> Result<(), TlsError>
where
    CipherSuite: TlsCipherSuite,
{
    decrypt_record_with(key_schedule, record, None, cb)
}

/// tcplink patch: [`decrypt_record`], with handshake messages that span records gathered in
/// `reassembly` when there is one (the handshake, and an unsplit connection's reads);
/// without (a split `TlsReader`), the bound is 0: a split message is `HandshakeTooLarge`.
pub(crate) fn decrypt_record_with<CipherSuite>(
    key_schedule: &mut ReadKeySchedule<CipherSuite>,
    record: ServerRecord<'_, CipherSuite>,
    reassembly: Option<&mut Reassembly<'_>>,
    mut cb: impl FnMut(
        &mut ReadKeySchedule<CipherSuite>,
        ServerRecord<'_, CipherSuite>,
    ) -> Result<(), TlsError>,
) -> Result<(), TlsError>
where
    CipherSuite: TlsCipherSuite,
{
    if let ServerRecord::ApplicationData(ApplicationData {
        header,
        data: mut app_data,
    }) = record
    {
        let server_key = key_schedule.get_key()?;
        let nonce = key_schedule.get_nonce()?;

        let crypto = <CipherSuite::Cipher as KeyInit>::new(server_key);
        crypto
            .decrypt_in_place(&nonce, header.data(), &mut app_data)
            .map_err(|_| TlsError::CryptoError)?;

        let padding = app_data
            .as_slice()
            .iter()
            .enumerate()
            .rfind(|(_, b)| **b != 0);
        // tcplink patch: a plaintext without a non-zero octet (empty, or padding alone) has no
        // content type; the server's protocol error (RFC 8446 §5.4), not a panic.
        let Some((index, content_type)) = padding else {
            return Err(TlsError::InvalidRecord);
        };
        let content_type = *content_type;
        app_data.truncate(index + 1);

        let content_type = ContentType::of(content_type).ok_or(TlsError::InvalidRecord)?;

        trace!("Decrypting: content type = {:?}", content_type);

        // Remove the content type
        app_data.truncate(app_data.len() - 1);

        let mut buf = ParseBuffer::new(app_data.as_slice());
        // tcplink patch: a KeyUpdate changes the keys after its record (RFC 8446 §4.6.3).
        let mut key_update = None;
        let mut unbuffered = Reassembly::new(&mut []);
        let reassembly = reassembly.unwrap_or(&mut unbuffered);
        match content_type {
            // tcplink patch: messages may span records (coalesced ones are read in place);
            // without a buffer, the bound is 0 bytes.
            ContentType::Handshake => {
                reassembly.feed(app_data.as_slice(), &mut |message| {
                    // A KeyUpdate must end its record (RFC 8446 §5.1).
                    if key_update.is_some() {
                        return Err(TlsError::InvalidHandshake);
                    }
                    let mut message = ParseBuffer::new(message);
                    let inner =
                        ServerHandshake::read(&mut message, key_schedule.transcript_hash())?;
                    if let ServerHandshake::KeyUpdate(update) = &inner {
                        key_update = Some(update.update_requested);
                    }
                    cb(key_schedule, ServerRecord::Handshake(inner))
                })?;
                if key_update.is_some() && reassembly.is_pending() {
                    return Err(TlsError::InvalidHandshake);
                }
            }
            // tcplink patch: no other record may come between the parts of a handshake
            // message (RFC 8446 §5.1).
            _ if reassembly.is_pending() => return Err(TlsError::InvalidHandshake),
            ContentType::ApplicationData => {
                let inner = ApplicationData::new(app_data, header);
                cb(key_schedule, ServerRecord::ApplicationData(inner))?;
            }
            ContentType::Alert => {
                let alert = Alert::parse(&mut buf)?;
                cb(key_schedule, ServerRecord::Alert(alert))?;
            }
            _ => return Err(TlsError::Unimplemented),
        }
        key_schedule.increment_counter();
        if let Some(requested) = key_update {
            key_schedule.update_traffic_secret(requested)?;
        }
    } else {
        trace!("Not decrypting: content_type = {:?}", record.content_type());
        cb(key_schedule, record)?;
    }
    Ok(())
}

pub(crate) fn encrypt<CipherSuite>(
    key_schedule: &WriteKeySchedule<CipherSuite>,
    buf: &mut CryptoBuffer<'_>,
) -> Result<(), TlsError>
where
    CipherSuite: TlsCipherSuite,
{
    let client_key = key_schedule.get_key()?;
    let nonce = key_schedule.get_nonce()?;
    // trace!("encrypt key {:02x?}", client_key);
    // trace!("encrypt nonce {:02x?}", nonce);
    // trace!("plaintext {} {:02x?}", buf.len(), buf.as_slice(),);
    //let crypto = Aes128Gcm::new_varkey(&self.key_schedule.get_client_key()).unwrap();
    let crypto = <CipherSuite::Cipher as KeyInit>::new(client_key);
    let len = buf.len() + <CipherSuite::Cipher as AeadCore>::TagSize::to_usize();

    if len > buf.capacity() {
        return Err(TlsError::InsufficientSpace);
    }

    trace!("output size {}", len);
    let len_bytes = (len as u16).to_be_bytes();
    let additional_data = [
        ContentType::ApplicationData as u8,
        0x03,
        0x03,
        len_bytes[0],
        len_bytes[1],
    ];

    crypto
        .encrypt_in_place(&nonce, &additional_data, buf)
        .map_err(|_| TlsError::InvalidApplicationData)
}

pub struct Handshake<CipherSuite>
where
    CipherSuite: TlsCipherSuite,
{
    traffic_hash: Option<CipherSuite::Hash>,
    // tcplink patch: of the group of the last ClientHello's key share.
    secret: Option<KeyShareSecret>,
    certificate_request: Option<CertificateRequest>,
    // tcplink patch: the first ClientHello's random, which the second one repeats, and
    // whether the server has sent its (one allowed) HelloRetryRequest.
    random: [u8; 32],
    retried: bool,
}

impl<CipherSuite> Handshake<CipherSuite>
where
    CipherSuite: TlsCipherSuite,
{
    pub fn new() -> Handshake<CipherSuite> {
        Handshake {
            traffic_hash: None,
            secret: None,
            certificate_request: None,
            random: [0; 32],
            retried: false,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum State {
    ClientHello,
    ServerHello,
    ServerVerify,
    ClientCert,
    ClientCertVerify,
    ClientFinished,
    ApplicationData,
}

impl<'a> State {
    #[allow(clippy::too_many_arguments)]
    pub async fn process<'v, Transport, Provider>(
        self,
        transport: &mut Transport,
        handshake: &mut Handshake<Provider::CipherSuite>,
        record_reader: &mut RecordReader<'_>,
        tx_buf: &mut WriteBuffer<'_>,
        key_schedule: &mut KeySchedule<Provider::CipherSuite>,
        config: &TlsConfig<'a>,
        crypto_provider: &mut Provider,
    ) -> Result<State, TlsError>
    where
        Transport: AsyncRead + AsyncWrite + 'a,
        Provider: CryptoProvider,
    {
        match self {
            State::ClientHello => {
                let (state, tx) =
                    client_hello(key_schedule, config, crypto_provider, tx_buf, handshake)?;

                respond(tx, transport, key_schedule).await?;

                Ok(state)
            }
            State::ServerHello => {
                // tcplink patch: one read path for all records (a smaller build); the
                // plaintext ServerHello is not reassembled.
                let (record, _) = record_reader
                    .read_reassembling(transport, key_schedule.read_state())
                    .await?;

                // tcplink patch: a HelloRetryRequest is answered at once, while its cookie is
                // still in the record buffer.
                let result = process_server_hello(
                    handshake,
                    key_schedule,
                    config,
                    crypto_provider,
                    tx_buf,
                    record,
                );
                let result = match result {
                    Ok(ServerHelloOutcome::Retry(tx)) => {
                        respond(tx, transport, key_schedule).await?;
                        return Ok(State::ServerHello);
                    }
                    Ok(ServerHelloOutcome::Next(state)) => Ok(state),
                    Err(e) => Err(e),
                };

                handle_processing_error(result, transport, key_schedule, tx_buf).await
            }
            State::ServerVerify => {
                // tcplink patch: handshake messages may span records.
                let (record, reassembly) = record_reader
                    .read_reassembling(transport, key_schedule.read_state())
                    .await?;

                let result = process_server_verify(
                    handshake,
                    key_schedule,
                    crypto_provider,
                    record,
                    reassembly,
                );

                handle_processing_error(result, transport, key_schedule, tx_buf).await
            }
            State::ClientCert => {
                let (state, tx) = client_cert(handshake, key_schedule, crypto_provider, tx_buf)?;

                respond(tx, transport, key_schedule).await?;

                Ok(state)
            }
            State::ClientCertVerify => {
                let (result, tx) = client_cert_verify(key_schedule, crypto_provider, tx_buf)?;

                respond(tx, transport, key_schedule).await?;

                result
            }
            State::ClientFinished => {
                let tx = client_finished(key_schedule, tx_buf)?;

                respond(tx, transport, key_schedule).await?;

                client_finished_finalize(key_schedule, handshake)
            }
            State::ApplicationData => Ok(State::ApplicationData),
        }
    }

    #[allow(clippy::too_many_arguments)]
    pub fn process_blocking<'v, Transport, Provider>(
        self,
        transport: &mut Transport,
        handshake: &mut Handshake<Provider::CipherSuite>,
        record_reader: &mut RecordReader<'_>,
        tx_buf: &mut WriteBuffer,
        key_schedule: &mut KeySchedule<Provider::CipherSuite>,
        config: &TlsConfig<'a>,
        crypto_provider: &mut Provider,
    ) -> Result<State, TlsError>
    where
        Transport: BlockingRead + BlockingWrite + 'a,
        Provider: CryptoProvider,
    {
        match self {
            State::ClientHello => {
                let (state, tx) =
                    client_hello(key_schedule, config, crypto_provider, tx_buf, handshake)?;

                respond_blocking(tx, transport, key_schedule)?;

                Ok(state)
            }
            State::ServerHello => {
                let record = record_reader.read_blocking(transport, key_schedule.read_state())?;

                // tcplink patch: as in `process`.
                let result = process_server_hello(
                    handshake,
                    key_schedule,
                    config,
                    crypto_provider,
                    tx_buf,
                    record,
                );
                let result = match result {
                    Ok(ServerHelloOutcome::Retry(tx)) => {
                        respond_blocking(tx, transport, key_schedule)?;
                        return Ok(State::ServerHello);
                    }
                    Ok(ServerHelloOutcome::Next(state)) => Ok(state),
                    Err(e) => Err(e),
                };

                handle_processing_error_blocking(result, transport, key_schedule, tx_buf)
            }
            State::ServerVerify => {
                // tcplink patch: handshake messages may span records.
                let (record, reassembly) = record_reader
                    .read_reassembling_blocking(transport, key_schedule.read_state())?;

                let result = process_server_verify(
                    handshake,
                    key_schedule,
                    crypto_provider,
                    record,
                    reassembly,
                );

                handle_processing_error_blocking(result, transport, key_schedule, tx_buf)
            }
            State::ClientCert => {
                let (state, tx) = client_cert(handshake, key_schedule, crypto_provider, tx_buf)?;

                respond_blocking(tx, transport, key_schedule)?;

                Ok(state)
            }
            State::ClientCertVerify => {
                let (result, tx) = client_cert_verify(key_schedule, crypto_provider, tx_buf)?;

                respond_blocking(tx, transport, key_schedule)?;

                result
            }
            State::ClientFinished => {
                let tx = client_finished(key_schedule, tx_buf)?;

                respond_blocking(tx, transport, key_schedule)?;

                client_finished_finalize(key_schedule, handshake)
            }
            State::ApplicationData => Ok(State::ApplicationData),
        }
    }
}

fn handle_processing_error_blocking<CipherSuite>(
    result: Result<State, TlsError>,
    transport: &mut impl BlockingWrite,
    key_schedule: &mut KeySchedule<CipherSuite>,
    tx_buf: &mut WriteBuffer,
) -> Result<State, TlsError>
where
    CipherSuite: TlsCipherSuite,
{
    if let Some((level, description, encrypted)) = alert_to_send(result.as_ref()) {
        let (write_key_schedule, read_key_schedule) = key_schedule.as_split();
        let tx = tx_buf.write_record(
            &ClientRecord::Alert(Alert { level, description }, encrypted),
            write_key_schedule,
            Some(read_key_schedule),
        )?;

        respond_blocking(tx, transport, key_schedule)?;
    }

    result
}

/// tcplink patch: the alert a failed handshake step sends, and whether it goes encrypted. A
/// verifier's `AbortHandshake` comes after the `ServerHello`, so under the client's handshake
/// traffic key (RFC 8446 §5: an alert then is protected; OpenSSL refuses a plaintext one as
/// "wrong version number"); a refused `HelloRetryRequest` comes before any key, in plaintext.
fn alert_to_send(
    result: Result<&State, &TlsError>,
) -> Option<(AlertLevel, AlertDescription, bool)> {
    match result {
        Err(TlsError::AbortHandshake(level, description)) => Some((*level, *description, true)),
        Err(TlsError::BadHelloRetryRequest(description)) => {
            Some((AlertLevel::Fatal, *description, false))
        }
        _ => None,
    }
}

fn respond_blocking<CipherSuite>(
    tx: &[u8],
    transport: &mut impl BlockingWrite,
    key_schedule: &mut KeySchedule<CipherSuite>,
) -> Result<(), TlsError>
where
    CipherSuite: TlsCipherSuite,
{
    transport
        .write_all(tx)
        .map_err(|e| TlsError::Io(e.kind()))?;

    key_schedule.write_state().increment_counter();

    transport.flush().map_err(|e| TlsError::Io(e.kind()))?;

    Ok(())
}

async fn handle_processing_error<CipherSuite>(
    result: Result<State, TlsError>,
    transport: &mut impl AsyncWrite,
    key_schedule: &mut KeySchedule<CipherSuite>,
    tx_buf: &mut WriteBuffer<'_>,
) -> Result<State, TlsError>
where
    CipherSuite: TlsCipherSuite,
{
    if let Some((level, description, encrypted)) = alert_to_send(result.as_ref()) {
        let (write_key_schedule, read_key_schedule) = key_schedule.as_split();
        let tx = tx_buf.write_record(
            &ClientRecord::Alert(Alert { level, description }, encrypted),
            write_key_schedule,
            Some(read_key_schedule),
        )?;

        respond(tx, transport, key_schedule).await?;
    }

    result
}

async fn respond<CipherSuite>(
    tx: &[u8],
    transport: &mut impl AsyncWrite,
    key_schedule: &mut KeySchedule<CipherSuite>,
) -> Result<(), TlsError>
where
    CipherSuite: TlsCipherSuite,
{
    transport
        .write_all(tx)
        .await
        .map_err(|e| TlsError::Io(e.kind()))?;

    key_schedule.write_state().increment_counter();

    transport
        .flush()
        .await
        .map_err(|e| TlsError::Io(e.kind()))?;

    Ok(())
}

fn client_hello<'r, Provider>(
    key_schedule: &mut KeySchedule<Provider::CipherSuite>,
    config: &TlsConfig,
    crypto_provider: &mut Provider,
    tx_buf: &'r mut WriteBuffer,
    handshake: &mut Handshake<Provider::CipherSuite>,
) -> Result<(State, &'r [u8]), TlsError>
where
    Provider: CryptoProvider,
{
    key_schedule.initialize_early_secret(config.psk.as_ref().map(|p| p.0))?;
    let (write_key_schedule, read_key_schedule) = key_schedule.as_split();
    let client_hello = ClientRecord::client_hello(config, crypto_provider)?;
    let slice = tx_buf.write_record(&client_hello, write_key_schedule, Some(read_key_schedule))?;

    if let ClientRecord::Handshake(ClientHandshake::ClientHello(client_hello), _) = client_hello {
        handshake.random = client_hello.random;
        handshake.secret.replace(client_hello.secret);
        Ok((State::ServerHello, slice))
    } else {
        Err(TlsError::EncodeError)
    }
}

/// tcplink patch: what a `ServerHello` leads to: the next state, or (a `HelloRetryRequest`) the
/// second `ClientHello` to send, after which a `ServerHello` is read again.
enum ServerHelloOutcome<'r> {
    Next(State),
    Retry(&'r [u8]),
}

fn process_server_hello<'r, Provider>(
    handshake: &mut Handshake<Provider::CipherSuite>,
    key_schedule: &mut KeySchedule<Provider::CipherSuite>,
    config: &TlsConfig,
    crypto_provider: &mut Provider,
    tx_buf: &'r mut WriteBuffer,
    record: ServerRecord<'_, Provider::CipherSuite>,
) -> Result<ServerHelloOutcome<'r>, TlsError>
where
    Provider: CryptoProvider,
{
    match record {
        ServerRecord::Handshake(server_handshake) => match server_handshake {
            // tcplink patch: a HelloRetryRequest (RFC 8446 §4.1.4).
            ServerHandshake::ServerHello(server_hello) if server_hello.retry.is_some() => {
                let retry = server_hello
                    .retry
                    .as_ref()
                    .ok_or(TlsError::InvalidHandshake)?;
                let secret = handshake.secret.take().ok_or(TlsError::InvalidHandshake)?;
                let secret =
                    retry_secret::<Provider>(handshake, config, crypto_provider, retry, secret)?;
                let hello = ClientHello::retry(config, handshake.random, secret, retry.cookie);
                let record = ClientRecord::Handshake(ClientHandshake::ClientHello(hello), false);
                let (write_key_schedule, read_key_schedule) = key_schedule.as_split();
                let tx =
                    tx_buf.write_record(&record, write_key_schedule, Some(read_key_schedule))?;
                if let ClientRecord::Handshake(ClientHandshake::ClientHello(hello), _) = record {
                    handshake.secret.replace(hello.secret);
                }
                handshake.retried = true;
                Ok(ServerHelloOutcome::Retry(tx))
            }
            ServerHandshake::ServerHello(server_hello) => {
                trace!("********* ServerHello");
                let secret = handshake.secret.take().ok_or(TlsError::InvalidHandshake)?;
                // tcplink patch: of the group we sent a key share of (P-256 or X25519).
                let share = server_hello.key_share().ok_or(TlsError::InvalidKeyShare)?;
                let shared = secret.agree(share)?;
                key_schedule.initialize_handshake_secret(&shared)?;
                Ok(ServerHelloOutcome::Next(State::ServerVerify))
            }
            _ => Err(TlsError::InvalidHandshake),
        },
        // tcplink patch: a server in middlebox compatibility mode may send a
        // ChangeCipherSpec right after its HelloRetryRequest (RFC 8446 §D.4).
        ServerRecord::ChangeCipherSpec(_) if handshake.retried => {
            Ok(ServerHelloOutcome::Next(State::ServerHello))
        }
        ServerRecord::Alert(alert) => {
            Err(TlsError::HandshakeAborted(alert.level, alert.description))
        }
        _ => Err(TlsError::InvalidRecord),
    }
}

/// tcplink patch: checks a `HelloRetryRequest` (RFC 8446 §4.1.4) and gives the secret of the
/// second `ClientHello`'s key share: a new one of the group it selects, else `secret` again
/// (a cookie alone). Refusals are `TlsError::BadHelloRetryRequest` with the alert to send.
fn retry_secret<Provider>(
    handshake: &Handshake<Provider::CipherSuite>,
    config: &TlsConfig,
    crypto_provider: &mut Provider,
    retry: &HelloRetryRequest<'_>,
    secret: KeyShareSecret,
) -> Result<KeyShareSecret, TlsError>
where
    Provider: CryptoProvider,
{
    use crate::alert::AlertDescription::{IllegalParameter, UnexpectedMessage};
    if handshake.retried {
        warn!("A second HelloRetryRequest");
        return Err(TlsError::BadHelloRetryRequest(UnexpectedMessage));
    }
    if !retry.tls13 || retry.cipher_suite != <Provider::CipherSuite as TlsCipherSuite>::CODE_POINT {
        warn!("A HelloRetryRequest for another version or cipher suite");
        return Err(TlsError::BadHelloRetryRequest(IllegalParameter));
    }
    let Some(code) = retry.selected_group else {
        if retry.cookie.is_none() {
            warn!("A HelloRetryRequest that asks for no change");
            return Err(TlsError::BadHelloRetryRequest(IllegalParameter));
        }
        return Ok(secret);
    };
    let offered = config
        .named_groups
        .iter()
        .copied()
        .find(|group| group.as_u16() == code && can_share(*group));
    let Some(group) = offered else {
        warn!(
            "A HelloRetryRequest for a group we did not offer: {:04x}",
            code
        );
        return Err(TlsError::BadHelloRetryRequest(IllegalParameter));
    };
    if group == secret.group() {
        warn!("A HelloRetryRequest for the group we sent a key share of");
        return Err(TlsError::BadHelloRetryRequest(IllegalParameter));
    }
    KeyShareSecret::new(group, &mut crypto_provider.rng())
}

fn process_server_verify<Provider>(
    handshake: &mut Handshake<Provider::CipherSuite>,
    key_schedule: &mut KeySchedule<Provider::CipherSuite>,
    crypto_provider: &mut Provider,
    record: ServerRecord<'_, Provider::CipherSuite>,
    reassembly: &mut Reassembly<'_>,
) -> Result<State, TlsError>
where
    Provider: CryptoProvider,
{
    let mut state = State::ServerVerify;
    // tcplink patch: through the reassembly buffer.
    let (keys, gather) = (key_schedule.read_state(), Some(&mut *reassembly));
    decrypt_record_with(keys, record, gather, |key_schedule, record| {
        match record {
            ServerRecord::Handshake(server_handshake) => {
                match server_handshake {
                    ServerHandshake::EncryptedExtensions(_) => {}
                    ServerHandshake::Certificate(certificate) => {
                        let transcript = key_schedule.transcript_hash();
                        if let Ok(verifier) = crypto_provider.verifier() {
                            verifier.verify_certificate(transcript, certificate)?;
                            debug!("Certificate verified!");
                        } else {
                            debug!("Certificate verification skipped due to no verifier!");
                        }
                    }
                    ServerHandshake::CertificateVerify(verify) => {
                        if let Ok(verifier) = crypto_provider.verifier() {
                            verifier.verify_signature(verify)?;
                            debug!("Signature verified!");
                        } else {
                            debug!("Signature verification skipped due to no verifier!");
                        }
                    }
                    ServerHandshake::CertificateRequest(request) => {
                        handshake.certificate_request.replace(request.try_into()?);
                    }
                    ServerHandshake::Finished(finished) => {
                        if !key_schedule.verify_server_finished(&finished)? {
                            warn!("Server signature verification failed");
                            return Err(TlsError::InvalidSignature);
                        }

                        // trace!("server verified {}", verified);
                        state = if handshake.certificate_request.is_some() {
                            State::ClientCert
                        } else {
                            handshake
                                .traffic_hash
                                .replace(key_schedule.transcript_hash().clone());
                            State::ClientFinished
                        };
                    }
                    _ => return Err(TlsError::InvalidHandshake),
                }
            }
            ServerRecord::ChangeCipherSpec(_) => {}
            _ => return Err(TlsError::InvalidRecord),
        }

        Ok(())
    })?;
    // tcplink patch: the keys change after the server's Finished, so no message may
    // continue past it (RFC 8446 §5.1).
    if state != State::ServerVerify && reassembly.is_pending() {
        return Err(TlsError::InvalidHandshake);
    }
    Ok(state)
}

fn client_cert<'r, Provider>(
    handshake: &mut Handshake<Provider::CipherSuite>,
    key_schedule: &mut KeySchedule<Provider::CipherSuite>,
    crypto_provider: &mut Provider,
    buffer: &'r mut WriteBuffer,
) -> Result<(State, &'r [u8]), TlsError>
where
    Provider: CryptoProvider,
{
    handshake
        .traffic_hash
        .replace(key_schedule.transcript_hash().clone());

    let request_context = &handshake
        .certificate_request
        .as_ref()
        .ok_or(TlsError::InvalidHandshake)?
        .request_context;

    // Declare cert before certificate so owned data outlives the CertificateRef that borrows it
    let cert = crypto_provider.client_cert();
    let mut certificate = CertificateRef::with_context(request_context);
    let next_state = if let Some(ref cert) = cert {
        certificate.add(cert.into())?;
        State::ClientCertVerify
    } else {
        State::ClientFinished
    };
    let (write_key_schedule, read_key_schedule) = key_schedule.as_split();

    buffer
        .write_record(
            &ClientRecord::Handshake(ClientHandshake::ClientCert(certificate), true),
            write_key_schedule,
            Some(read_key_schedule),
        )
        .map(|slice| (next_state, slice))
}

fn client_cert_verify<'r, Provider>(
    key_schedule: &mut KeySchedule<Provider::CipherSuite>,
    crypto_provider: &mut Provider,
    buffer: &'r mut WriteBuffer,
) -> Result<(Result<State, TlsError>, &'r [u8]), TlsError>
where
    Provider: CryptoProvider,
{
    let (result, record) = match crypto_provider.signer() {
        Ok((mut signing_key, signature_scheme)) => {
            let ctx_str = b"TLS 1.3, client CertificateVerify\x00";

            // 64 (pad) + 34 (ctx) + 48 (SHA-384) = 146 bytes required
            let mut msg: heapless::Vec<u8, 146> = heapless::Vec::new();
            msg.resize(64, 0x20).map_err(|_| TlsError::EncodeError)?;
            msg.extend_from_slice(ctx_str)
                .map_err(|_| TlsError::EncodeError)?;
            msg.extend_from_slice(&key_schedule.transcript_hash().clone().finalize())
                .map_err(|_| TlsError::EncodeError)?;

            let signature = signing_key.sign(&msg);

            trace!(
                "Signature: {:?} ({})",
                signature.as_ref(),
                signature.as_ref().len()
            );

            let certificate_verify = CertificateVerify {
                signature_scheme,
                signature: heapless::Vec::from_slice(signature.as_ref()).unwrap(),
            };

            (
                Ok(State::ClientFinished),
                ClientRecord::Handshake(
                    ClientHandshake::ClientCertVerify(certificate_verify),
                    true,
                ),
            )
        }
        Err(e) => {
            error!("Failed to obtain signing key: {:?}", e);
            (
                Err(e),
                ClientRecord::Alert(
                    Alert::new(AlertLevel::Warning, AlertDescription::CloseNotify),
                    true,
                ),
            )
        }
    };

    let (write_key_schedule, read_key_schedule) = key_schedule.as_split();

    buffer
        .write_record(&record, write_key_schedule, Some(read_key_schedule))
        .map(|slice| (result, slice))
}

fn client_finished<'r, CipherSuite>(
    key_schedule: &mut KeySchedule<CipherSuite>,
    buffer: &'r mut WriteBuffer,
) -> Result<&'r [u8], TlsError>
where
    CipherSuite: TlsCipherSuite,
{
    let client_finished = key_schedule
        .create_client_finished()
        .map_err(|_| TlsError::InvalidHandshake)?;

    let (write_key_schedule, read_key_schedule) = key_schedule.as_split();

    buffer.write_record(
        &ClientRecord::Handshake(ClientHandshake::Finished(client_finished), true),
        write_key_schedule,
        Some(read_key_schedule),
    )
}

fn client_finished_finalize<CipherSuite>(
    key_schedule: &mut KeySchedule<CipherSuite>,
    handshake: &mut Handshake<CipherSuite>,
) -> Result<State, TlsError>
where
    CipherSuite: TlsCipherSuite,
{
    key_schedule.replace_transcript_hash(
        handshake
            .traffic_hash
            .take()
            .ok_or(TlsError::InvalidHandshake)?,
    );
    key_schedule.initialize_master_secret()?;

    Ok(State::ApplicationData)
}
