//! `--io`: frames through io_uring (the default) or read(2)/write(2), and the fall-back to
//! read(2)/write(2), said once, where io_uring cannot be set up (here: a seccomp filter
//! refusing io_uring_setup, as container runtimes do).

mod common;

use std::os::unix::process::CommandExt;
use std::process::Command;

use common::*;

/// Serves one `tcplink-host greet` with `cmd` (a `tcplink-tap ... serve`): the transcript
/// and the seed's lines are exact. Returns everything on stderr.
fn greet_once(lab: &Lab, cmd: &mut Command) -> String {
    let mut server = Server::spawn(cmd);
    assert_eq!(server.next_line(), "Waiting for connection...");
    let out = lab.run(
        lab.cmd(host_bin())
            .args(["greet", &format!("{DEVICE_IP}:9999")]),
    );
    assert_eq!(success(&out), TRANSCRIPT);
    let (ip, port) = accepted(&server.next_line()).expect("an accept line");
    assert_eq!(closed(&server.next_line()), Some((ip, port)));
    server.stop()
}

/// Each mode says at -v which path the frames take, and serves; nothing is said without -v.
/// Each run opens the TAP right after the previous one exited: a ring's teardown leaves it
/// free at once (not still attached through the ring's references to the descriptor).
#[test]
fn each_mode_serves_and_names_its_path() {
    let Some(lab) = Lab::new("iomodes", &[]) else {
        return;
    };
    for (mode, path) in [
        ("uring", "frames through io_uring, one multishot read"),
        ("read-write", "frames through read(2)/write(2), poll(2)"),
    ] {
        let tap = |verbose: &[&str]| {
            let mut cmd = lab.cmd(TAP_BIN);
            cmd.args(["--io", mode])
                .args(STATIC_NET)
                .args(verbose)
                .arg("serve");
            cmd
        };
        let stderr = greet_once(&lab, &mut tap(&["-v"]));
        assert!(
            stderr.contains(&format!("TAP tap0: {path}")),
            "{mode}: {stderr}"
        );
        assert!(!stderr.contains("io_uring unavailable"), "{mode}: {stderr}");
        let stderr = greet_once(&lab, &mut tap(&[]));
        assert_eq!(stderr, "", "{mode}: nothing on stderr without -v");
    }
}

/// io_uring_setup refused (ENOSYS, as under a seccomp filter): the read/write loop serves,
/// and one line on stderr says so and why.
#[test]
fn without_io_uring_the_read_write_loop_serves_and_says_so_once() {
    let Some(lab) = Lab::new("nouring", &["python3"]) else {
        return;
    };
    let lab = lab.with_io("uring");
    let mut cmd = lab.tap(&STATIC_NET);
    cmd.arg("serve");
    refuse_io_uring(&mut cmd);
    let stderr = greet_once(&lab, &mut cmd);
    assert_eq!(stderr.lines().count(), 1, "one line: {stderr:?}");
    assert!(
        stderr.contains(
            "io_uring unavailable (io_uring_setup failed: Function not implemented \
             (os error 38)); TAP tap0 uses read(2)/write(2)"
        ),
        "{stderr:?}"
    );
    // A GET on the same fall-back: the whole file, byte for byte.
    let body = random_bytes(300_000);
    let _http = host_http(&lab, HOST_IP, 8000, &body);
    let out_dir = tempfile::tempdir().unwrap();
    let out_file = out_dir.path().join("file");
    let mut get = lab.tap(&STATIC_NET);
    get.args(["get", &format!("http://{HOST_IP}:8000/file"), "-o"])
        .arg(&out_file);
    refuse_io_uring(&mut get);
    let out = lab.run(&mut get);
    assert_saved(&success(&out), body.len(), &out_file, &sha256_hex(&body));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(
        stderr.matches("io_uring unavailable").count(),
        1,
        "{stderr}"
    );
}

/// Makes io_uring_setup fail with ENOSYS in the child (and what it executes: `ip netns exec`,
/// then tcplink-tap), through a seccomp filter installed between fork and exec.
fn refuse_io_uring(cmd: &mut Command) {
    const BPF_LD_W_ABS: u16 = 0x20;
    const BPF_JEQ_K: u16 = 0x15;
    const BPF_RET_K: u16 = 0x06;
    let rules = [
        // The system call number (seccomp_data.nr, offset 0).
        libc::sock_filter {
            code: BPF_LD_W_ABS,
            jt: 0,
            jf: 0,
            k: 0,
        },
        libc::sock_filter {
            code: BPF_JEQ_K,
            jt: 0,
            jf: 1,
            k: libc::SYS_io_uring_setup as u32,
        },
        libc::sock_filter {
            code: BPF_RET_K,
            jt: 0,
            jf: 0,
            k: libc::SECCOMP_RET_ERRNO | libc::ENOSYS as u32,
        },
        libc::sock_filter {
            code: BPF_RET_K,
            jt: 0,
            jf: 0,
            k: libc::SECCOMP_RET_ALLOW,
        },
    ];
    // SAFETY: the closure runs in the forked child before exec and makes only two prctl
    // calls (async-signal-safe) on memory it owns; `rules` is moved into it.
    unsafe {
        cmd.pre_exec(move || {
            let program = libc::sock_fprog {
                len: rules.len() as u16,
                filter: rules.as_ptr() as *mut libc::sock_filter,
            };
            if libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0
                || libc::prctl(
                    libc::PR_SET_SECCOMP,
                    libc::SECCOMP_MODE_FILTER,
                    &program as *const libc::sock_fprog,
                ) != 0
            {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
}
