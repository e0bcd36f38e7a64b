//! The stop signals on a real TAP in a test's own namespace: SIGHUP (terminal closed, ssh
//! dropped) and SIGQUIT end a run exactly as SIGTERM does.

mod common;

use common::*;

/// SIGHUP and SIGQUIT during a slow download end it as SIGTERM does: one line, status 1, no
/// temporary file, and the TAP's offloads switched off again.
#[test]
fn hangup_and_quit_stop_a_get_like_term() {
    let Some(lab) = Lab::new("getsig", &["python3", "ethtool"]) else {
        return;
    };
    let body = random_bytes(20_000);
    let (_server, _root) = paced_server(&lab, 8007, &body, 1_000, "0.3");
    for signal in ["TERM", "HUP", "QUIT"] {
        let out_dir = tempfile::tempdir().unwrap();
        let url = format!("http://{HOST_IP}:8007/file");
        let mut cmd = lab.tap(&STATIC_NET);
        cmd.args(["get", &url, "-o"])
            .arg(out_dir.path().join("out"));
        let mut get = Server::spawn(&mut cmd);
        assert_eq!(get.next_line(), "HTTP/1.1 200 OK");
        // The head is out and the body trickles: a temporary file exists now.
        assert_eq!(dir_names(out_dir.path()).len(), 1);
        let offload = success(&lab.run(lab.cmd("ethtool").args(["-k", "tap0"])));
        assert!(
            offload.contains("tcp-segmentation-offload: on"),
            "{offload}"
        );

        let (status, stderr) = get.signal(signal);
        assert_eq!(status.code(), Some(1), "SIG{signal}: {status} {stderr}");
        assert_eq!(
            stderr, "tcplink-tap: interrupted; nothing saved\n",
            "SIG{signal}"
        );
        assert_eq!(
            dir_names(out_dir.path()),
            Vec::<String>::new(),
            "SIG{signal}"
        );
        let offload = success(&lab.run(lab.cmd("ethtool").args(["-k", "tap0"])));
        assert!(
            offload.contains("tcp-segmentation-offload: off"),
            "SIG{signal}: {offload}"
        );
    }
}

/// `serve` stops on each of them with status 0 and nothing on stderr, offloads off.
#[test]
fn hangup_and_quit_stop_serve_like_term() {
    let Some(lab) = Lab::new("servesig", &["ethtool"]) else {
        return;
    };
    let addr = format!("{DEVICE_IP}:9999");
    for signal in ["TERM", "HUP", "QUIT"] {
        let mut server = lab.serve(&STATIC_NET, &[]);
        let out = lab.run(lab.cmd(host_bin()).args(["greet", &addr]));
        assert_eq!(success(&out), TRANSCRIPT);
        let (status, stderr) = server.signal(signal);
        assert_eq!(status.code(), Some(0), "SIG{signal}: {status} {stderr}");
        assert_eq!(stderr, "", "SIG{signal}");
        let offload = success(&lab.run(lab.cmd("ethtool").args(["-k", "tap0"])));
        assert!(
            offload.contains("tcp-segmentation-offload: off"),
            "SIG{signal}: {offload}"
        );
    }
}
