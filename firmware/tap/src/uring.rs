//! Frames through io_uring: the TAP's reads stay armed in the kernel, a loop turn's frames go
//! out in one submission, and the sleep until "a frame, the deadline or a signal" is the same
//! `io_uring_enter` that submits them. A loop turn costs one system call, where read(2) and
//! write(2) cost one per frame, one more read that finds nothing, and a poll(2).
//!
//! - **Receiving**: the kernel picks a buffer from a provided-buffer ring (registered once,
//!   [`RX_BUFFERS`] buffers of a whole frame each) for every frame it reads. One multishot
//!   read (kernel 6.7) keeps reading as frames arrive; without it, [`BATCHED_READS`] reads are
//!   kept armed and re-armed as they complete. A buffer goes back to the ring when smoltcp has
//!   consumed its frame (at the next `receive` or wait).
//! - **Sending**: a frame is built in one of [`TX_SLOTS`] preallocated buffers and queued as
//!   a write; the queue is submitted at the next wait (or at once when every slot is taken).
//! - **Waiting**: one `io_uring_enter` submits the queue and waits, with the deadline as its
//!   timeout (`IORING_FEAT_EXT_ARG`, kernel 5.11), for one completion more than the writes in
//!   flight: a write's completion alone never ends the sleep. A poll request on the shutdown
//!   descriptor ends it for a stop signal.
//!
//! The frames are the same bytes as on the read/write path (virtio-net header first); what is
//! done with them (checks, pcap, smoltcp) is `tap.rs`'s, shared by both paths.
//!
//! Memory the kernel writes to or reads from (buffers, the buffer ring) is only touched
//! through raw pointers, and a slice is made only of a buffer the kernel does not own at
//! that moment.

use std::alloc::{self, Layout};
use std::collections::VecDeque;
use std::io;
use std::os::fd::{AsRawFd, BorrowedFd, RawFd};
use std::ptr::NonNull;
use std::sync::atomic::{AtomicU16, Ordering};
use std::time::Duration;

use io_uring::{cqueue, opcode, squeue, types, IoUring, Probe};

/// Receive buffers in the provided-buffer ring (a power of two, as the kernel wants).
pub const RX_BUFFERS: u16 = 16;
/// Reads kept armed when the kernel has no multishot read.
pub const BATCHED_READS: usize = 8;
/// Frames that may be queued or in flight for sending at once.
pub const TX_SLOTS: u16 = 16;
/// Submission queue size: room for a turn's writes, the reads, the poll and a cancel.
const ENTRIES: u32 = 64;
/// The buffer group of the receive buffers.
const GROUP: u16 = 0x7a9;
/// The descriptor, registered with the ring (saves looking it up for every request).
const TAP: types::Fixed = types::Fixed(0);

/// What a completion is for, in the top half of its `user_data`; a slot in the bottom half.
const KIND: u64 = 0xffff_ffff << 32;
const READ: u64 = 1 << 32;
const WRITE: u64 = 2 << 32;
const POLL: u64 = 3 << 32;
const CANCEL: u64 = 4 << 32;

/// Why io_uring cannot carry the frames here; the read/write loop runs instead.
#[derive(Debug)]
pub struct Unavailable(pub String);

/// `count` buffers of `size` bytes in one zeroed allocation shared with the kernel.
struct Pool {
    base: NonNull<u8>,
    size: usize,
    count: usize,
    layout: Layout,
}

impl Pool {
    fn new(size: usize, count: usize, align: usize) -> Self {
        let layout = Layout::from_size_align(size * count, align).expect("pool layout");
        assert!(layout.size() > 0);
        // SAFETY: the layout's size is not zero (asserted).
        let base = unsafe { alloc::alloc_zeroed(layout) };
        let Some(base) = NonNull::new(base) else {
            alloc::handle_alloc_error(layout)
        };
        Self {
            base,
            size,
            count,
            layout,
        }
    }

    /// Where buffer `i` starts.
    fn ptr(&self, i: usize) -> *mut u8 {
        assert!(i < self.count, "buffer {i} of {}", self.count);
        // SAFETY: `i * size` is inside the allocation (i < count).
        unsafe { self.base.as_ptr().add(i * self.size) }
    }

    /// The first `len` bytes of buffer `i`.
    ///
    /// # Safety
    /// The kernel must not write buffer `i` while the slice lives: it has completed the read
    /// that filled it, and the buffer is not back in the buffer ring.
    unsafe fn slice(&self, i: usize, len: usize) -> &[u8] {
        assert!(len <= self.size);
        // SAFETY: in bounds (asserted here and in `ptr`); not written meanwhile (caller).
        unsafe { std::slice::from_raw_parts(self.ptr(i), len) }
    }

    /// The first `len` bytes of buffer `i`, writable.
    ///
    /// # Safety
    /// No request of the kernel may use buffer `i` while the slice lives (no write of it is
    /// queued or in flight).
    unsafe fn slice_mut(&mut self, i: usize, len: usize) -> &mut [u8] {
        assert!(len <= self.size);
        // SAFETY: in bounds (asserted); unused by the kernel (caller); `&mut self` makes it
        // the only slice of this pool.
        unsafe { std::slice::from_raw_parts_mut(self.ptr(i), len) }
    }
}

impl Drop for Pool {
    fn drop(&mut self) {
        // SAFETY: allocated in `new` with this layout, freed once.
        unsafe { alloc::dealloc(self.base.as_ptr(), self.layout) }
    }
}

/// The provided-buffer ring: `struct io_uring_buf` entries (addr u64, len u32, bid u16, and
/// a u16 that in the first entry is the ring's tail), page-aligned, registered with the kernel.
struct BufRing {
    entries: Pool,
    tail: u16,
}

impl BufRing {
    const ENTRY: usize = 16;

    fn new() -> Self {
        // SAFETY: sysconf has no memory effects.
        let page = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
        let page = usize::try_from(page).unwrap_or(4096).max(4096);
        Self {
            entries: Pool::new(Self::ENTRY, usize::from(RX_BUFFERS), page),
            tail: 0,
        }
    }

    /// Hands buffer `bid` (`len` bytes at `addr`) to the kernel.
    fn give(&mut self, addr: u64, len: u32, bid: u16) {
        let entry = self.entries.ptr(usize::from(self.tail % RX_BUFFERS));
        // SAFETY: the entry past the published tail is the application's until the tail moves
        // over it; the three fields are written at their ABI offsets, never the tail's bytes.
        unsafe {
            entry.cast::<u64>().write(addr);
            entry.add(8).cast::<u32>().write(len);
            entry.add(12).cast::<u16>().write(bid);
        }
        self.tail = self.tail.wrapping_add(1);
        // SAFETY: the tail is the u16 at offset 14 of the first entry, aligned (the ring is
        // page-aligned), and only ever accessed atomically by both sides; the release store
        // publishes the entry written above.
        unsafe {
            AtomicU16::from_ptr(self.entries.ptr(0).add(14).cast())
                .store(self.tail, Ordering::Release)
        }
    }
}

/// An io_uring carrying one descriptor's frames.
pub struct Ring {
    // Dropped first (after `Drop::drop` has cancelled every request): nothing of the kernel's
    // refers to the memory below any more when it is freed.
    ring: IoUring,
    /// The receive buffers, [`RX_BUFFERS`] of them.
    rx: Pool,
    state: State,
}

/// Everything but the ring and the receive buffers, so that a frame's slice and a sender can
/// be lent at once.
struct State {
    /// The TAP's name, for the messages.
    name: String,
    multishot: bool,
    /// Read requests armed (multishot: 0 or 1).
    reads: usize,
    bufs: BufRing,
    rx_base: u64,
    rx_size: usize,
    /// Frames read and not yet handed to smoltcp: buffer id and length.
    frames: VecDeque<(u16, usize)>,
    /// The frame smoltcp has now (buffer id, length); back to the ring at the next receive or
    /// wait.
    lent: Option<(u16, usize)>,
    tx: Pool,
    free: Vec<u16>,
    /// Length of the frame in each slot, for the message if its write fails.
    sent: Vec<usize>,
    /// Writes queued or in flight whose completion has not been seen.
    writes: usize,
    /// A buffer for a frame that cannot be sent (the ring failed), dropped with a warning.
    spare: Vec<u8>,
    /// Whether a poll request on the other descriptor is armed.
    polling: bool,
    /// The other descriptor's poll completed since the last wait.
    other: bool,
    /// The first fatal receive error, returned by the next `advance`.
    error: Option<io::Error>,
}

/// Room for one frame, sent when filled.
pub struct Sender<'a> {
    ring: &'a mut IoUring,
    state: &'a mut State,
}

impl Ring {
    /// A ring for `fd` (blocking: a non-blocking descriptor makes io_uring's reads fail with
    /// EAGAIN instead of waiting), with receive buffers of `rx_size` bytes and send buffers
    /// of `tx_size` (each frame with its header).
    pub fn new(
        fd: BorrowedFd<'_>,
        rx_size: usize,
        tx_size: usize,
        name: &str,
    ) -> Result<Self, Unavailable> {
        Self::build(fd, rx_size, tx_size, name, true)
    }

    /// [`new`](Self::new), with batched reads even where multishot read exists if
    /// `multishot` is false.
    fn build(
        fd: BorrowedFd<'_>,
        rx_size: usize,
        tx_size: usize,
        name: &str,
        multishot: bool,
    ) -> Result<Self, Unavailable> {
        let ring = setup().map_err(|e| Unavailable(format!("io_uring_setup failed: {e}")))?;
        if !ring.params().is_feature_ext_arg() {
            return Err(Unavailable(
                "the kernel's io_uring has no wait timeout (IORING_FEAT_EXT_ARG, 5.11)".into(),
            ));
        }
        let mut probe = Probe::new();
        ring.submitter()
            .register_probe(&mut probe)
            .map_err(|e| Unavailable(format!("io_uring probe failed: {e}")))?;
        let multishot = multishot && probe.is_supported(opcode::ReadMulti::CODE);
        ring.submitter()
            .register_files(&[fd.as_raw_fd()])
            .map_err(|e| Unavailable(format!("cannot register the descriptor: {e}")))?;
        let rx = Pool::new(rx_size, usize::from(RX_BUFFERS), 64);
        let mut bufs = BufRing::new();
        // SAFETY: the ring's memory lives in `bufs`, owned by the returned Ring, whose Drop
        // cancels every request before the memory is freed (and the ring is closed first).
        unsafe {
            ring.submitter().register_buf_ring_with_flags(
                bufs.entries.ptr(0) as u64,
                RX_BUFFERS,
                GROUP,
                0,
            )
        }
        .map_err(|e| Unavailable(format!("no provided-buffer ring (kernel 5.19): {e}")))?;
        let rx_len = u32::try_from(rx_size).expect("frame buffers are < 4 GiB");
        for bid in 0..RX_BUFFERS {
            bufs.give(rx.ptr(usize::from(bid)) as u64, rx_len, bid);
        }
        let rx_base = rx.ptr(0) as u64;
        Ok(Self {
            ring,
            rx,
            state: State {
                name: name.to_string(),
                multishot,
                reads: 0,
                bufs,
                rx_base,
                rx_size,
                frames: VecDeque::with_capacity(usize::from(RX_BUFFERS)),
                lent: None,
                tx: Pool::new(tx_size, usize::from(TX_SLOTS), 64),
                free: (0..TX_SLOTS).rev().collect(),
                sent: vec![0; usize::from(TX_SLOTS)],
                writes: 0,
                spare: vec![0; tx_size],
                polling: false,
                other: false,
                error: None,
            },
        })
    }

    /// Whether frames are read by one multishot request (else by batched reads).
    pub fn multishot(&self) -> bool {
        self.state.multishot
    }

    /// Moves on to the next frame read, giving the last one's buffer back to the kernel;
    /// false when none is waiting. Makes no system call.
    pub fn advance(&mut self) -> io::Result<bool> {
        let state = &mut self.state;
        state.recycle();
        state.reap(&mut self.ring);
        if let Some(e) = state.error.take() {
            return Err(e);
        }
        state.lent = state.frames.pop_front();
        Ok(state.lent.is_some())
    }

    /// The frame [`advance`](Self::advance) moved to (header included; empty if none), and a
    /// sender for the answer.
    pub fn frame(&mut self) -> (&[u8], Sender<'_>) {
        let frame = match self.state.lent {
            // SAFETY: the kernel completed the read into `bid`, and the buffer goes back to
            // the ring only in `advance` or `wait`, which need `&mut self`, ending this borrow.
            Some((bid, len)) => unsafe { self.rx.slice(usize::from(bid), len) },
            None => &[],
        };
        (
            frame,
            Sender {
                ring: &mut self.ring,
                state: &mut self.state,
            },
        )
    }

    /// A sender for a frame that answers nothing received.
    pub fn sender(&mut self) -> Sender<'_> {
        Sender {
            ring: &mut self.ring,
            state: &mut self.state,
        }
    }

    /// Submits the queued frames, then sleeps until a frame arrives, `other` is readable, or
    /// `timeout` passes (`None`: no timeout), in one `io_uring_enter`. Returns (a frame or an
    /// error is waiting, `other` is readable). A signal interrupting the sleep counts as a
    /// timeout.
    pub fn wait(
        &mut self,
        other: BorrowedFd<'_>,
        timeout: Option<Duration>,
    ) -> io::Result<(bool, bool)> {
        let state = &mut self.state;
        state.recycle();
        state.arm(&mut self.ring, other.as_raw_fd());
        state.reap(&mut self.ring);
        let ready = |s: &State| !s.frames.is_empty() || s.error.is_some() || s.other;
        let result = if ready(state) {
            // Something to do already: send what is queued without sleeping.
            if self.ring.submission().is_empty() {
                Ok(0)
            } else {
                self.ring.submit()
            }
        } else {
            // One completion more than the writes in flight: a frame, the poll, or nothing
            // before the timeout.
            let want = state.writes + 1;
            match timeout {
                Some(timeout) => {
                    let ts = types::Timespec::from(timeout);
                    let args = types::SubmitArgs::new().timespec(&ts);
                    self.ring.submitter().submit_with_args(want, &args)
                }
                None => self.ring.submit_and_wait(want),
            }
        };
        match result {
            Ok(_) => {}
            Err(e)
                if matches!(
                    e.raw_os_error(),
                    Some(libc::ETIME | libc::EINTR | libc::EBUSY)
                ) => {}
            Err(e) => return Err(e),
        }
        state.reap(&mut self.ring);
        Ok((
            !state.frames.is_empty() || state.error.is_some(),
            std::mem::take(&mut state.other),
        ))
    }
}

impl Sender<'_> {
    /// The largest frame (header included) a send buffer holds.
    pub fn room(&self) -> usize {
        self.state.spare.len()
    }

    /// Lets `fill` build a frame of `len` bytes (header included) and queues it; a frame that
    /// cannot be queued (the ring failed) is dropped with a warning, as a NIC drops one.
    pub fn send<R>(self, len: usize, fill: impl FnOnce(&mut [u8]) -> R) -> R {
        let state = self.state;
        let slot = match state.slot(self.ring) {
            Ok(slot) => slot,
            Err(e) => {
                let result = fill(&mut state.spare[..len]);
                crate::vnet::dropped(&state.name, len, &e);
                return result;
            }
        };
        // SAFETY: the slot was free: no write of it is queued or in flight.
        let buffer = unsafe { state.tx.slice_mut(usize::from(slot), len) };
        let result = fill(buffer);
        let write = opcode::Write::new(TAP, buffer.as_ptr(), len as u32)
            .build()
            .user_data(WRITE | u64::from(slot));
        state.sent[usize::from(slot)] = len;
        state.writes += 1;
        // SAFETY: the buffer stays untouched until the write's completion frees the slot
        // (`reap`); the pool outlives every request (Ring::drop).
        unsafe { state.push(self.ring, &write) };
        result
    }
}

impl State {
    /// Gives the buffer of the frame smoltcp had back to the kernel.
    fn recycle(&mut self) {
        if let Some((bid, _)) = self.lent.take() {
            self.give(bid);
        }
    }

    fn give(&mut self, bid: u16) {
        let addr = self.rx_base + (usize::from(bid) * self.rx_size) as u64;
        self.bufs.give(addr, self.rx_size as u32, bid);
    }

    /// Arms the reads that have ended and the poll on `other`.
    fn arm(&mut self, ring: &mut IoUring, other: RawFd) {
        let target = if self.multishot { 1 } else { BATCHED_READS };
        while self.reads < target {
            let read = if self.multishot {
                opcode::ReadMulti::new(TAP, 0, GROUP).build()
            } else {
                opcode::Read::new(TAP, std::ptr::null_mut(), self.rx_size as u32)
                    .buf_group(GROUP)
                    .build()
                    .flags(squeue::Flags::BUFFER_SELECT)
            };
            // SAFETY: the kernel picks the buffer from the registered ring, whose memory
            // outlives every request (Ring::drop).
            unsafe { self.push(ring, &read.user_data(READ)) };
            self.reads += 1;
        }
        if !self.polling {
            let poll = opcode::PollAdd::new(types::Fd(other), libc::POLLIN as u32)
                .build()
                .user_data(POLL);
            // SAFETY: a poll request refers to no memory of ours.
            unsafe { self.push(ring, &poll) };
            self.polling = true;
        }
    }

    /// Queues `entry`, submitting what is queued first if the queue is full.
    ///
    /// # Safety
    /// The memory `entry` refers to must stay valid until its completion.
    unsafe fn push(&mut self, ring: &mut IoUring, entry: &squeue::Entry) {
        for _ in 0..2 {
            // SAFETY: as the caller guarantees.
            if unsafe { ring.submission().push(entry) }.is_ok() {
                return;
            }
            if let Err(e) = ring.submit() {
                self.error.get_or_insert(e);
            }
        }
        self.error
            .get_or_insert_with(|| io::Error::other("io_uring submission queue stays full"));
    }

    /// A free send slot, waiting for a write to complete if all are taken.
    fn slot(&mut self, ring: &mut IoUring) -> io::Result<u16> {
        // Bounded: a TAP write completes at once; each round waits for one completion.
        for _ in 0..1000 {
            if let Some(slot) = self.free.pop() {
                return Ok(slot);
            }
            match ring.submit_and_wait(1) {
                Ok(_) => {}
                Err(e) if e.raw_os_error() == Some(libc::EINTR) => {}
                Err(e) => return Err(e),
            }
            self.reap(ring);
        }
        Err(io::Error::other("no send buffer came free"))
    }

    /// Takes every completion: frames to `frames`, sent slots back to `free`.
    fn reap(&mut self, ring: &mut IoUring) {
        for cqe in ring.completion() {
            let data = cqe.user_data();
            let result = cqe.result();
            match data & KIND {
                READ => self.read_done(result, cqe.flags()),
                WRITE => {
                    let slot = (data & !KIND) as u16;
                    self.writes -= 1;
                    self.free.push(slot);
                    if result < 0 {
                        let e = io::Error::from_raw_os_error(-result);
                        crate::vnet::dropped(&self.name, self.sent[usize::from(slot)], &e);
                    }
                }
                POLL => {
                    // An error counts as readable: the caller looks and finds out.
                    self.polling = false;
                    self.other = true;
                }
                _ => {} // CANCEL
            }
        }
    }

    fn read_done(&mut self, result: i32, flags: u32) {
        if !cqueue::more(flags) {
            self.reads -= 1; // re-armed at the next wait
        }
        match (cqueue::buffer_select(flags), usize::try_from(result)) {
            (Some(bid), Ok(len)) => self.frames.push_back((bid, len)),
            (Some(bid), Err(_)) => self.give(bid),
            (None, _) => match -result {
                // Nothing read: every buffer was taken (multishot ends), interrupted, or
                // cancelled; re-armed at the next wait.
                0 | libc::ENOBUFS | libc::EINTR | libc::EAGAIN | libc::ECANCELED => {}
                errno => {
                    self.error
                        .get_or_insert(io::Error::from_raw_os_error(errno));
                }
            },
        }
    }
}

impl Drop for Ring {
    /// Sends what is still queued (the last ACK of a session), then cancels every request
    /// and waits for them to end, so the kernel has let go of the buffers before they are
    /// freed. If that does not happen in time, the buffers are leaked rather than freed.
    fn drop(&mut self) {
        let state = &mut self.state;
        let tick = types::Timespec::from(Duration::from_millis(10));
        let args = types::SubmitArgs::new().timespec(&tick);
        for _ in 0..100 {
            state.reap(&mut self.ring);
            if state.writes == 0 {
                break;
            }
            let _ = self.ring.submitter().submit_with_args(1, &args);
        }
        let cancel = opcode::AsyncCancel2::new(types::CancelBuilder::any())
            .build()
            .user_data(CANCEL);
        // SAFETY: a cancel request refers to no memory of ours.
        unsafe { state.push(&mut self.ring, &cancel) };
        let mut done = false;
        for _ in 0..100 {
            let _ = self.ring.submitter().submit_with_args(1, &args);
            state.reap(&mut self.ring);
            done = state.reads == 0 && !state.polling && state.writes == 0;
            if done {
                break;
            }
        }
        // The ring's own reference to the descriptor: the ring is torn down in the
        // background after it closes, and until then the TAP would stay attached (busy for
        // the next program that opens it).
        let _ = self.ring.submitter().unregister_files();
        if done {
            let _ = self.ring.submitter().unregister_buf_ring(GROUP);
        } else {
            log::warn!(
                "TAP {}: io_uring requests did not end; their buffers are left allocated",
                state.name
            );
            std::mem::forget(std::mem::replace(&mut self.rx, Pool::new(1, 1, 1)));
            std::mem::forget(std::mem::replace(&mut state.tx, Pool::new(1, 1, 1)));
            std::mem::forget(std::mem::replace(
                &mut state.bufs.entries,
                Pool::new(1, 1, 1),
            ));
        }
    }
}

/// A ring whose completions are only worked out when this thread waits for them (6.1), or
/// a plain one on older kernels.
fn setup() -> io::Result<IoUring> {
    let deferred = IoUring::builder()
        .setup_single_issuer()
        .setup_defer_taskrun()
        .build(ENTRIES);
    match deferred {
        Err(e) if e.raw_os_error() == Some(libc::EINVAL) => IoUring::new(ENTRIES),
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::fd::{AsFd, OwnedFd};
    use std::os::unix::net::UnixDatagram;
    use std::time::Instant;

    /// A ring on one end of a datagram socket pair (frames keep their boundaries, as on a
    /// TAP), the other end standing for the host; `None` (with the reason printed) where
    /// io_uring is unavailable, which fails the test under CI=true.
    fn ring(multishot: bool) -> Option<(Ring, UnixDatagram, UnixDatagram)> {
        let (device, host) = UnixDatagram::pair().unwrap();
        match Ring::build(device.as_fd(), 2048, 2048, "test", multishot) {
            Ok(ring) => Some((ring, device, host)),
            Err(Unavailable(why)) => {
                assert!(std::env::var("CI").as_deref() != Ok("true"), "{why}");
                eprintln!("skipped: io_uring unavailable: {why}");
                None
            }
        }
    }

    fn frame(n: usize) -> Vec<u8> {
        format!("frame {n:04} ").into_bytes().repeat(1 + n % 7)
    }

    /// Every frame waiting, in order, each buffer given back as the next is taken.
    fn take_frames(ring: &mut Ring) -> Vec<Vec<u8>> {
        let mut got = Vec::new();
        while ring.advance().unwrap() {
            got.push(ring.frame().0.to_vec());
        }
        got
    }

    fn never() -> OwnedFd {
        let (a, _b) = UnixDatagram::pair().unwrap();
        a.into()
    }

    /// More frames at once than there are buffers: the reads stop when the buffers run out
    /// and go on once smoltcp has consumed frames; nothing is lost or reordered.
    fn receives_everything_in_order(multishot: bool) {
        let Some((mut ring, _device, host)) = ring(multishot) else {
            return;
        };
        let idle = never();
        let total = 5 * usize::from(RX_BUFFERS) + 3;
        for n in 0..total {
            host.send(&frame(n)).unwrap();
        }
        let mut got = Vec::new();
        for _ in 0..100 {
            let (tap, other) = ring
                .wait(idle.as_fd(), Some(Duration::from_secs(2)))
                .unwrap();
            assert!(!other);
            assert!(tap, "a frame should have ended the wait");
            got.extend(take_frames(&mut ring));
            if got.len() == total {
                break;
            }
        }
        assert_eq!(got, (0..total).map(frame).collect::<Vec<_>>());
        if !multishot {
            assert!(!ring.multishot(), "batched reads were asked for");
        }
        // Then frames one by one, as in a session.
        for n in 0..3 * usize::from(RX_BUFFERS) {
            host.send(&frame(n)).unwrap();
            ring.wait(idle.as_fd(), Some(Duration::from_secs(2)))
                .unwrap();
            assert_eq!(take_frames(&mut ring), [frame(n)]);
        }
    }

    #[test]
    fn multishot_read_receives_everything_in_order() {
        receives_everything_in_order(true);
    }

    #[test]
    fn batched_reads_receive_everything_in_order() {
        receives_everything_in_order(false);
    }

    /// A turn's frames stay queued until the wait submits them, in order, even more of them
    /// than there are send buffers.
    #[test]
    fn frames_go_out_at_the_wait_in_order() {
        let Some((mut ring, _device, host)) = ring(true) else {
            return;
        };
        host.set_nonblocking(true).unwrap();
        let idle = never();
        let mut buf = [0; 2048];
        let total = 2 * usize::from(TX_SLOTS) + 5;
        for n in 0..3 {
            let bytes = frame(n);
            let sent = ring.sender().send(bytes.len(), |b| {
                b.copy_from_slice(&bytes);
                n
            });
            assert_eq!(sent, n);
        }
        let early = host.recv(&mut buf).unwrap_err();
        assert_eq!(
            early.kind(),
            io::ErrorKind::WouldBlock,
            "sent before the wait"
        );
        for n in 3..total {
            let bytes = frame(n);
            ring.sender()
                .send(bytes.len(), |b| b.copy_from_slice(&bytes));
        }
        // Nothing arrives: the wait returns at its timeout, having sent everything.
        let (tap, other) = ring
            .wait(idle.as_fd(), Some(Duration::from_millis(20)))
            .unwrap();
        assert!(!tap && !other);
        for n in 0..total {
            let len = host.recv(&mut buf).unwrap();
            assert_eq!(buf[..len], frame(n), "frame {n}");
        }
        assert_eq!(ring.state.writes, 0);
        assert_eq!(ring.state.free.len(), usize::from(TX_SLOTS));
    }

    /// The wait sleeps until its timeout (writes completing do not end it), and a readable
    /// other descriptor ends it at once, and again after it was re-armed.
    #[test]
    fn the_wait_ends_at_the_timeout_or_for_the_other_descriptor() {
        let Some((mut ring, _device, _host)) = ring(true) else {
            return;
        };
        let (signal_rx, signal_tx) = UnixDatagram::pair().unwrap();
        ring.sender().send(4, |b| b.copy_from_slice(b"ping"));
        let start = Instant::now();
        let ready = ring
            .wait(signal_rx.as_fd(), Some(Duration::from_millis(50)))
            .unwrap();
        assert_eq!(ready, (false, false));
        assert!(
            start.elapsed() >= Duration::from_millis(45),
            "{:?}",
            start.elapsed()
        );
        for _ in 0..2 {
            signal_tx.send(b"x").unwrap();
            let start = Instant::now();
            let ready = ring
                .wait(signal_rx.as_fd(), Some(Duration::from_secs(5)))
                .unwrap();
            assert_eq!(ready, (false, true));
            assert!(start.elapsed() < Duration::from_secs(2));
            signal_rx.recv(&mut [0; 4]).unwrap();
        }
    }
}
