//! The runner on a real embassy driver: embassy-net-tuntap's `TunTapDevice` on a TAP in a
//! network namespace this test creates, on embassy-executor's std executor and embassy-time.
//!
//! A TAP can only be opened from inside its namespace, so [`tap_session`] creates the
//! namespace and runs this same test binary in it, with only [`in_namespace`] selected:
//! there the device (runner task) and the host side (the seed's client, `ping`, `ip link`)
//! share the namespace. Needs root; outside CI it skips with the reason, under CI=true it
//! must run.

use std::fmt::Display;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, Receiver, Sender};
use std::sync::{Arc, Mutex};
use std::task::{Context, Waker};
use std::time::Duration;

use embassy_executor::Spawner;
use embassy_net_driver::{Capabilities, Driver, HardwareAddress, LinkState};
use embassy_net_tuntap::TunTapDevice;
use tcplink::dhcp::Dhcp;
use tcplink::greeting::{GreetingConfig, GreetingServer};
use tcplink::http::{BodySink, HttpClient, HttpConfig, HttpStorage, SinkError};
use tcplink::smoltcp::iface::SocketStorage;
use tcplink::smoltcp::wire::Ipv6Address;
use tcplink::{App, Handler, Stack, StackConfig, TcpBuffers};
use tcplink_embassy::{ethernet_address, with_device, Clock, EmbassyClock, Runner, Shared};
use tcplink_host::child::{run, ChildGuard};
use tcplink_host::netns::{require_privileges, Namespace, DEVICE_IP, DEVICE_IP6, HOST_IP};
use tcplink_host::nginx;
use tcplink_host::prereq::require_programs;

/// The seed client's exact output.
const TRANSCRIPT: &str = "Welcome\nHello, Alice!\nHello, Bob!\nHello, Jack!\n";
/// No single wait may take longer.
const DEADLINE: Duration = Duration::from_secs(20);
/// Set in the child's environment: the TAP to open.
const TAP_ENV: &str = "TCPLINK_EMBASSY_TAP";
/// Set in the child's environment: the directory the host's servers serve from.
const DIR_ENV: &str = "TCPLINK_EMBASSY_DIR";

#[test]
fn tap_session() {
    in_a_namespace(
        "embassy_tap_session",
        "in_namespace",
        &["ping"],
        |_, _| vec![],
    );
}

#[test]
fn dhcp_and_get_session() {
    in_a_namespace(
        "embassy_tap_dhcp_get",
        "dhcp_get_in_namespace",
        &["dnsmasq", "nginx"],
        servers,
    );
}

/// Creates a namespace with `tap0`, starts the host's servers there with `servers` (given
/// the namespace and a fresh directory), and runs test `child` of this binary in it; skips
/// (with the reason, or fails under CI=true) without privileges or one of `programs`. The
/// servers are this process's children, so they stop whatever the child does.
fn in_a_namespace(
    test: &str,
    child: &str,
    programs: &[&str],
    servers: impl FnOnce(&Namespace, &Path) -> Vec<ChildGuard>,
) {
    if !require_privileges(test) || !require_programs(test, programs) {
        return;
    }
    let name = format!("te-{}-{child}", std::process::id());
    let ns = Namespace::create(&name, "tap0")
        .unwrap_or_else(|e| panic!("cannot create namespace {name}: {e}"));
    let dir = std::env::temp_dir().join(&name);
    std::fs::create_dir_all(&dir).unwrap();
    let servers = servers(&ns, &dir);
    let exe = std::env::current_exe().expect("the test binary");
    let mut cmd = ns.command(exe);
    cmd.args(["--exact", child, "--ignored", "--nocapture"])
        .env(TAP_ENV, ns.tap())
        .env(DIR_ENV, &dir);
    let out = run(&mut cmd, Duration::from_secs(120));
    drop(servers);
    let _ = std::fs::remove_dir_all(&dir);
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    // The child's log, for `--nocapture`.
    println!("{stdout}");
    assert!(
        out.status.success(),
        "{child} in the namespace failed ({}):\n{stdout}\n{stderr}",
        out.status
    );
    // The child ran the test, not nothing.
    assert!(
        stdout.contains(&format!("test {child} ... ok")),
        "{child} did not run:\n{stdout}\n{stderr}"
    );
}

/// The device's console: each event as its log line, on stdout and to the test; and where
/// a GET's body goes.
struct Log {
    lines: Sender<String>,
    body: Arc<Mutex<Vec<u8>>>,
}

impl Log {
    /// A console, its lines as the test reads them, and the body's buffer.
    fn new() -> (Self, Receiver<String>, Arc<Mutex<Vec<u8>>>) {
        let (lines, rx) = mpsc::channel();
        let body = Arc::default();
        let log = Log {
            lines,
            body: Arc::clone(&body),
        };
        (log, rx, body)
    }
}

impl<E: Display> Handler<E> for Log {
    fn event(&mut self, event: E) {
        let line = event.to_string();
        println!("device: {line}");
        let _ = self.lines.send(line);
    }
}

impl BodySink for Log {
    fn body(&mut self, chunk: &[u8]) -> Result<(), SinkError> {
        self.body.lock().unwrap().extend_from_slice(chunk);
        Ok(())
    }
}

/// `TunTapDevice`, whose link is always up, with the link state a PHY would report: the
/// TAP's administrative state, watched from a thread that wakes the task on a change (the
/// PHY's interrupt). Writing to a TAP that is down fails, and embassy-net-tuntap panics on
/// that, so the runner must not send while it is down.
struct TapLink {
    tap: TunTapDevice,
    up: Arc<AtomicBool>,
    waker: Arc<Mutex<Option<Waker>>>,
}

impl TapLink {
    fn new(name: &str) -> Self {
        let tap = TunTapDevice::new(name).expect("open the TAP");
        let flags = format!("/sys/class/net/{name}/flags");
        let is_up = move || {
            let text = std::fs::read_to_string(&flags).expect("the TAP's flags");
            let flags = u32::from_str_radix(text.trim().trim_start_matches("0x"), 16).unwrap();
            flags & 1 != 0 // IFF_UP
        };
        let up = Arc::new(AtomicBool::new(is_up()));
        let waker: Arc<Mutex<Option<Waker>>> = Arc::default();
        let (watch_up, watch_waker) = (up.clone(), waker.clone());
        std::thread::spawn(move || loop {
            let now = is_up();
            if watch_up.swap(now, Ordering::SeqCst) != now {
                if let Some(waker) = watch_waker.lock().unwrap().take() {
                    waker.wake();
                }
            }
            std::thread::sleep(Duration::from_millis(10));
        });
        Self { tap, up, waker }
    }
}

impl Driver for TapLink {
    type RxToken<'a> = <TunTapDevice as Driver>::RxToken<'a>;
    type TxToken<'a> = <TunTapDevice as Driver>::TxToken<'a>;

    fn receive(&mut self, cx: &mut Context) -> Option<(Self::RxToken<'_>, Self::TxToken<'_>)> {
        self.tap.receive(cx)
    }

    fn transmit(&mut self, cx: &mut Context) -> Option<Self::TxToken<'_>> {
        self.tap.transmit(cx)
    }

    fn link_state(&mut self, cx: &mut Context) -> LinkState {
        *self.waker.lock().unwrap() = Some(cx.waker().clone());
        match self.up.load(Ordering::SeqCst) {
            true => LinkState::Up,
            false => LinkState::Down,
        }
    }

    fn capabilities(&self) -> Capabilities {
        self.tap.capabilities()
    }

    fn hardware_address(&self) -> HardwareAddress {
        self.tap.hardware_address()
    }
}

type Services = (GreetingServer<4>,);

#[embassy_executor::task]
async fn net_task(mut runner: Runner<'static, 'static, Services, TapLink, EmbassyClock, Log>) {
    runner.run().await
}

/// Starts the device on `tap`: the greeting server at 192.168.69.2 and fd00:69::2, run by
/// the runner on embassy's std executor in a thread of its own. Returns its log lines.
fn start_device(tap: &str) -> Receiver<String> {
    let (log, lines, _) = Log::new();
    let tap = tap.to_string();
    on_executor(move |spawner| {
        let runner = device(&tap, log);
        spawner.spawn(net_task(runner).expect("one net task"));
    });
    lines
}

/// Runs embassy's std executor on a thread of its own, its tasks spawned by `start`.
/// Everything the tasks borrow is made there: `Shared` is a `RefCell`, for tasks of one
/// executor.
fn on_executor(start: impl FnOnce(Spawner) + Send + 'static) {
    std::thread::spawn(move || {
        let executor = Box::leak(Box::new(embassy_executor::Executor::new()));
        executor.run(start);
    });
}

/// The device's runner on `tap`, reporting to `log`.
fn device(tap: &str, log: Log) -> Runner<'static, 'static, Services, TapLink, EmbassyClock, Log> {
    let mut driver = TapLink::new(tap);
    let slots = Box::leak(Box::new([SocketStorage::EMPTY; 6]));
    let buffers = Box::leak(Box::new([const { TcpBuffers::<1024, 256>::new() }; 4]));
    let mac = ethernet_address(&driver).expect("a TAP is Ethernet");
    let ip6: Ipv6Address = DEVICE_IP6.parse().unwrap();
    let ip: std::net::Ipv4Addr = DEVICE_IP.parse().unwrap();
    let config = StackConfig::new(mac, ip.octets(), 24)
        .with_ipv6(ip6, 64)
        .with_seed(u64::from(std::process::id()));
    let mut stack = with_device(&mut driver, |device| {
        Stack::new(&config, device, &mut slots[..], EmbassyClock.now())
    });
    let greeting = GreetingServer::new(GreetingConfig::default(), &mut stack, buffers);
    let app: &'static Shared<App<'static, Services>> =
        Box::leak(Box::new(Shared::new(App::new(stack, (greeting,)))));
    Runner::new(app, driver, EmbassyClock, log)
}

/// Waits for the device to log `want`, skipping other lines.
fn expect_line(lines: &Receiver<String>, want: &str) {
    loop {
        match lines.recv_timeout(DEADLINE) {
            Ok(line) if line == want => return,
            Ok(_) => {}
            Err(e) => panic!("the device never logged {want:?}: {e}"),
        }
    }
}

/// One greeting exchange: sends `name`, returns the reply.
fn ask(conn: &mut TcpStream, name: &str) -> String {
    conn.write_all(name.as_bytes()).expect("send a name");
    recv(conn)
}

fn recv(conn: &mut TcpStream) -> String {
    let mut buf = [0; 256];
    let n = conn.read(&mut buf).expect("a reply");
    String::from_utf8_lossy(&buf[..n]).into_owned()
}

fn ip(args: &[&str]) {
    let out = run(Command::new("ip").args(args), DEADLINE);
    assert!(out.status.success(), "ip {args:?}: {out:?}");
}

/// Takes `tap` down for `down`, and up again; waits for the device to log both.
fn bounce_link(tap: &str, lines: &Receiver<String>, down: Duration) {
    // Let the last ACKs settle, so the device is idle when its link goes (embassy-net-tuntap
    // panics on a frame the kernel refuses).
    std::thread::sleep(Duration::from_millis(300));
    ip(&["link", "set", tap, "down"]);
    expect_line(lines, "Link down");
    std::thread::sleep(down);
    ip(&["link", "set", tap, "up"]);
    expect_line(lines, "Link up");
}

fn ping(args: &[&str]) -> String {
    let out = run(Command::new("ping").args(args), DEADLINE);
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(out.status.success(), "ping {args:?}: {text}");
    text
}

#[test]
#[ignore = "run by tap_session inside the namespace it creates"]
fn in_namespace() {
    let tap = std::env::var(TAP_ENV).expect("started by tap_session");
    let lines = start_device(&tap);
    expect_line(&lines, "Link up");
    let server: SocketAddr = format!("{DEVICE_IP}:9999").parse().unwrap();

    // The seed's client, as tcplink-host runs it.
    let mut out = Vec::new();
    tcplink_host::greet(server, &["Alice", "Bob", "Jack"], DEADLINE, &mut out)
        .expect("the seed's session");
    assert_eq!(String::from_utf8(out).unwrap(), TRANSCRIPT);

    // Ping, both families (IPv6 first: a TAP taken down loses its IPv6 address).
    let v4 = ping(&["-c", "3", "-i", "0.2", "-W", "2", DEVICE_IP]);
    assert!(v4.contains("3 received"), "{v4}");
    let v6 = ping(&["-6", "-c", "3", "-i", "0.2", "-W", "2", DEVICE_IP6]);
    assert!(v6.contains("3 received"), "{v6}");

    // A session with the link taken down and up in the middle.
    let mut conn = TcpStream::connect_timeout(&server, DEADLINE).expect("connect");
    conn.set_read_timeout(Some(DEADLINE)).unwrap();
    let mut transcript = String::new();
    transcript += &(recv(&mut conn) + "\n");
    transcript += &(ask(&mut conn, "Alice") + "\n");
    bounce_link(&tap, &lines, Duration::from_secs(2));
    transcript += &(ask(&mut conn, "Bob") + "\n");
    transcript += &(ask(&mut conn, "Jack") + "\n");
    conn.write_all(b"exit").expect("send exit");
    let mut rest = Vec::new();
    conn.read_to_end(&mut rest).expect("the device closes");
    assert_eq!(transcript, TRANSCRIPT);
    assert!(rest.is_empty(), "nothing after the last reply: {rest:?}");

    // And the runner still serves afterwards.
    let v4 = ping(&["-c", "2", "-i", "0.2", "-W", "2", DEVICE_IP]);
    assert!(v4.contains("2 received"), "{v4}");
    let mut out = Vec::new();
    tcplink_host::greet(server, &["Alice", "Bob", "Jack"], DEADLINE, &mut out)
        .expect("a session after the link came back");
    assert_eq!(String::from_utf8(out).unwrap(), TRANSCRIPT);
}

/// The DHCP + GET device: no address until a lease, a GET client other tasks start.
type GetServices = (Dhcp, HttpClient);
type GetApp = Shared<App<'static, GetServices>>;

#[embassy_executor::task]
async fn get_net_task(
    mut runner: Runner<'static, 'static, GetServices, TapLink, EmbassyClock, Log>,
) {
    runner.run().await
}

/// Another task: starts a GET for each URL the test sends, through `Shared::with`.
#[embassy_executor::task]
async fn get_task(app: &'static GetApp, urls: Receiver<String>, log: Sender<String>) {
    loop {
        match urls.try_recv() {
            Ok(url) => {
                let started = app.with(|app| app.services_mut().1.get(&url, EmbassyClock.now()));
                if let Err(e) = started {
                    let _ = log.send(format!("cannot start the GET: {e}"));
                }
            }
            Err(mpsc::TryRecvError::Empty) => {}
            Err(mpsc::TryRecvError::Disconnected) => return,
        }
        embassy_time::Timer::after_millis(5).await;
    }
}

/// Starts the DHCP + GET device on `tap`; returns its log lines, the body buffer, and where
/// to send URLs to fetch.
fn start_get_device(tap: &str) -> (Receiver<String>, Arc<Mutex<Vec<u8>>>, Sender<String>) {
    let (log, lines, body) = Log::new();
    let (urls, url_rx) = mpsc::channel();
    let tap = tap.to_string();
    on_executor(move |spawner| {
        let mut driver = TapLink::new(&tap);
        let slots = Box::leak(Box::new([SocketStorage::EMPTY; 4]));
        let storage = Box::leak(Box::new(HttpStorage::<16384, 1024>::new()));
        let mac = ethernet_address(&driver).expect("a TAP is Ethernet");
        let config = StackConfig::unaddressed(mac).with_seed(u64::from(std::process::id()));
        let mut stack = with_device(&mut driver, |device| {
            Stack::new(&config, device, &mut slots[..], EmbassyClock.now())
        });
        let dhcp = Dhcp::new(&mut stack);
        let http = HttpClient::new(HttpConfig::default(), &mut stack, storage, &[]);
        let app: &'static GetApp = Box::leak(Box::new(Shared::new(App::new(stack, (dhcp, http)))));
        let task_log = log.lines.clone();
        let runner = Runner::new(app, driver, EmbassyClock, log).on_link_up(|app| {
            // Maybe another network: a fresh lease.
            let (stack, (dhcp, _)) = app.parts();
            dhcp.reset(stack);
        });
        spawner.spawn(get_net_task(runner).expect("one net task"));
        spawner.spawn(get_task(app, url_rx, task_log).expect("one GET task"));
    });
    (lines, body, urls)
}

/// Waits for a device line starting with `prefix`, skipping others; returns it.
fn expect_prefix(lines: &Receiver<String>, prefix: &str) -> String {
    loop {
        match lines.recv_timeout(DEADLINE) {
            Ok(line) if line.starts_with(prefix) => return line,
            Ok(_) => {}
            Err(e) => panic!("the device never logged {prefix:?}...: {e}"),
        }
    }
}

/// Waits until something accepts TCP connections on `addr`.
fn wait_listening(addr: &str) {
    let addr: SocketAddr = addr.parse().unwrap();
    let started = std::time::Instant::now();
    while TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_err() {
        assert!(started.elapsed() < DEADLINE, "nothing listens on {addr}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// GETs `url` through the device's GET task; returns the body.
fn fetch(
    lines: &Receiver<String>,
    body: &Mutex<Vec<u8>>,
    urls: &Sender<String>,
    url: &str,
) -> Vec<u8> {
    body.lock().unwrap().clear();
    urls.send(url.to_string()).unwrap();
    let done = expect_prefix(lines, "done: ");
    assert_eq!(done, format!("done: status 200, {SIZE} bytes"));
    std::mem::take(&mut *body.lock().unwrap())
}

/// Bytes of the file nginx serves.
const SIZE: usize = 5 * 1024 * 1024;

#[test]
#[ignore = "run by dhcp_and_get_session inside the namespace it creates"]
fn dhcp_get_in_namespace() {
    let tap = std::env::var(TAP_ENV).expect("started by dhcp_and_get_session");
    let dir = PathBuf::from(std::env::var_os(DIR_ENV).expect("started by dhcp_and_get_session"));
    let data = std::fs::read(dir.join("site/file")).expect("the file nginx serves");
    assert_eq!(data.len(), SIZE);
    wait_listening(&format!("{HOST_IP}:8000"));
    wait_listening(&format!("{HOST_IP}:53"));

    let (lines, body, urls) = start_get_device(&tap);
    expect_line(&lines, "Link up");
    let lease = expect_prefix(&lines, "DHCP: address ");
    assert!(lease.starts_with("DHCP: address 192.168.69."), "{lease}");
    assert!(
        lease.ends_with(", gateway 192.168.69.1, DNS 192.168.69.1"),
        "{lease}"
    );

    // A 5 MiB GET by name (DNS from the lease), started by another task.
    let url = "http://files.test:8000/file";
    let started = std::time::Instant::now();
    let got = fetch(&lines, &body, &urls, url);
    println!("5 MiB GET through the runner: {:?}", started.elapsed());
    assert!(got == data, "the body differs from the file");

    // Link down and up: a fresh lease, then the same GET again.
    bounce_link(&tap, &lines, Duration::from_secs(1));
    expect_line(&lines, "DHCP: lease lost");
    let again = expect_prefix(&lines, "DHCP: address ");
    assert!(again.starts_with("DHCP: address 192.168.69."), "{again}");
    let got = fetch(&lines, &body, &urls, url);
    assert!(got == data, "the second body differs from the file");
}

/// The host's servers of the DHCP + GET test, in `ns`: nginx on 192.168.69.1:8000 serving
/// `dir/site/file` (SIZE pseudo-random bytes), dnsmasq on the TAP (DHCP, and `files.test`).
fn servers(ns: &Namespace, dir: &Path) -> Vec<ChildGuard> {
    let site = dir.join("site");
    std::fs::create_dir_all(&site).unwrap();
    std::fs::write(site.join("file"), tcplink_testkit::pseudo_random(SIZE, 26)).unwrap();
    let listen = format!("{HOST_IP}:8000");
    let site = format!("root {};", site.display());
    let args = nginx::prepare(&dir.join("nginx"), &[&listen], &site).expect("nginx's config");
    let nginx = ChildGuard::spawn(ns.command("nginx").args(args));
    let dnsmasq = ChildGuard::spawn(
        ns.command("dnsmasq")
            .args(tcplink_host::dnsmasq::args(ns.tap(), dir))
            .stdout(Stdio::null())
            .stderr(Stdio::null()),
    );
    vec![nginx, dnsmasq]
}
