//! The patched embedded-tls (third_party/) after a server KeyUpdate that asks for one back,
//! on the sides tcplink's GET never uses: it cannot send that KeyUpdate, so it must refuse
//! application data rather than send it under the old keys (RFC 8446 §4.6.3), and a split
//! reader, whose writer cannot know, refuses the KeyUpdate. Its blocking and async APIs (the
//! one tcplink uses) against a rustls server over loopback TCP.

use embedded_io::Read as _;
use std::future::Future;
use std::io::{Read as _, Write as _};
use std::net::{TcpListener, TcpStream};
use std::pin::pin;
use std::sync::Arc;
use std::task::{Context, Poll, Waker};
use std::thread;

use embedded_tls::blocking::{
    Aes128GcmSha256, TlsConfig, TlsConnection, TlsContext, TlsError, UnsecureProvider,
};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use tcplink_testkit::rand_chacha::{rand_core::SeedableRng, ChaCha20Rng};
use tcplink_testkit::Issuer;

/// A loopback TCP stream as embedded-tls's blocking byte stream; `Clone` for `split`.
#[derive(Clone)]
struct Stream(Arc<TcpStream>);

impl embedded_io::ErrorType for Stream {
    type Error = embedded_io::ErrorKind;
}

impl embedded_io::Read for Stream {
    fn read(&mut self, buf: &mut [u8]) -> Result<usize, Self::Error> {
        (&*self.0)
            .read(buf)
            .map_err(|_| embedded_io::ErrorKind::Other)
    }
}

impl embedded_io::Write for Stream {
    fn write(&mut self, buf: &[u8]) -> Result<usize, Self::Error> {
        (&*self.0)
            .write(buf)
            .map_err(|_| embedded_io::ErrorKind::Other)
    }
    fn flush(&mut self) -> Result<(), Self::Error> {
        Ok(())
    }
}

impl embedded_io_async::Read for Stream {
    async fn read(&mut self, buf: &mut [u8]) -> Result<usize, Self::Error> {
        embedded_io::Read::read(self, buf)
    }
}

impl embedded_io_async::Write for Stream {
    async fn write(&mut self, buf: &[u8]) -> Result<usize, Self::Error> {
        embedded_io::Write::write(self, buf)
    }
    async fn flush(&mut self) -> Result<(), Self::Error> {
        Ok(())
    }
}

/// Runs a future whose I/O blocks (never `Pending` for long) to its end.
fn block_on<F: Future>(future: F) -> F::Output {
    let mut future = pin!(future);
    let mut cx = Context::from_waker(Waker::noop());
    loop {
        if let Poll::Ready(output) = future.as_mut().poll(&mut cx) {
            return output;
        }
    }
}

/// A rustls server on a loopback port that reads `ping`, sends a KeyUpdate asking for one
/// back, then `after`, and waits for the client to go. Returns the port.
fn server() -> (u16, thread::JoinHandle<()>) {
    let ca = Issuer::root("tcplink test CA");
    let cert = ca.server(&["files.test"], &[]);
    let chain = cert.chain.into_iter().map(CertificateDer::from).collect();
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(cert.key_der));
    let config = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_protocol_versions(&[&rustls::version::TLS13])
    .expect("TLS 1.3")
    .with_no_client_auth()
    .with_single_cert(chain, key)
    .expect("server certificate");
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind loopback");
    let port = listener.local_addr().expect("address").port();
    let handle = thread::spawn(move || {
        let (socket, _) = listener.accept().expect("accept");
        let conn = rustls::ServerConnection::new(Arc::new(config)).expect("server");
        let mut tls = rustls::StreamOwned::new(conn, socket);
        let mut ping = [0u8; 4];
        tls.read_exact(&mut ping).expect("ping");
        assert_eq!(&ping, b"ping");
        tls.conn.refresh_traffic_keys().expect("key update");
        tls.write_all(b"after").expect("after");
        tls.flush().expect("flush");
        // Until the client closes (its reads may still be under way).
        let _ = tls.read(&mut [0u8; 64]);
    });
    (port, handle)
}

fn connect<'a>(
    port: u16,
    rx: &'a mut [u8],
    tx: &'a mut [u8],
) -> TlsConnection<'a, Stream, Aes128GcmSha256> {
    let socket = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    socket
        .set_read_timeout(Some(std::time::Duration::from_secs(10)))
        .expect("timeout");
    let mut tls = TlsConnection::new(Stream(Arc::new(socket)), rx, tx);
    let config = TlsConfig::new().with_server_name("files.test");
    // No verification: the certificates are not what this test is about.
    let provider = UnsecureProvider::new::<Aes128GcmSha256>(ChaCha20Rng::seed_from_u64(7));
    tls.open(TlsContext::new(&config, provider))
        .expect("handshake");
    tls.write(b"ping").expect("ping");
    tls.flush().expect("flush");
    tls
}

#[test]
fn after_a_key_update_that_asks_for_one_back_no_data_goes_out() {
    let (port, server) = server();
    let (mut rx, mut tx) = ([0u8; 16_640], [0u8; 1024]);
    let mut tls = connect(port, &mut rx, &mut tx);
    // The data after the KeyUpdate reads under the server's next keys.
    let mut buf = [0u8; 16];
    let n = tls.read(&mut buf).expect("read after the KeyUpdate");
    assert_eq!(&buf[..n], b"after");
    // Our own KeyUpdate is owed before any data: refused, not sent under the old keys.
    assert!(matches!(tls.write(b"x"), Err(TlsError::Unimplemented)));
    drop(tls);
    server.join().expect("server");
}

#[test]
fn a_split_reader_refuses_a_key_update_that_asks_for_one_back() {
    let (port, server) = server();
    let (mut rx, mut tx) = ([0u8; 16_640], [0u8; 1024]);
    let mut tls = connect(port, &mut rx, &mut tx);
    let (mut reader, writer) = tls.split();
    let mut buf = [0u8; 16];
    assert!(matches!(
        reader.read(&mut buf),
        Err(TlsError::Unimplemented)
    ));
    drop((reader, writer));
    drop(tls);
    server.join().expect("server");
}

fn connect_async<'a>(
    port: u16,
    rx: &'a mut [u8],
    tx: &'a mut [u8],
) -> embedded_tls::TlsConnection<'a, Stream, Aes128GcmSha256> {
    let socket = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    socket
        .set_read_timeout(Some(std::time::Duration::from_secs(10)))
        .expect("timeout");
    let mut tls = embedded_tls::TlsConnection::new(Stream(Arc::new(socket)), rx, tx);
    let config = TlsConfig::new().with_server_name("files.test");
    let provider = UnsecureProvider::new::<Aes128GcmSha256>(ChaCha20Rng::seed_from_u64(7));
    block_on(tls.open(TlsContext::new(&config, provider))).expect("handshake");
    block_on(tls.write(b"ping")).expect("ping");
    block_on(tls.flush()).expect("flush");
    tls
}

#[test]
fn async_after_a_key_update_that_asks_for_one_back_no_data_goes_out() {
    let (port, server) = server();
    let (mut rx, mut tx) = ([0u8; 16_640], [0u8; 1024]);
    let mut tls = connect_async(port, &mut rx, &mut tx);
    let mut buf = [0u8; 16];
    let n = block_on(tls.read(&mut buf)).expect("read after the KeyUpdate");
    assert_eq!(&buf[..n], b"after");
    assert!(matches!(
        block_on(tls.write(b"x")),
        Err(TlsError::Unimplemented)
    ));
    drop(tls);
    server.join().expect("server");
}

#[test]
fn async_split_reader_refuses_a_key_update_that_asks_for_one_back() {
    let (port, server) = server();
    let (mut rx, mut tx) = ([0u8; 16_640], [0u8; 1024]);
    let mut tls = connect_async(port, &mut rx, &mut tx);
    let (mut reader, writer) = tls.split();
    let mut buf = [0u8; 16];
    assert!(matches!(
        block_on(embedded_io_async::Read::read(&mut reader, &mut buf)),
        Err(TlsError::Unimplemented)
    ));
    drop((reader, writer));
    drop(tls);
    server.join().expect("server");
}
