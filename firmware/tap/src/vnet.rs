//! The virtio-net header in front of every frame on the TAP, and the warning both I/O paths
//! (`tap`'s read/write loop, `uring`) give for a frame they could not send.

use std::io;

/// `struct virtio_net_hdr` before every frame in both directions. Ours are all zero: no
/// offload asked for, checksums complete. The host's first byte, `flags`, says whether a
/// received frame's checksum is unfinished or already checked.
pub const VNET_HDR: usize = 10;

/// Says that a frame of `len` bytes (header included) could not be sent.
pub fn dropped(tap: &str, len: usize, e: &io::Error) {
    log::warn!(
        "TAP {tap}: frame of {} bytes dropped: {e}",
        len.saturating_sub(VNET_HDR)
    );
}
