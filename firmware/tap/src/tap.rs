//! A Linux TAP interface as a smoltcp [`Device`]: the only place this program touches frames.
//!
//! Frames cross the TAP one of two ways ([`IoMode`]): through io_uring (`uring.rs`: reads
//! kept armed, a turn's frames sent in one submission, one `io_uring_enter` per loop turn),
//! or by read(2) and write(2) on a non-blocking descriptor, one per frame. Either way
//! `receive` never stalls the poll loop; the loop sleeps in [`wait`] instead, on the TAP and
//! any other descriptor (the shutdown pipe) at once. Everything else (the header, the checks,
//! the tokens smoltcp sees) is the same code for both.
//!
//! The TAP is opened with a virtio-net header and TCP segmentation offload: the host's TCP
//! hands over up to 64 KiB per frame instead of cutting it into MTU-sized ones, so a bulk
//! download costs a fortieth of the reads, as on a TAP with a 64 KiB MTU, but without
//! changing the MTU. smoltcp takes such a frame as one large TCP segment. (The `tun-tap`
//! crate, used before, cannot ask for the header, so the TAP is attached here with
//! TUNSETIFF and TUNSETOFFLOAD.)
//!
//! Checksum offload means smoltcp cannot verify received TCP/UDP checksums itself: the
//! frames the host's own TCP hands over have unfinished ones. So every frame the virtio-net
//! header does not vouch for is verified here ([`verify`]) and dropped if wrong.

use std::cell::RefCell;
use std::ffi::CStr;
use std::fmt;
use std::fs::{File, OpenOptions};
use std::io::{self, Read, Write};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd};
use std::path::Path;
use std::time::Duration;

use smoltcp::phy::{self, Checksum, Device, DeviceCapabilities, Medium};
use smoltcp::time::Instant;

use crate::uring::{self, Ring};
use crate::verify;
use crate::vnet::{dropped, VNET_HDR};

/// How frames cross the TAP.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum IoMode {
    /// io_uring: one system call per loop turn (read(2)/write(2) where unavailable).
    Uring,
    /// read(2) and write(2) per frame, poll(2) to sleep.
    ReadWrite,
}

/// The IP MTU when the interface's cannot be read: Ethernet's.
const DEFAULT_IP_MTU: usize = 1500;
/// Ethernet header before the IP packet.
const ETHERNET_HEADER: usize = 14;
/// Room for a VLAN tag too, so a tagged frame is read whole (and then ignored by smoltcp)
/// rather than truncated into a corrupt one.
const VLAN_TAG: usize = 4;
/// The largest frame the host may hand over with segmentation offload on.
const GSO_FRAME: usize = ETHERNET_HEADER + VLAN_TAG + 65535;

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
    // Before `file`: the ring's requests end before the descriptor closes.
    io: Io,
    file: File,
    name: String,
    /// Largest frame, from the interface's MTU.
    frame_mtu: usize,
    /// The first I/O error that `receive` could not return through smoltcp's API.
    error: RefCell<Option<io::Error>>,
    /// Frames dropped because a checksum was wrong (see [`verify`]).
    rejected: u64,
}

impl TapDevice {
    /// Opens TAP `name`, creating it if it does not exist (a created TAP is down and has no
    /// address until the host configures it; see [`is_up`](Self::is_up)).
    ///
    /// Frames are as large as the interface's MTU allows: the host raises it with
    /// `ip link set NAME mtu 65521`, and then TCP carries up to 64 KiB per frame, so a bulk
    /// transfer needs 40 times fewer reads and writes (the cost that dominates on a TAP).
    ///
    /// `offload` false attaches without segmentation and checksum offload: the host then
    /// hands over MTU-sized frames with finished checksums, as to a NIC without offloads.
    ///
    /// `mode` says how frames cross; where io_uring is unavailable, read(2)/write(2) do, and
    /// a warning says why (once: the TAP is opened once per run).
    pub fn open(name: &str, offload: bool, mode: IoMode) -> Result<Self, OpenError> {
        let (file, name) = attach(name, offload).map_err(OpenError::classify)?;
        let frame_mtu = ETHERNET_HEADER + Self::ip_mtu(&name);
        let rx_size = VNET_HDR + GSO_FRAME.max(frame_mtu + VLAN_TAG);
        let tx_size = VNET_HDR + frame_mtu;
        let ring = match mode {
            IoMode::Uring => match Ring::new(file.as_fd(), rx_size, tx_size, &name) {
                Ok(ring) => Some(ring),
                Err(uring::Unavailable(why)) => {
                    log::warn!("io_uring unavailable ({why}); TAP {name} uses read(2)/write(2)");
                    None
                }
            },
            IoMode::ReadWrite => None,
        };
        let io = match ring {
            Some(ring) => Io::Ring(Box::new(ring)),
            None => {
                set_nonblocking(&file).map_err(OpenError::Other)?;
                Io::ReadWrite {
                    rx: vec![0; rx_size],
                    rx_len: 0,
                    tx: vec![0; tx_size],
                }
            }
        };
        Ok(Self {
            io,
            file,
            name,
            frame_mtu,
            error: RefCell::new(None),
            rejected: 0,
        })
    }

    /// How frames cross, for the log.
    pub fn io_path(&self) -> &'static str {
        match &self.io {
            Io::Ring(ring) if ring.multishot() => "io_uring, one multishot read",
            Io::Ring(_) => "io_uring, batched reads",
            Io::ReadWrite { .. } => "read(2)/write(2), poll(2)",
        }
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
        &self.name
    }

    /// Whether the host side has brought the link up (`ip link set NAME up`); frames written
    /// to a down TAP are refused by the kernel.
    pub fn is_up(&self) -> bool {
        let flags = Path::new("/sys/class/net").join(&self.name).join("flags");
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

/// Offloads stay set on a persistent TAP after the descriptor closes, and a program that
/// attaches without the header would then get 64 KiB frames it cannot read: switch them off.
impl Drop for TapDevice {
    fn drop(&mut self) {
        // The ring first: it sends what is still queued (with the offloads still on, as the
        // frames were built for) and ends its requests.
        drop(std::mem::replace(
            &mut self.io,
            Io::ReadWrite {
                rx: Vec::new(),
                rx_len: 0,
                tx: Vec::new(),
            },
        ));
        if self.rejected > 0 {
            log::warn!(
                "TAP {}: {} received frame(s) dropped for a wrong checksum",
                self.name,
                self.rejected
            );
        }
        // SAFETY: TUNSETOFFLOAD takes its flags by value; the descriptor is still open.
        let off = unsafe {
            libc::ioctl(
                self.file.as_raw_fd(),
                libc::TUNSETOFFLOAD,
                0 as libc::c_ulong,
            )
        };
        if off < 0 {
            log::warn!(
                "TAP {}: cannot switch segmentation offload off again: {}",
                self.name,
                io::Error::last_os_error()
            );
        }
    }
}

impl AsFd for TapDevice {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.file.as_fd()
    }
}

/// The two ways frames cross the TAP.
enum Io {
    /// read(2)/write(2) on the non-blocking descriptor; the frame last read is `rx[..rx_len]`.
    ReadWrite {
        rx: Vec<u8>,
        rx_len: usize,
        tx: Vec<u8>,
    },
    Ring(Box<Ring>),
}

impl Io {
    /// Moves on to the next frame received; false when none is waiting.
    fn advance(&mut self, tap: &File) -> io::Result<bool> {
        match self {
            Self::ReadWrite { rx, rx_len, .. } => loop {
                match (&*tap).read(rx) {
                    Ok(len) => {
                        *rx_len = len;
                        return Ok(true);
                    }
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(false),
                    Err(e) => return Err(e),
                }
            },
            Self::Ring(ring) => ring.advance(),
        }
    }

    /// The frame [`advance`](Self::advance) moved to, header first, and a way to answer it.
    fn frame<'a>(&'a mut self, tap: &'a File) -> (&'a [u8], Out<'a>) {
        match self {
            Self::ReadWrite { rx, rx_len, tx } => (&rx[..*rx_len], Out::Write { tap, buffer: tx }),
            Self::Ring(ring) => {
                let (frame, sender) = ring.frame();
                (frame, Out::Ring(sender))
            }
        }
    }

    fn out<'a>(&'a mut self, tap: &'a File) -> Out<'a> {
        match self {
            Self::ReadWrite { tx, .. } => Out::Write { tap, buffer: tx },
            Self::Ring(ring) => Out::Ring(ring.sender()),
        }
    }
}

impl Device for TapDevice {
    type RxToken<'a> = RxToken<'a>;
    type TxToken<'a> = TxToken<'a>;

    fn receive(&mut self, _timestamp: Instant) -> Option<(RxToken<'_>, TxToken<'_>)> {
        loop {
            match self.io.advance(&self.file) {
                Ok(true) => {}
                Ok(false) => return None,
                Err(e) => {
                    self.error.borrow_mut().get_or_insert(e);
                    return None;
                }
            }
            let (frame, _) = self.io.frame(&self.file);
            // Too short for a header and a frame: nothing smoltcp could use.
            if frame.len() <= VNET_HDR + ETHERNET_HEADER {
                continue;
            }
            if let Err(why) = verify::check(frame[0], &frame[VNET_HDR..]) {
                self.rejected += 1;
                log::info!(
                    "TAP {}: frame of {} bytes dropped: {why}",
                    self.name,
                    frame.len() - VNET_HDR
                );
                continue;
            }
            break;
        }
        let (frame, out) = self.io.frame(&self.file);
        let rx = RxToken {
            frame: &frame[VNET_HDR..],
        };
        let tx = TxToken {
            name: &self.name,
            out,
        };
        Some((rx, tx))
    }

    fn transmit(&mut self, _timestamp: Instant) -> Option<TxToken<'_>> {
        Some(TxToken {
            name: &self.name,
            out: self.io.out(&self.file),
        })
    }

    fn capabilities(&self) -> DeviceCapabilities {
        let mut caps = DeviceCapabilities::default();
        caps.medium = Medium::Ethernet;
        caps.max_transmission_unit = self.frame_mtu;
        // With offload on, the host leaves TCP and UDP checksums of what it sends unfinished
        // (it would fill them in on a real wire); this side of the TAP is that wire's end.
        // `receive` has verified every frame the host did not mark as such.
        caps.checksum.tcp = Checksum::Tx;
        caps.checksum.udp = Checksum::Tx;
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

/// Where a frame goes.
enum Out<'a> {
    /// write(2) from this buffer (a zero virtio-net header, then room for the frame).
    Write {
        tap: &'a File,
        buffer: &'a mut Vec<u8>,
    },
    /// Queued on the ring, sent at the loop's next wait.
    Ring(uring::Sender<'a>),
}

/// Room for one frame, sent when consumed.
pub struct TxToken<'a> {
    name: &'a str,
    out: Out<'a>,
}

impl phy::TxToken for TxToken<'_> {
    fn consume<R, F: FnOnce(&mut [u8]) -> R>(self, len: usize, f: F) -> R {
        match self.out {
            Out::Write { tap, buffer } => {
                let len = VNET_HDR + len.min(buffer.len() - VNET_HDR);
                let result = f(&mut buffer[VNET_HDR..len]);
                // A NIC drops what it cannot send; TCP retransmits. The usual cause is a TAP
                // whose host side is down (EIO), which the user is told about at start.
                if let Err(e) = (&*tap).write(&buffer[..len]) {
                    dropped(self.name, len, &e);
                }
                result
            }
            Out::Ring(sender) => {
                let len = VNET_HDR + len.min(sender.room() - VNET_HDR);
                // The header stays zero: the send buffers are zeroed once, and `f` gets only
                // the frame after it.
                sender.send(len, |buffer| f(&mut buffer[VNET_HDR..]))
            }
        }
    }
}

/// Attaches to TAP `name` (creating it if needed) with a virtio-net header and TCP
/// segmentation offload (unless `offload` is false), blocking (as io_uring needs it); returns
/// the descriptor and the kernel's name for it.
fn attach(name: &str, offload: bool) -> io::Result<(File, String)> {
    if name.len() >= libc::IFNAMSIZ {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("interface names are at most {} bytes", libc::IFNAMSIZ - 1),
        ));
    }
    let file = OpenOptions::new()
        .read(true)
        .write(true)
        .open("/dev/net/tun")?;
    let fd = file.as_raw_fd();
    // SAFETY: `ifreq` is plain data (a name and a union of integers): all zeroes is valid.
    let mut ifr: libc::ifreq = unsafe { std::mem::zeroed() };
    for (dst, src) in ifr.ifr_name.iter_mut().zip(name.bytes()) {
        *dst = src as libc::c_char;
    }
    ifr.ifr_ifru.ifru_flags =
        (libc::IFF_TAP | libc::IFF_NO_PI | libc::IFF_VNET_HDR) as libc::c_short;
    // SAFETY: TUNSETIFF reads and writes the one `ifreq` passed, which outlives the call; `fd`
    // is open (owned by `file`).
    if unsafe { libc::ioctl(fd, libc::TUNSETIFF, &mut ifr) } < 0 {
        return Err(io::Error::last_os_error());
    }
    let offload = if offload {
        libc::TUN_F_CSUM | libc::TUN_F_TSO4
    } else {
        0
    };
    // SAFETY: TUNSETOFFLOAD takes its flags by value and touches no memory of ours.
    if unsafe { libc::ioctl(fd, libc::TUNSETOFFLOAD, libc::c_ulong::from(offload)) } < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: the kernel wrote a NUL-terminated name of at most IFNAMSIZ bytes into
    // `ifr_name`, a field of `ifr`, which lives until the end of this function.
    let name = unsafe { CStr::from_ptr(ifr.ifr_name.as_ptr()) }
        .to_string_lossy()
        .into_owned();
    Ok((file, name))
}

/// Makes `file` non-blocking, for the read/write path (`receive` must not stall the loop).
fn set_nonblocking(file: &File) -> io::Result<()> {
    let mut nonblocking: libc::c_int = 1;
    // SAFETY: FIONBIO reads one int, which outlives the call; the descriptor is open.
    if unsafe { libc::ioctl(file.as_raw_fd(), libc::FIONBIO, &mut nonblocking) } < 0 {
        let e = io::Error::last_os_error();
        return Err(io::Error::new(e.kind(), format!("O_NONBLOCK: {e}")));
    }
    Ok(())
}

/// Sends the frames queued (io_uring), then sleeps until the TAP has a frame, `other` is
/// readable, or `timeout` passes (`None`: no timeout). A signal interrupting the sleep counts
/// as a timeout.
pub fn wait(
    tap: &mut TapDevice,
    other: BorrowedFd<'_>,
    timeout: Option<Duration>,
) -> io::Result<Ready> {
    if let Io::Ring(ring) = &mut tap.io {
        let (tap, other) = ring.wait(other, timeout)?;
        return Ok(Ready { tap, other });
    }
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
