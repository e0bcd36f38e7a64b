//! The bare-metal board ports (firmware/mps2-an385 with its LAN9118, firmware/lm3s6965evb
//! with the Stellaris Ethernet controller) under QEMU, attached to a TAP in a network
//! namespace: the seed's own client, `tcplink-host greet` and concurrent clients talk to the
//! emulated Cortex-M3, and an HTTP GET from the board reaches a server in the namespace, by
//! address or (mps2-an385, with DHCP and DNS from dnsmasq) by name, and (mps2-an385) over
//! HTTPS from nginx with a CA the test makes. Needs root (netns, TAP), `qemu-system-arm`, `dnsmasq`,
//! `nginx`, `openssl` and the thumbv7m-none-eabi target.
//!
//! Every wait is bounded: a board that does not answer fails the test with QEMU's output.

use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use tcplink_host::netns::{
    require_privileges, Namespace, DEVICE_IP, DEVICE_IP6, HOST_IP, HOST_IP6,
};
use tcplink_host::prereq::{require_programs, require_seed_script};

const QEMU: &str = "qemu-system-arm";
const PORT: u16 = 9999;
const TAP: &str = "tlbtap0";
/// How long the board may take from QEMU start to answering on port 9999.
const BOOT_DEADLINE: Duration = Duration::from_secs(60);
/// Upper bound on the life of QEMU and of each client, even if this process dies.
const QEMU_LIFETIME_S: &str = "600";
const CLIENT_TIMEOUT_S: &str = "30";
/// The seed client's transcript against the seed server.
const SEED_TRANSCRIPT: &str = "Welcome\nHello, Alice!\nHello, Bob!\nHello, Jack!\n";

/// A board port: where its firmware is, what its ELF is called, which QEMU machine runs it.
#[derive(Clone, Copy, Debug)]
enum Board {
    /// Arm MPS2 AN385, SMSC LAN9118.
    Mps2An385,
    /// TI Stellaris LM3S6965 evaluation board, the chip's own Ethernet controller.
    Lm3s6965evb,
}

impl Board {
    /// The firmware crate's directory name under firmware/, its binary's and QEMU's machine.
    fn name(self) -> &'static str {
        match self {
            Board::Mps2An385 => "mps2-an385",
            Board::Lm3s6965evb => "lm3s6965evb",
        }
    }

    fn dir(self) -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../firmware")
            .join(self.name())
    }

    fn elf(self) -> PathBuf {
        self.dir()
            .join("target/thumbv7m-none-eabi/release")
            .join(format!("tcplink-{}", self.name()))
    }

    /// The driver's name at the start of its log lines (`lan9118: up, MAC ...`).
    fn driver(self) -> &'static str {
        match self {
            Board::Mps2An385 => "lan9118",
            Board::Lm3s6965evb => "stellaris",
        }
    }
}

/// Root, iproute2, /dev/net/tun (the helper's check), QEMU, python3 (the probes and held
/// clients) and ping. Outside CI a missing piece skips the test; in CI (CI=true) it fails it.
fn can_run(test: &str) -> bool {
    require_privileges(test) && require_programs(test, &[QEMU, "python3", "timeout", "ping"])
}

/// The two firmware variants share one target directory, so a build and the copy of its ELF
/// happen under this lock.
static BUILD: Mutex<()> = Mutex::new(());

/// Builds the board firmware (with `TCPLINK_GET_URL` = `get_url`, or without it; with the
/// firmware's cargo `features`, e.g. `dhcp`, `ipv6`) and copies the ELF to `into`, so parallel
/// tests each boot their own variant.
fn build_firmware(get_url: Option<&str>, features: &[&str], into: &Path) -> PathBuf {
    build_firmware_env(get_url, features, &[], into)
}

/// [`build_firmware`] with build-time settings `env` (e.g. `TCPLINK_CA_DER`).
fn build_firmware_env(
    get_url: Option<&str>,
    features: &[&str],
    env: &[(&str, &Path)],
    into: &Path,
) -> PathBuf {
    build_board_firmware(Board::Mps2An385, get_url, features, env, into)
}

/// [`build_firmware_env`] for `board`.
fn build_board_firmware(
    board: Board,
    get_url: Option<&str>,
    features: &[&str],
    env: &[(&str, &Path)],
    into: &Path,
) -> PathBuf {
    let _lock = BUILD.lock().unwrap_or_else(|e| e.into_inner());
    let dir = board.dir();
    let mut cmd = Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()));
    cmd.args(["build", "--release", "--quiet"])
        .current_dir(&dir)
        // The firmware has its own target, flags and target dir (.cargo/config.toml): do
        // not let the host build's settings leak in.
        .env_remove("CARGO_TARGET_DIR")
        .env_remove("CARGO_BUILD_TARGET")
        .env_remove("RUSTFLAGS")
        .env_remove("CARGO_ENCODED_RUSTFLAGS");
    match get_url {
        // The GET client is a feature of the firmware; the URL says what it fetches.
        Some(url) => cmd.args(["--features", "get"]).env("TCPLINK_GET_URL", url),
        None => cmd.env_remove("TCPLINK_GET_URL"),
    };
    for feature in features {
        cmd.args(["--features", feature]);
    }
    cmd.env_remove("TCPLINK_CA_DER");
    for (name, value) in env {
        cmd.env(name, value);
    }
    let out = cmd.output().expect("run cargo for the firmware");
    assert!(
        out.status.success(),
        "firmware build failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let elf = board.elf();
    let copy = into.join("firmware.elf");
    std::fs::copy(&elf, &copy).unwrap_or_else(|e| panic!("copy {}: {e}", elf.display()));
    copy
}

/// A scratch directory, removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new(test: &str) -> TempDir {
        let path =
            std::env::temp_dir().join(format!("tcplink-board-{test}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&path);
        std::fs::create_dir_all(&path).unwrap();
        TempDir(path)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A process started in the namespace, with its stdout and stderr collected in the
/// background; stopped (SIGTERM, then SIGKILL) on drop.
struct Running {
    child: Child,
    output: Arc<Mutex<String>>,
}

impl Running {
    fn start(mut cmd: Command) -> Running {
        let mut child = cmd
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("start {cmd:?}: {e}"));
        let output = Arc::new(Mutex::new(String::new()));
        let stdout = child.stdout.take().expect("piped");
        let stderr = child.stderr.take().expect("piped");
        collect(stdout, Arc::clone(&output));
        collect(stderr, Arc::clone(&output));
        Running { child, output }
    }

    fn output(&self) -> String {
        self.output
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    fn exited(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(Some(_)))
    }

    /// Waits (bounded) until the output satisfies `done`; false on timeout or exit.
    fn wait_for(&mut self, deadline: Duration, done: impl Fn(&str) -> bool) -> bool {
        let start = Instant::now();
        loop {
            if done(&self.output()) {
                return true;
            }
            if start.elapsed() > deadline || self.exited() {
                // One last look: the output may have landed just before the exit.
                thread::sleep(Duration::from_millis(100));
                return done(&self.output());
            }
            thread::sleep(Duration::from_millis(50));
        }
    }
}

fn collect(mut from: impl Read + Send + 'static, into: Arc<Mutex<String>>) {
    thread::spawn(move || {
        let mut reader = BufReader::new(&mut from);
        let mut line = String::new();
        while reader.read_line(&mut line).is_ok_and(|n| n > 0) {
            into.lock()
                .unwrap_or_else(|e| e.into_inner())
                .push_str(&line);
            line.clear();
        }
    });
}

impl Drop for Running {
    fn drop(&mut self) {
        if self.exited() {
            return;
        }
        // SIGTERM lets `timeout` pass the signal on to its child; SIGKILL if that fails.
        let _ = Command::new("kill")
            .arg(self.child.id().to_string())
            .status();
        let start = Instant::now();
        while start.elapsed() < Duration::from_secs(5) {
            if self.exited() {
                return;
            }
            thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Boots the mps2-an385 firmware in `ns` with the LAN9118 on the namespace's TAP.
fn start_board(ns: &Namespace, elf: &Path) -> Running {
    start_board_with(ns, elf, &[])
}

/// [`start_board`] with more QEMU arguments (`qemu_args`).
fn start_board_with(ns: &Namespace, elf: &Path, qemu_args: &[&str]) -> Running {
    start_board_on(Board::Mps2An385, ns, elf, qemu_args)
}

/// Boots `board`'s firmware `elf` in `ns` with its Ethernet controller on the namespace's
/// TAP, with more QEMU arguments (`qemu_args`).
fn start_board_on(board: Board, ns: &Namespace, elf: &Path, qemu_args: &[&str]) -> Running {
    let mut cmd = ns.command("timeout");
    cmd.args([QEMU_LIFETIME_S, QEMU])
        .args(["-cpu", "cortex-m3", "-machine", board.name(), "-nographic"])
        .args(qemu_args)
        .args(["-semihosting-config", "enable=on,target=native"])
        .arg("-nic")
        .arg(format!("tap,ifname={},script=no,downscript=no", ns.tap()))
        .arg("-kernel")
        .arg(elf);
    Running::start(cmd)
}

/// Runs `cmd` (already bounded by `timeout`) to the end.
fn run(mut cmd: Command) -> Output {
    cmd.stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("run {cmd:?}: {e}"))
}

/// The seed's tcp_client.py (at `script`) against the board, from inside the namespace.
fn seed_session(ns: &Namespace, script: &Path) -> Command {
    let mut cmd = ns.command("timeout");
    cmd.args([CLIENT_TIMEOUT_S, "python3"])
        .arg(script)
        .arg(DEVICE_IP)
        .arg(PORT.to_string());
    cmd
}

/// `tcplink-host greet` (the seed's client in Rust, same transcript) against the board.
fn host_greet(ns: &Namespace, timeout_s: &str) -> Command {
    host_greet_at(ns, DEVICE_IP, timeout_s)
}

/// `tcplink-host greet` against the board at `ip`.
fn host_greet_at(ns: &Namespace, ip: &str, timeout_s: &str) -> Command {
    let mut cmd = ns.command("timeout");
    cmd.args([
        CLIENT_TIMEOUT_S,
        env!("CARGO_BIN_EXE_tcplink-host"),
        "greet",
    ])
    .arg(format!("{ip}:{PORT}"))
    .args(["--timeout-s", timeout_s]);
    cmd
}

/// Waits until the board has booted and answers a greeting session; panics with the board's
/// log if it does not within [`BOOT_DEADLINE`].
fn wait_until_serving(ns: &Namespace, board: &mut Running) {
    let start = Instant::now();
    let booted = board.wait_for(BOOT_DEADLINE, |log| log.contains("greeting: listening"));
    assert!(
        booted,
        "the board did not boot within {BOOT_DEADLINE:?}; QEMU output:\n{}",
        board.output()
    );
    let mut last = None;
    while start.elapsed() < BOOT_DEADLINE && !board.exited() {
        let out = run(host_greet(ns, "2"));
        if out.status.success() {
            return;
        }
        last = Some(out);
        thread::sleep(Duration::from_millis(200));
    }
    panic!(
        "the board did not answer on {DEVICE_IP}:{PORT} within {BOOT_DEADLINE:?}\n\
         last client attempt: {last:?}\nQEMU output:\n{}",
        board.output()
    );
}

/// `ping -c 3` from `ns` to the board at `addr` (`args`: `-6` for IPv6): every request is
/// answered.
fn ping_three(ns: &Namespace, board: &Running, args: &[&str], addr: &str) {
    let mut ping = ns.command("timeout");
    ping.args([CLIENT_TIMEOUT_S, "ping"])
        .args(args)
        .args(["-c", "3", "-i", "0.2", "-W", "2", addr]);
    let out = stdout_of(&run(ping), "ping", board);
    assert!(
        out.contains("3 packets transmitted, 3 received, 0% packet loss"),
        "{out}"
    );
}

fn stdout_of(out: &Output, what: &str, board: &Running) -> String {
    assert!(
        out.status.success(),
        "{what} failed: {out:?}\nQEMU output:\n{}",
        board.output()
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The client ports of the board's log lines `Accept new connection from HOST:PORT...` and
/// `Connection from HOST:PORT close.`, in order.
fn logged_ports(log: &str) -> (Vec<u16>, Vec<u16>) {
    let port = |rest: &str, end: &str| -> Option<u16> {
        rest.strip_prefix(&format!("{HOST_IP}:"))?
            .strip_suffix(end)?
            .parse()
            .ok()
    };
    let mut accepted = Vec::new();
    let mut closed = Vec::new();
    for line in log.lines().map(str::trim_end) {
        if let Some(p) = line
            .strip_prefix("Accept new connection from ")
            .and_then(|r| port(r, "..."))
        {
            accepted.push(p);
        } else if let Some(p) = line
            .strip_prefix("Connection from ")
            .and_then(|r| port(r, " close."))
        {
            closed.push(p);
        }
    }
    (accepted, closed)
}

/// Four connections held open at once are all served, and a fifth is refused at once.
const HOLD_FOUR: &str = r#"
import socket, sys, time
host, port = sys.argv[1], int(sys.argv[2])

def open_four():
    socks = []
    try:
        for i in range(4):
            socks.append(socket.create_connection((host, port), timeout=10))
        for s in socks:
            assert s.recv(1024) == b"Welcome"
        return socks
    except (ConnectionRefusedError, ConnectionResetError):
        # A socket of an earlier session may still be closing: try again shortly.
        for s in socks:
            s.close()
        return None

for attempt in range(20):
    socks = open_four()
    if socks:
        break
    time.sleep(1)
else:
    sys.exit("four connections were never served at once")
try:
    extra = socket.create_connection((host, port), timeout=10)
    extra.settimeout(3)
    got = extra.recv(1024)
    print("fifth:", "closed" if got == b"" else "served " + repr(got))
except (ConnectionRefusedError, ConnectionResetError):
    print("fifth: refused")
for i, s in enumerate(socks):
    s.send(b"client%d" % i)
    assert s.recv(1024) == b"Hello, client%d!" % i, i
for s in socks:
    s.send(b"exit")
    s.close()
print("four: ok")
"#;

#[test]
fn board_serves_the_seed_greeting_over_a_tap() {
    serves_the_seed_greeting(
        Board::Mps2An385,
        "board_serves_the_seed_greeting_over_a_tap",
    );
}

/// The LM3S6965 port and its Stellaris Ethernet driver: everything the mps2-an385 test
/// checks (transcript, ping, four clients at once and a fifth refused, the log lines, an
/// oversized frame dropped and counted).
#[test]
fn lm3s6965evb_serves_the_seed_greeting_over_a_tap() {
    serves_the_seed_greeting(
        Board::Lm3s6965evb,
        "lm3s6965evb_serves_the_seed_greeting_over_a_tap",
    );
}

/// `board`'s greeting build: the seed's transcript from `tcplink-host greet`, ping, four
/// concurrent clients, four held connections and a fifth refused, an accept and a close line
/// per session, and an oversized frame dropped, counted and survived.
fn serves_the_seed_greeting(which: Board, test: &str) {
    if !can_run(test) {
        return;
    }
    let scratch = TempDir::new(&format!("greet-{}", which.name()));
    let elf = build_board_firmware(which, None, &[], &[], &scratch.0);
    let ns = Namespace::create(
        &format!("tlboard-g{}-{}", which as u8, std::process::id()),
        TAP,
    )
    .expect("create the namespace");
    let mut board = start_board_on(which, &ns, &elf, &[]);
    wait_until_serving(&ns, &mut board);
    let log = board.output();
    assert!(
        log.contains(&format!("{}: up, MAC 02-00-00-69-00-02\n", which.driver())),
        "{log}"
    );

    // The seed's client in Rust (its transcript is the seed client's, checked against the
    // seed server in host/tests/greet.rs); the seed's own client: the next test.
    let out = run(host_greet(&ns, "10"));
    assert_eq!(
        stdout_of(&out, "tcplink-host greet", &board),
        SEED_TRANSCRIPT
    );

    // The interface answers ping (smoltcp's auto-icmp-echo-reply).
    ping_three(&ns, &board, &[], DEVICE_IP);

    // Four clients at once all succeed.
    let clients: Vec<Child> = (0..4)
        .map(|_| {
            host_greet(&ns, "10")
                .stdin(Stdio::null())
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .expect("start tcplink-host greet")
        })
        .collect();
    for client in clients {
        let out = client
            .wait_with_output()
            .expect("wait for tcplink-host greet");
        assert_eq!(stdout_of(&out, "concurrent greet", &board), SEED_TRANSCRIPT);
    }

    // Four connections open at the same time are served; the fifth is not left hanging.
    let mut hold = ns.command("timeout");
    hold.args([CLIENT_TIMEOUT_S, "python3", "-c", HOLD_FOUR, DEVICE_IP])
        .arg(PORT.to_string());
    let out = stdout_of(&run(hold), "four held connections", &board);
    assert!(out.contains("four: ok"), "{out}");
    assert!(out.contains("fifth: refused"), "{out}");

    // The board's log has the seed's lines, an accept and a close for every session:
    // the probe(s), greet, four concurrent ones and four held ones.
    let sessions = 1 + 1 + 4 + 4;
    let logged = board.wait_for(Duration::from_secs(10), |log| {
        let (accepted, closed) = logged_ports(log);
        closed.len() >= sessions && accepted.iter().all(|p| closed.contains(p))
    });
    let log = board.output();
    assert!(
        logged,
        "accept/close lines missing from the board's log:\n{log}"
    );
    let (accepted, closed) = logged_ports(&log);
    assert!(accepted.len() >= sessions, "{log}");
    for port in &closed {
        assert!(
            accepted.contains(port),
            "close without accept for {port}:\n{log}"
        );
    }

    // A frame larger than the driver's buffer (MTU raised on the host side) is dropped
    // and counted, and the board keeps serving.
    let out = run({
        let mut cmd = ns.command("ip");
        cmd.args(["link", "set", ns.tap(), "mtu", "2000"]);
        cmd
    });
    assert!(out.status.success(), "{out:?}");
    let mut big = ns.command("timeout");
    big.args([CLIENT_TIMEOUT_S, "python3", "-c"])
        .arg("import socket,sys; socket.socket(socket.AF_INET, socket.SOCK_DGRAM).sendto(b'x' * 1700, (sys.argv[1], 7))")
        .arg(DEVICE_IP);
    stdout_of(&run(big), "oversized datagram", &board);
    let counted = format!("{}: rx_frames=", which.driver());
    let dropped = board.wait_for(Duration::from_secs(10), |log| {
        log.lines()
            .any(|l| l.starts_with(&counted) && l.contains(" rx_dropped=1 "))
    });
    assert!(dropped, "oversized frame not counted:\n{}", board.output());
    let out = run(host_greet(&ns, "10"));
    assert_eq!(
        stdout_of(&out, "greet after the drop", &board),
        SEED_TRANSCRIPT
    );
    eprintln!("board log:\n{}", board.output());
}

/// The seed's own tcp_client.py, unchanged, gets the seed's transcript from the board, and the
/// board logs the seed server's lines for it. Needs the seed (`TCPLINK_SEED_DIR`).
#[test]
fn board_serves_the_seed_client_unchanged() {
    serves_the_seed_client(Board::Mps2An385, "board_serves_the_seed_client_unchanged");
}

/// The seed's own tcp_client.py against the LM3S6965 port.
#[test]
fn lm3s6965evb_serves_the_seed_client_unchanged() {
    serves_the_seed_client(
        Board::Lm3s6965evb,
        "lm3s6965evb_serves_the_seed_client_unchanged",
    );
}

fn serves_the_seed_client(which: Board, test: &str) {
    if !can_run(test) {
        return;
    }
    let Some(seed_client) = require_seed_script(test, "tcp_client.py") else {
        return;
    };
    let scratch = TempDir::new(&format!("seed-{}", which.name()));
    let elf = build_board_firmware(which, None, &[], &[], &scratch.0);
    let ns = Namespace::create(
        &format!("tlboard-s{}-{}", which as u8, std::process::id()),
        TAP,
    )
    .expect("create the namespace");
    let mut board = start_board_on(which, &ns, &elf, &[]);
    wait_until_serving(&ns, &mut board);

    let out = run(seed_session(&ns, &seed_client));
    assert_eq!(stdout_of(&out, "tcp_client.py", &board), SEED_TRANSCRIPT);
    // The probe's session and the seed client's: each accepted and closed.
    let logged = board.wait_for(Duration::from_secs(10), |log| {
        let (accepted, closed) = logged_ports(log);
        closed.len() >= 2 && accepted.iter().all(|p| closed.contains(p))
    });
    assert!(logged, "accept/close lines missing:\n{}", board.output());
}

/// The `ipv6` build: the board logs its IPv6 addresses, answers `ping` and `ping -6`, and
/// gives the seed's transcript over IPv6, logging the client as `[fd00:69::1]:PORT`; IPv4
/// goes on as before.
#[test]
fn board_speaks_ipv6() {
    speaks_ipv6(Board::Mps2An385, "board_speaks_ipv6");
}

/// The LM3S6965 port's `ipv6` build (its controller passing multicast): the same checks.
#[test]
fn lm3s6965evb_speaks_ipv6() {
    speaks_ipv6(Board::Lm3s6965evb, "lm3s6965evb_speaks_ipv6");
}

fn speaks_ipv6(which: Board, test: &str) {
    if !can_run(test) {
        return;
    }
    let scratch = TempDir::new(&format!("ipv6-{}", which.name()));
    let elf = build_board_firmware(which, None, &["ipv6"], &[], &scratch.0);
    let ns = Namespace::create(
        &format!("tlboard-6{}-{}", which as u8, std::process::id()),
        TAP,
    )
    .expect("create the namespace");
    let mut board = start_board_on(which, &ns, &elf, &[]);
    wait_until_serving(&ns, &mut board);
    let log = board.output();
    // Link-local from the MAC 02:00:00:69:00:02 (EUI-64), then the static address.
    assert!(
        log.contains("ipv6: fe80::ff:fe69:2/64\nipv6: fd00:69::2/64\n"),
        "{log}"
    );

    ping_three(&ns, &board, &["-6"], DEVICE_IP6);
    ping_three(&ns, &board, &[], DEVICE_IP);

    let out = run(host_greet_at(&ns, &format!("[{DEVICE_IP6}]"), "10"));
    assert_eq!(
        stdout_of(&out, "tcplink-host greet over IPv6", &board),
        SEED_TRANSCRIPT
    );
    let logged = board.wait_for(Duration::from_secs(10), |log| {
        log.contains(&format!("Connection from [{HOST_IP6}]:"))
    });
    assert!(logged, "no IPv6 close line:\n{}", board.output());
    let log = board.output();
    let accept = format!("Accept new connection from [{HOST_IP6}]:");
    let line = log
        .lines()
        .find(|l| l.starts_with(&accept))
        .unwrap_or_else(|| panic!("no IPv6 accept line:\n{log}"));
    let port: u16 = line[accept.len()..]
        .trim_end()
        .strip_suffix("...")
        .and_then(|p| p.parse().ok())
        .unwrap_or_else(|| panic!("{line}"));
    assert!(
        log.contains(&format!("Connection from [{HOST_IP6}]:{port} close.")),
        "{log}"
    );
    eprintln!("board log:\n{log}");
}

/// FNV-1a 64, the hash the board logs for a downloaded body.
fn fnv1a64(data: &[u8]) -> u64 {
    data.iter().fold(0xcbf2_9ce4_8422_2325, |h, &b| {
        (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

/// 200 KiB of varied bytes: many segments, several TCP windows.
fn test_body() -> Vec<u8> {
    let mut body = Vec::with_capacity(200 * 1024);
    let mut x: u32 = 0x1234_5678;
    while body.len() < 200 * 1024 {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        body.extend_from_slice(&x.to_le_bytes());
    }
    body
}

/// `tcplink-host serve-http` in `ns` on port 8000 with `body` as /blob.bin, once it accepts
/// connections.
fn serve_body(ns: &Namespace, scratch: &Path, body: &[u8]) -> Running {
    let root = scratch.join("www");
    std::fs::create_dir_all(&root).unwrap();
    std::fs::write(root.join("blob.bin"), body).unwrap();
    let mut server_cmd = ns.command("timeout");
    server_cmd
        .args([
            QEMU_LIFETIME_S,
            env!("CARGO_BIN_EXE_tcplink-host"),
            "serve-http",
        ])
        .arg("--root")
        .arg(&root)
        .args(["--listen", &format!("{HOST_IP}:8000")]);
    let mut server = Running::start(server_cmd);
    wait_accepting(ns, 8000, &mut server, "serve-http");
    server
}

/// Waits (bounded) until `server` accepts TCP connections on HOST_IP:`port`.
fn wait_accepting(ns: &Namespace, port: u16, server: &mut Running, what: &str) {
    let mut probe = ns.command("timeout");
    probe.args([CLIENT_TIMEOUT_S, "python3", "-c"]).arg(
        "import socket,sys,time\n\
         for _ in range(100):\n\
         \x20   try:\n\
         \x20       socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=1).close(); sys.exit(0)\n\
         \x20   except OSError: time.sleep(0.1)\n\
         sys.exit(1)",
    );
    probe.arg(HOST_IP).arg(port.to_string());
    let out = run(probe);
    assert!(
        out.status.success() && !server.exited(),
        "{what} did not come up: {out:?}\n{}",
        server.output()
    );
}

#[test]
fn board_downloads_a_file_over_http() {
    downloads_a_file_over_http(Board::Mps2An385, "board_downloads_a_file_over_http");
}

/// The LM3S6965 port's GET: the whole 200 KiB body through the Stellaris driver, whose
/// window is one frame (the chip's 2 KiB receive FIFO).
#[test]
fn lm3s6965evb_downloads_a_file_over_http() {
    downloads_a_file_over_http(Board::Lm3s6965evb, "lm3s6965evb_downloads_a_file_over_http");
}

/// `board` built with `--features get` GETs a 200 KiB file from `tcplink-host serve-http` in
/// the namespace: status 200, size and FNV-1a 64 hash in its log; it serves greetings after.
fn downloads_a_file_over_http(which: Board, test: &str) {
    if !can_run(test) {
        return;
    }
    let scratch = TempDir::new(&format!("get-{}", which.name()));
    let body = test_body();
    let url = format!("http://{HOST_IP}:8000/blob.bin");
    let elf = build_board_firmware(which, Some(&url), &[], &[], &scratch.0);

    let ns = Namespace::create(
        &format!("tlboard-h{}-{}", which as u8, std::process::id()),
        TAP,
    )
    .expect("create the namespace");
    let server = serve_body(&ns, &scratch.0, &body);

    let mut board = start_board_on(which, &ns, &elf, &[]);
    let started = Instant::now();
    let (log, want) = await_download(&mut board, &body, &[("serve-http", &server)]);
    // Boot to the end of the GET, wall clock (QEMU under the machine's load): the figure a
    // size change that may cost speed is compared by.
    eprintln!(
        "{} GET of {} bytes: {} ms from boot",
        which.name(),
        body.len(),
        started.elapsed().as_millis()
    );
    assert!(log.contains(&format!("GET {url}")), "{log}");
    assert!(log.contains("HTTP/1.1 200 OK"), "{log}");
    assert!(log.contains(&want), "want `{want}` in:\n{log}");
    // The greeting server runs alongside the client.
    wait_until_serving(&ns, &mut board);
    eprintln!("board log:\n{}", board.output());
}

/// Waits until the board's GET of `body` ends; panics with the board's and `peers`' output if
/// it does not within [`BOOT_DEADLINE`]. Returns the board's log and the line a good download
/// logs (`http: done, status 200, body N bytes, fnv1a64 H`).
fn await_download(
    board: &mut Running,
    body: &[u8],
    peers: &[(&str, &Running)],
) -> (String, String) {
    let want = format!(
        "http: done, status 200, body {} bytes, fnv1a64 {:016x}",
        body.len(),
        fnv1a64(body)
    );
    let finished = board.wait_for(BOOT_DEADLINE, |log| {
        log.contains("http: done") || log.contains("http: failed")
    });
    let log = board.output();
    if !finished {
        let peers: String = peers
            .iter()
            .map(|(name, peer)| format!("\n{name} output:\n{}", peer.output()))
            .collect();
        panic!(
            "the board did not finish the GET within {BOOT_DEADLINE:?}; QEMU output:\n{log}{peers}"
        );
    }
    (log, want)
}

/// The greeting + GET + DHCP + DNS build (the footprint table's largest): the board takes
/// its address and DNS server from dnsmasq, resolves the URL's name through it, downloads
/// the file intact, and serves the seed's greeting (tcplink-host greet) at the leased address.
#[test]
fn board_uses_dhcp_and_dns_from_dnsmasq() {
    let test = "board_uses_dhcp_and_dns_from_dnsmasq";
    if !can_run(test) || !require_programs(test, &["dnsmasq"]) {
        return;
    }
    let scratch = TempDir::new("dhcp");
    let body = test_body();
    let url = "http://files.test:8000/blob.bin";
    let elf = build_firmware(Some(url), &["dhcp"], &scratch.0);

    let ns = Namespace::create(&format!("tlboard-d-{}", std::process::id()), TAP)
        .expect("create the namespace");
    let server = serve_body(&ns, &scratch.0, &body);
    let mut dnsmasq_cmd = ns.command("timeout");
    dnsmasq_cmd
        .args([QEMU_LIFETIME_S, "dnsmasq", "--no-daemon"])
        .arg(format!("--interface={}", ns.tap()))
        .args([
            "--bind-interfaces",
            "--dhcp-range=192.168.69.50,192.168.69.60,12h",
            &format!("--address=/files.test/{HOST_IP}"),
            "--no-resolv",
            "--no-hosts",
            "--port=53",
            // Offer at once instead of pinging the address for 3 s first.
            "--no-ping",
        ])
        .arg(format!(
            "--pid-file={}",
            scratch.0.join("dnsmasq.pid").display()
        ))
        .arg(format!(
            "--dhcp-leasefile={}",
            scratch.0.join("leases").display()
        ));
    let mut dnsmasq = Running::start(dnsmasq_cmd);
    wait_accepting(&ns, 53, &mut dnsmasq, "dnsmasq");

    let mut board = start_board(&ns, &elf);
    let (log, want) = await_download(
        &mut board,
        &body,
        &[("serve-http", &server), ("dnsmasq", &dnsmasq)],
    );
    let lease = log
        .lines()
        .find(|l| l.starts_with("DHCP: address "))
        .unwrap_or_else(|| panic!("no lease in the board's log:\n{log}"));
    let address = lease["DHCP: address ".len()..]
        .split('/')
        .next()
        .unwrap()
        .to_string();
    assert!(address.starts_with("192.168.69."), "{lease}");
    let host: u8 = address["192.168.69.".len()..].parse().unwrap();
    assert!((50..=60).contains(&host), "{lease}");
    assert_eq!(
        &lease[lease.find('/').unwrap()..],
        format!("/24, gateway {HOST_IP}, DNS {HOST_IP}"),
        "{log}"
    );
    assert!(log.contains(&format!("GET {url}")), "{log}");
    assert!(
        log.contains(&format!("http: resolved to {HOST_IP}\n")),
        "{log}"
    );
    assert!(log.contains(&want), "want `{want}` in:\n{log}");
    // The greeting server answers at the leased address.
    let out = run(host_greet_at(&ns, &address, "5"));
    assert_eq!(
        stdout_of(&out, "tcplink-host greet at the leased address", &board),
        SEED_TRANSCRIPT
    );
    let served = board.wait_for(Duration::from_secs(10), |log| {
        log.contains(&format!("Connection from {HOST_IP}:"))
    });
    assert!(served, "no close line:\n{}", board.output());
    eprintln!("board log:\n{}", board.output());
}

/// nginx's HTTPS port on HOST_IP for the board's GET.
const HTTPS_PORT: u16 = 8443;

/// Runs `openssl` with `args` in `dir`; panics with its output if it fails.
fn openssl(dir: &Path, args: &[&str]) {
    let out = Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .stdin(Stdio::null())
        .output()
        .expect("run openssl");
    assert!(out.status.success(), "openssl {args:?}: {out:?}");
}

/// A self-signed ECDSA P-256 CA in `dir`: `NAME.key`, `NAME.pem` and `NAME.der` (what the
/// board's build takes as `TCPLINK_CA_DER`).
fn make_ca(dir: &Path, name: &str) -> PathBuf {
    let (key, pem, der) = (
        format!("{name}.key"),
        format!("{name}.pem"),
        format!("{name}.der"),
    );
    openssl(
        dir,
        &[
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-nodes",
            "-keyout",
            &key,
            "-out",
            &pem,
            "-days",
            "30",
            "-subj",
            &format!("/CN=tcplink board test {name}"),
            "-addext",
            "basicConstraints=critical,CA:TRUE",
            "-addext",
            "keyUsage=critical,keyCertSign,cRLSign",
        ],
    );
    openssl(dir, &["x509", "-in", &pem, "-outform", "der", "-out", &der]);
    dir.join(der)
}

/// An intermediate CA `NAME` in `dir` (`NAME.key`, `NAME.pem`), ECDSA P-256, issued by the CA
/// `ca` that [`make_ca`] made there.
fn make_intermediate(dir: &Path, name: &str, ca: &str) {
    let csr = format!("{name}.csr");
    new_p256_request(
        dir,
        &format!("{name}.key"),
        &csr,
        &format!("/CN=tcplink board test {name}"),
    );
    let ext = format!("{name}.ext");
    std::fs::write(
        dir.join(&ext),
        "basicConstraints=critical,CA:TRUE\nkeyUsage=critical,keyCertSign,cRLSign\n",
    )
    .unwrap();
    sign(dir, &csr, ca, &format!("{name}.pem"), &ext);
}

/// A new ECDSA P-256 key `key` and a certificate request `csr` for `subject`, in `dir`.
fn new_p256_request(dir: &Path, key: &str, csr: &str, subject: &str) {
    openssl(
        dir,
        &[
            "req",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-nodes",
            "-keyout",
            key,
            "-out",
            csr,
            "-subj",
            subject,
        ],
    );
}

/// Signs `csr` with the CA `ca` in `dir` into `out`, with the extensions in `ext`.
fn sign(dir: &Path, csr: &str, ca: &str, out: &str, ext: &str) {
    openssl(
        dir,
        &[
            "x509",
            "-req",
            "-in",
            csr,
            "-CA",
            &format!("{ca}.pem"),
            "-CAkey",
            &format!("{ca}.key"),
            "-CAcreateserial",
            "-days",
            "30",
            "-out",
            out,
            "-extfile",
            ext,
        ],
    );
}

/// `server.key` and `server.pem` in `dir`: an ECDSA P-256 certificate for HOST_IP (an IP
/// subjectAltName), issued by the CA `ca` that [`make_ca`] or [`make_intermediate`] made
/// there; `server.pem` holds the leaf, then the certificates of `above` (the chain nginx
/// sends).
fn make_server_cert(dir: &Path, ca: &str, above: &[&str]) {
    new_p256_request(dir, "server.key", "server.csr", &format!("/CN={HOST_IP}"));
    std::fs::write(
        dir.join("server.ext"),
        format!("subjectAltName=IP:{HOST_IP}\nbasicConstraints=CA:FALSE\n"),
    )
    .unwrap();
    sign(dir, "server.csr", ca, "server.pem", "server.ext");
    let mut chain = std::fs::read(dir.join("server.pem")).unwrap();
    for name in above {
        chain.extend(std::fs::read(dir.join(format!("{name}.pem"))).unwrap());
    }
    std::fs::write(dir.join("server.pem"), chain).unwrap();
}

/// nginx in `ns`, TLS 1.3 only on HOST_IP:HTTPS_PORT with `scratch`'s `server.pem`, serving
/// `body` as /blob.bin, once it accepts connections; `extra` adds directives to its server.
fn serve_https(ns: &Namespace, scratch: &Path, body: &[u8], extra: &str) -> Running {
    let prefix = scratch.join("nginx");
    let www = prefix.join("www");
    std::fs::create_dir_all(&www).unwrap();
    std::fs::write(www.join("blob.bin"), body).unwrap();
    let site = format!(
        "root {www};\n    ssl_certificate {dir}/server.pem;\n    \
         ssl_certificate_key {dir}/server.key;\n    ssl_protocols TLSv1.3;{extra}",
        www = www.display(),
        dir = scratch.display()
    );
    let listen = format!("{HOST_IP}:{HTTPS_PORT} ssl");
    let args = tcplink_host::nginx::prepare(&prefix, &[&listen], &site).unwrap();
    let mut cmd = ns.command("timeout");
    cmd.args([QEMU_LIFETIME_S, "nginx"]).args(args);
    let mut nginx = Running::start(cmd);
    wait_accepting(ns, HTTPS_PORT, &mut nginx, "nginx");
    nginx
}

/// The board built with `--features get,tls` GETs a 200 KiB file over TLS 1.3 from nginx,
/// verifying its certificate against the CA compiled in (`TCPLINK_CA_DER`) through a
/// three-level chain (root → intermediate → leaf; nginx sends leaf + intermediate, which the
/// board's max_fragment_length 512 makes span records, issue 25): nginx's exact
/// head, the size and FNV-1a 64 hash of the file, and the cost lines (longest poll, stack
/// high-water mark) are logged, and the greeting server keeps serving. Under
/// `-icount shift=0`, so the longest-poll figure is an instruction count. The same firmware
/// built with a CA that did not sign nginx's certificate refuses the server: the unknown-CA
/// line and no body. Last, against nginx taking P-256 only, the board answers the
/// HelloRetryRequest its X25519 key share draws (issue 25) and the file arrives intact.
#[test]
fn board_downloads_a_file_over_https() {
    let test = "board_downloads_a_file_over_https";
    if !can_run(test) || !require_programs(test, &["nginx", "openssl"]) {
        return;
    }
    let scratch = TempDir::new("https");
    let dir = &scratch.0;
    let ca = make_ca(dir, "ca");
    let other_ca = make_ca(dir, "other-ca");
    make_intermediate(dir, "intermediate", "ca");
    make_server_cert(dir, "intermediate", &["intermediate"]);
    let body = test_body();
    let url = format!("https://{HOST_IP}:{HTTPS_PORT}/blob.bin");
    let good_dir = dir.join("good");
    let wrong_dir = dir.join("wrong");
    std::fs::create_dir_all(&good_dir).unwrap();
    std::fs::create_dir_all(&wrong_dir).unwrap();
    let elf = build_firmware_env(Some(&url), &["tls"], &[("TCPLINK_CA_DER", &ca)], &good_dir);
    let wrong_elf = build_firmware_env(
        Some(&url),
        &["tls"],
        &[("TCPLINK_CA_DER", &other_ca)],
        &wrong_dir,
    );

    let ns = Namespace::create(&format!("tlboard-t-{}", std::process::id()), TAP)
        .expect("create the namespace");
    let nginx = serve_https(&ns, dir, &body, "");

    let mut board = start_board_with(&ns, &elf, &["-icount", "shift=0"]);
    let (log, want) = await_download(&mut board, &body, &[("nginx", &nginx)]);
    assert!(log.contains(&format!("GET {url}\n")), "{log}");
    assert!(
        log.contains(&format!("http: connected to {HOST_IP}:{HTTPS_PORT}\n")),
        "{log}"
    );
    // nginx's head, line by line; only the dates and the ETag vary.
    let server = format!(
        "Server: nginx/{}",
        tcplink_host::nginx::version().expect("nginx -v")
    );
    let length = format!("Content-Length: {}", body.len());
    let head: Vec<&str> = log
        .lines()
        .skip_while(|l| !l.starts_with("HTTP/"))
        .take_while(|l| !l.starts_with("http: "))
        .collect();
    let expected: [(&str, bool); 9] = [
        ("HTTP/1.1 200 OK", true),
        (&server, true),
        ("Date: ", false),
        ("Content-Type: application/octet-stream", true),
        (&length, true),
        ("Last-Modified: ", false),
        ("Connection: close", true),
        ("ETag: \"", false),
        ("Accept-Ranges: bytes", true),
    ];
    assert_eq!(head.len(), expected.len(), "head {head:?} in:\n{log}");
    for (line, (want_line, exact)) in head.iter().zip(expected) {
        if exact {
            assert_eq!(*line, want_line, "{log}");
        } else {
            assert!(line.starts_with(want_line), "{line:?} in:\n{log}");
        }
    }
    assert!(
        log.contains(&format!("{want}\n")),
        "want `{want}` in:\n{log}"
    );
    // What it cost, logged once the GET is done.
    let finished = board.wait_for(Duration::from_secs(10), |log| {
        log.contains("board: stack high-water mark ")
    });
    let log = board.output();
    assert!(finished, "no cost lines:\n{log}");
    let poll_ns: u64 = field(
        &log,
        "board: longest App::poll ",
        " ns (= instructions under qemu -icount shift=0)",
    );
    let stack_line = field::<String>(&log, "board: stack high-water mark ", " bytes");
    let (used, size) = stack_line.split_once(" of ").expect("`N of M`");
    let (used, size): (u64, u64) = (used.parse().unwrap(), size.parse().unwrap());
    // Certificate verification alone takes millions of instructions and ~25 KB of stack.
    assert!(poll_ns > 1_000_000, "{log}");
    assert!(used > 16 * 1024 && used < size, "{log}");
    // The greeting server runs alongside the client.
    wait_until_serving(&ns, &mut board);
    eprintln!("board log:\n{}", board.output());
    drop(board);

    // Built trusting another CA: the handshake is refused, no body arrives.
    let mut board = start_board(&ns, &wrong_elf);
    let (log, _) = await_download(&mut board, &body, &[("nginx", &nginx)]);
    assert!(
        log.contains("\nhttp: failed: TLS: certificate not issued by a trusted CA (unknown CA)\n"),
        "{log}"
    );
    assert!(!log.contains("HTTP/1.1"), "{log}");
    assert!(!log.contains("http: done"), "{log}");
    eprintln!("board log (other CA):\n{log}");
    drop(board);
    drop(nginx);

    // nginx taking P-256 only: the board's first ClientHello shares X25519 (offering P-256
    // too), so nginx answers with a HelloRetryRequest and the board's second ClientHello,
    // with a P-256 key share, completes the handshake; the file arrives intact.
    let nginx = serve_https(&ns, dir, &body, "\n    ssl_ecdh_curve prime256v1;");
    let mut board = start_board(&ns, &elf);
    let (log, want) = await_download(&mut board, &body, &[("nginx", &nginx)]);
    assert!(
        log.contains(&format!("{want}\n")),
        "want `{want}` in:\n{log}"
    );
    eprintln!("board log (P-256-only nginx):\n{log}");
}

/// The text between `prefix` and `suffix` on the log line that starts with `prefix`, parsed.
fn field<T: std::str::FromStr>(log: &str, prefix: &str, suffix: &str) -> T
where
    T::Err: std::fmt::Debug,
{
    let line = log
        .lines()
        .find(|l| l.starts_with(prefix))
        .unwrap_or_else(|| panic!("no `{prefix}` line in:\n{log}"));
    line[prefix.len()..]
        .strip_suffix(suffix)
        .unwrap_or_else(|| panic!("{line:?} does not end in {suffix:?}"))
        .parse()
        .unwrap()
}
