//! A Linux TAP interface as a smoltcp [`Device`]: the only place this program touches frames.
//!
//! The descriptor is non-blocking, so `receive` never stalls the poll loop; the loop sleeps in
//! [`wait`] instead, on the TAP and any other descriptor (the shutdown pipe) at once.

use std::cell::RefCell;
use std::fmt;
use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd};
use std::path::Path;
use std::time::Duration;

use smoltcp::phy::{self, Device, DeviceCapabilities, Medium};
use smoltcp::time::Instant;
use tun_tap::{Iface, Mode};

/// The IP MTU when the interface's cannot be read: Ethernet's.
const DEFAULT_IP_MTU: usize = 1500;
/// Ethernet header before the IP packet.
const ETHERNET_HEADER: usize = 14;
/// Room for a VLAN tag too, so a tagged frame is read whole (and then ignored by smoltcp)
/// rather than truncated into a corrupt one.
const VLAN_TAG: usize = 4;

/// Why a TAP could not be opened, in terms a user can act on.
#[derive(Debug)]
pub enum OpenError {
    /// `/dev/net/tun` is missing: no TUN/TAP support in this kernel or container.
    NoTunDevice,
    /// Not root and no CAP_NET_ADMIN (or the TAP belongs to another user).
    PermissionDenied,
    /// The name exists but is not a TAP (a TUN, an Ethernet card, `lo`...).
    NotTap,
    /// Another process has the TAP open.
    Busy,
    /// Anything else the kernel said.
    Other(io::Error),
}

impl fmt::Display for OpenError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NoTunDevice => {
                f.write_str("/dev/net/tun does not exist (no TUN/TAP support; try `modprobe tun`)")
            }
            Self::PermissionDenied => {
                f.write_str("permission denied (run as root or with CAP_NET_ADMIN)")
            }
            Self::NotTap => f.write_str("the interface exists but is not a TAP"),
            Self::Busy => f.write_str("the TAP is already in use by another process"),
            Self::Other(e) => e.fmt(f),
        }
    }
}

impl std::error::Error for OpenError {}

impl OpenError {
    fn classify(e: io::Error) -> Self {
        match (e.kind(), e.raw_os_error()) {
            (io::ErrorKind::NotFound, _) => Self::NoTunDevice,
            (io::ErrorKind::PermissionDenied, _) => Self::PermissionDenied,
            (_, Some(libc::EINVAL)) => Self::NotTap,
            (_, Some(libc::EBUSY)) => Self::Busy,
            _ => Self::Other(e),
        }
    }
}

/// What woke [`wait`] up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ready {
    /// A frame (or an error) is waiting on the TAP.
    pub tap: bool,
    /// The other descriptor is readable.
    pub other: bool,
}

/// An open TAP interface, in Ethernet mode without packet information.
pub struct TapDevice {
    iface: Iface,
    /// Largest frame, from the interface's MTU.
    frame_mtu: usize,
    rx: Vec<u8>,
    tx: Vec<u8>,
    /// The first I/O error that `receive` could not return through smoltcp's API.
    error: RefCell<Option<io::Error>>,
}

impl TapDevice {
    /// Opens TAP `name`, creating it if it does not exist (a created TAP is down and has no
    /// address until the host configures it; see [`is_up`](Self::is_up)).
    ///
    /// Frames are as large as the interface's MTU allows: the host raises it with
    /// `ip link set NAME mtu 65521`, and then TCP carries up to 64 KiB per frame, so a bulk
    /// transfer needs 40 times fewer reads and writes (the cost that dominates on a TAP).
    pub fn open(name: &str) -> Result<Self, OpenError> {
        let iface = Iface::without_packet_info(name, Mode::Tap).map_err(OpenError::classify)?;
        iface
            .set_non_blocking()
            .map_err(|e| OpenError::Other(io::Error::new(e.kind(), format!("O_NONBLOCK: {e}"))))?;
        let frame_mtu = ETHERNET_HEADER + Self::ip_mtu(iface.name());
        Ok(Self {
            iface,
            frame_mtu,
            rx: vec![0; frame_mtu + VLAN_TAG],
            tx: vec![0; frame_mtu],
            error: RefCell::new(None),
        })
    }

    /// The interface's IP MTU (`/sys/class/net/NAME/mtu`), or Ethernet's if unreadable.
    fn ip_mtu(name: &str) -> usize {
        std::fs::read_to_string(Path::new("/sys/class/net").join(name).join("mtu"))
            .ok()
            .and_then(|mtu| mtu.trim().parse().ok())
            .unwrap_or(DEFAULT_IP_MTU)
    }

    /// Whether an interface called `name` exists (before opening it, to tell the user when
    /// opening created a new, unconfigured one).
    pub fn exists(name: &str) -> bool {
        Path::new("/sys/class/net").join(name).exists()
    }

    /// The interface name the kernel gave.
    pub fn name(&self) -> &str {
        self.iface.name()
    }

    /// Whether the host side has brought the link up (`ip link set NAME up`); frames written
    /// to a down TAP are refused by the kernel.
    pub fn is_up(&self) -> bool {
        let flags = Path::new("/sys/class/net")
            .join(self.iface.name())
            .join("flags");
        std::fs::read_to_string(flags)
            .ok()
            .and_then(|s| u32::from_str_radix(s.trim().trim_start_matches("0x"), 16).ok())
            .is_some_and(|flags| flags & libc::IFF_UP as u32 != 0)
    }

    /// The first fatal error met while receiving, if any (the TAP was deleted, ...).
    pub fn take_error(&self) -> Option<io::Error> {
        self.error.borrow_mut().take()
    }
}

impl AsFd for TapDevice {
    fn as_fd(&self) -> BorrowedFd<'_> {
        // SAFETY: the descriptor belongs to `self.iface`, which outlives the returned borrow.
        unsafe { BorrowedFd::borrow_raw(self.iface.as_raw_fd()) }
    }
}

impl Device for TapDevice {
    type RxToken<'a> = RxToken<'a>;
    type TxToken<'a> = TxToken<'a>;

    fn receive(&mut self, _timestamp: Instant) -> Option<(RxToken<'_>, TxToken<'_>)> {
        loop {
            match self.iface.recv(&mut self.rx) {
                Ok(len) => {
                    let rx = RxToken {
                        frame: &self.rx[..len],
                    };
                    let tx = TxToken {
                        iface: &self.iface,
                        buffer: &mut self.tx,
                    };
                    return Some((rx, tx));
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return None,
                Err(e) => {
                    self.error.borrow_mut().get_or_insert(e);
                    return None;
                }
            }
        }
    }

    fn transmit(&mut self, _timestamp: Instant) -> Option<TxToken<'_>> {
        Some(TxToken {
            iface: &self.iface,
            buffer: &mut self.tx,
        })
    }

    fn capabilities(&self) -> DeviceCapabilities {
        let mut caps = DeviceCapabilities::default();
        caps.medium = Medium::Ethernet;
        caps.max_transmission_unit = self.frame_mtu;
        caps
    }
}

/// A frame read from the TAP.
pub struct RxToken<'a> {
    frame: &'a [u8],
}

impl phy::RxToken for RxToken<'_> {
    fn consume<R, F: FnOnce(&[u8]) -> R>(self, f: F) -> R {
        f(self.frame)
    }
}

/// Room for one frame, written to the TAP when consumed.
pub struct TxToken<'a> {
    iface: &'a Iface,
    buffer: &'a mut Vec<u8>,
}

impl phy::TxToken for TxToken<'_> {
    fn consume<R, F: FnOnce(&mut [u8]) -> R>(self, len: usize, f: F) -> R {
        let len = len.min(self.buffer.len());
        let frame = &mut self.buffer[..len];
        let result = f(frame);
        // A NIC drops what it cannot send; TCP retransmits. The usual cause is a TAP whose
        // host side is down (EIO), which the user is told about at start.
        if let Err(e) = self.iface.send(frame) {
            log::warn!(
                "TAP {}: frame of {len} bytes dropped: {e}",
                self.iface.name()
            );
        }
        result
    }
}

/// Sleeps until the TAP has a frame, `other` is readable, or `timeout` passes (`None`: no
/// timeout). A signal interrupting the sleep counts as a timeout.
pub fn wait(
    tap: &TapDevice,
    other: BorrowedFd<'_>,
    timeout: Option<Duration>,
) -> io::Result<Ready> {
    let mut fds = [
        libc::pollfd {
            fd: tap.as_fd().as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        },
        libc::pollfd {
            fd: other.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        },
    ];
    let timeout_ms = timeout.map_or(-1, poll_timeout_ms);
    // SAFETY: `fds` is a valid, writable array of two pollfd for the whole call, and its
    // length is passed with it; both descriptors are borrowed, so they stay open meanwhile.
    let n = unsafe { libc::poll(fds.as_mut_ptr(), fds.len() as libc::nfds_t, timeout_ms) };
    if n < 0 {
        let e = io::Error::last_os_error();
        if e.kind() == io::ErrorKind::Interrupted {
            return Ok(Ready {
                tap: false,
                other: false,
            });
        }
        return Err(e);
    }
    // POLLERR/POLLHUP count as readable: the next read reports the error.
    let woke = |fd: &libc::pollfd| fd.revents != 0;
    Ok(Ready {
        tap: woke(&fds[0]),
        other: woke(&fds[1]),
    })
}

/// poll(2) takes whole milliseconds: round up, so a deadline 0.3 ms away is slept through
/// rather than turned into a zero timeout and a busy loop until it passes.
fn poll_timeout_ms(timeout: Duration) -> libc::c_int {
    let ms = timeout.as_micros().div_ceil(1000);
    ms.min(libc::c_int::MAX as u128) as libc::c_int
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn poll_timeouts_round_up() {
        assert_eq!(poll_timeout_ms(Duration::ZERO), 0);
        assert_eq!(poll_timeout_ms(Duration::from_micros(300)), 1);
        assert_eq!(poll_timeout_ms(Duration::from_millis(250)), 250);
        assert_eq!(
            poll_timeout_ms(Duration::from_secs(1 << 40)),
            libc::c_int::MAX
        );
    }

    #[test]
    fn open_errors_name_the_cause() {
        let e = OpenError::classify(io::Error::from_raw_os_error(libc::EPERM));
        assert!(e.to_string().contains("permission denied"), "{e}");
        let e = OpenError::classify(io::Error::from_raw_os_error(libc::ENOENT));
        assert!(e.to_string().contains("/dev/net/tun"), "{e}");
        let e = OpenError::classify(io::Error::from_raw_os_error(libc::EINVAL));
        assert!(e.to_string().contains("not a TAP"), "{e}");
    }
}
