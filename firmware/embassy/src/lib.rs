//! tcplink on any embassy network driver.
//!
//! Embassy's drivers — STM32 ETH, WIZnet W5500, ENC28J60, CYW43 on the Pico W, the ESP32
//! radio, a Linux TAP — implement [`embassy_net_driver::Driver`], which hands out frames
//! given the task's [`Context`]; tcplink's [`App::poll`] takes a smoltcp
//! [`Device`](phy::Device) and the time. This crate joins the two:
//!
//! * [`DriverDevice`]: a smoltcp `Device` over any `Driver` for the length of one poll
//!   (the driver's tokens, its MAC, MTU, burst size and checksum capabilities);
//! * [`Runner`]: the async loop that owns the [`App`]: poll, then sleep until the driver
//!   wakes the task (a frame, a link change) or the App's deadline passes. It runs on
//!   whatever executor the application already has; there is none here.
//! * [`Shared`]: how other tasks reach the services between polls (start a GET, read a
//!   counter), the same `&mut App` a bare loop has.
//!
//! # Time
//!
//! The runner reads the time and sleeps through a [`Clock`], a two-method trait of this
//! crate, rather than calling embassy-time directly: the tests drive it with a simulated
//! clock (no global time driver), and a board without embassy-time can use its own timer.
//! Feature `embassy-time` (on by default) provides `EmbassyClock`, the one an embassy
//! application wants.
//!
//! # Link state
//!
//! While the driver says the link is down, the App is not polled: nothing is sent into a
//! dead cable, and no neighbour repeat, TCP retransmission or DHCP retry is spent on it
//! (the services' timers see the elapsed time once it is back). Each change is reported to
//! the handler as a [`LinkEvent`]; when the link comes back up the runner calls the hook
//! given to [`Runner::on_link_up`], where a device with DHCP asks for a fresh lease
//! (`tcplink::dhcp::Dhcp::reset`, feature `dhcp` of the core): it may be on another network now.
//!
//! # A main
//!
//! ```
//! use tcplink::greeting::{GreetingConfig, GreetingEvent, GreetingServer};
//! use tcplink::smoltcp::iface::SocketStorage;
//! use tcplink::{App, Handler, Stack, StackConfig, TcpBuffers};
//! use tcplink_embassy::{ethernet_address, with_device, Clock, Driver, LinkEvent, Runner, Shared};
//!
//! /// What the board prints (a UART, defmt, RTT...).
//! struct Log;
//! impl Handler<GreetingEvent> for Log {
//!     fn event(&mut self, _event: GreetingEvent) {}
//! }
//! impl Handler<LinkEvent> for Log {
//!     fn event(&mut self, _event: LinkEvent) {}
//! }
//!
//! /// The network task: the greeting server on `driver`, forever.
//! async fn net_task<D: Driver, C: Clock>(mut driver: D, clock: C) -> ! {
//!     let mut slots = [SocketStorage::EMPTY; 4];
//!     let mut buffers = [const { TcpBuffers::<1024, 256>::new() }; 4];
//!     let mac = ethernet_address(&driver).expect("an Ethernet driver");
//!     let config = StackConfig::new(mac, [192, 168, 69, 2], 24).with_seed(0x5eed);
//!     let mut stack = with_device(&mut driver, |device| {
//!         Stack::new(&config, device, &mut slots, clock.now())
//!     });
//!     let greeting = GreetingServer::<4>::new(GreetingConfig::default(), &mut stack, &mut buffers);
//!     let app = Shared::new(App::new(stack, (greeting,)));
//!     Runner::new(&app, driver, clock, Log).run().await
//! }
//! ```
//!
//! (firmware/embassy/examples/tap.rs is the same on embassy's std executor and a Linux TAP.)
#![no_std]
#![forbid(unsafe_code)]
#![deny(missing_docs)]

use core::cell::{Cell, RefCell};
use core::fmt;
use core::future::{pending, poll_fn, Future};
use core::pin::{pin, Pin};
use core::task::{Context, Poll, Waker};

use embassy_net_driver as driver;
pub use embassy_net_driver::{Driver, HardwareAddress, LinkState};
use tcplink::smoltcp::phy::{self, DeviceCapabilities, Medium};
use tcplink::smoltcp::time::{Duration, Instant};
use tcplink::{App, Handler, Service};

/// The time source of a [`Runner`]: what it reads before each poll, and how it sleeps until
/// the App's next deadline.
pub trait Clock {
    /// Monotonic time (since boot, say).
    fn now(&self) -> Instant;

    /// Completes once [`now`](Self::now) has reached `deadline` (at once if it has). It may
    /// be dropped before that: a frame came first.
    fn sleep_until(&self, deadline: Instant) -> impl Future<Output = ()>;
}

/// embassy-time's clock: [`embassy_time::Instant`] and [`embassy_time::Timer`], on whichever
/// time driver the application links (a board's HAL, or embassy-time's `std` one).
#[cfg(feature = "embassy-time")]
#[derive(Debug, Clone, Copy, Default)]
pub struct EmbassyClock;

#[cfg(feature = "embassy-time")]
impl Clock for EmbassyClock {
    fn now(&self) -> Instant {
        // u64 microseconds fit an i64 for 292 000 years.
        Instant::from_micros(embassy_time::Instant::now().as_micros() as i64)
    }

    fn sleep_until(&self, deadline: Instant) -> impl Future<Output = ()> {
        let micros = deadline.total_micros().max(0) as u64;
        embassy_time::Timer::at(embassy_time::Instant::from_micros(micros))
    }
}

/// A smoltcp [`Device`](phy::Device) over an embassy [`Driver`], for one poll: the driver's
/// calls need the polling task's [`Context`] (their wakers go there), so the device borrows
/// both and lives no longer than the poll.
pub struct DriverDevice<'a, 'w, D: ?Sized> {
    driver: &'a mut D,
    cx: &'a mut Context<'w>,
}

impl<'a, 'w, D: Driver + ?Sized> DriverDevice<'a, 'w, D> {
    /// `driver`, whose wakers go to `cx`'s task.
    pub fn new(driver: &'a mut D, cx: &'a mut Context<'w>) -> Self {
        Self { driver, cx }
    }
}

/// Runs `f` with `driver` as a smoltcp device outside a poll, e.g. for
/// [`Stack::new`](tcplink::Stack::new), which reads the device's capabilities. Wakers the
/// driver registers meanwhile wake nobody; the runner's first poll registers its own.
pub fn with_device<D: Driver + ?Sized, R>(
    driver: &mut D,
    f: impl FnOnce(&mut DriverDevice<'_, '_, D>) -> R,
) -> R {
    let mut cx = Context::from_waker(Waker::noop());
    f(&mut DriverDevice::new(driver, &mut cx))
}

/// The driver's Ethernet address (`None`: the driver is not an Ethernet one, which tcplink
/// does not run on: IP-only or 802.15.4).
pub fn ethernet_address<D: Driver + ?Sized>(driver: &D) -> Option<[u8; 6]> {
    match driver.hardware_address() {
        HardwareAddress::Ethernet(mac) => Some(mac),
        _ => None,
    }
}

/// smoltcp's capabilities from the driver's: MTU, burst size and checksums (which the
/// hardware computes or verifies), on Ethernet.
pub fn capabilities(driver: &driver::Capabilities) -> DeviceCapabilities {
    let mut caps = DeviceCapabilities::default();
    caps.medium = Medium::Ethernet;
    caps.max_transmission_unit = driver.max_transmission_unit;
    caps.max_burst_size = driver.max_burst_size;
    let sums = &driver.checksum;
    caps.checksum.ipv4 = checksum(sums.ipv4);
    caps.checksum.udp = checksum(sums.udp);
    caps.checksum.tcp = checksum(sums.tcp);
    caps.checksum.icmpv4 = checksum(sums.icmpv4);
    #[cfg(feature = "ipv6")]
    {
        caps.checksum.icmpv6 = checksum(sums.icmpv6);
    }
    caps
}

fn checksum(sum: driver::Checksum) -> phy::Checksum {
    match sum {
        driver::Checksum::Both => phy::Checksum::Both,
        driver::Checksum::Rx => phy::Checksum::Rx,
        driver::Checksum::Tx => phy::Checksum::Tx,
        driver::Checksum::None => phy::Checksum::None,
    }
}

impl<D: Driver + ?Sized> phy::Device for DriverDevice<'_, '_, D> {
    type RxToken<'t>
        = RxToken<D::RxToken<'t>>
    where
        Self: 't;
    type TxToken<'t>
        = TxToken<D::TxToken<'t>>
    where
        Self: 't;

    fn receive(&mut self, _: Instant) -> Option<(Self::RxToken<'_>, Self::TxToken<'_>)> {
        let (rx, tx) = self.driver.receive(self.cx)?;
        Some((RxToken(rx), TxToken(tx)))
    }

    fn transmit(&mut self, _: Instant) -> Option<Self::TxToken<'_>> {
        self.driver.transmit(self.cx).map(TxToken)
    }

    fn capabilities(&self) -> DeviceCapabilities {
        capabilities(&self.driver.capabilities())
    }
}

/// A received frame: the driver's token as smoltcp's.
pub struct RxToken<T>(T);

impl<T: driver::RxToken> phy::RxToken for RxToken<T> {
    fn consume<R, F: FnOnce(&[u8]) -> R>(self, f: F) -> R {
        self.0.consume(|frame| f(frame))
    }
}

/// Room for a frame to send: the driver's token as smoltcp's.
pub struct TxToken<T>(T);

impl<T: driver::TxToken> phy::TxToken for TxToken<T> {
    fn consume<R, F: FnOnce(&mut [u8]) -> R>(self, len: usize, f: F) -> R {
        self.0.consume(len, f)
    }
}

/// The link came up or went down (the driver's [`LinkState`]), reported to the handler.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LinkEvent {
    /// The link is up: frames flow.
    Up,
    /// The link is down: the App waits.
    Down,
}

impl fmt::Display for LinkEvent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Up => "Link up",
            Self::Down => "Link down",
        })
    }
}

/// A value the runner and other tasks of the same executor take turns at: the [`App`].
///
/// The runner borrows it only inside a poll, which never awaits, so a task's
/// [`with`](Self::with) always finds it free; `with` then wakes the runner, which polls
/// again at once (a GET just started goes out without waiting for the next deadline).
/// It is a `RefCell`, so it cannot leave its thread: tasks on another executor or in an
/// interrupt need a message to a task of this one (embassy-sync's channels).
pub struct Shared<T> {
    value: RefCell<T>,
    runner: Cell<Option<Waker>>,
}

impl<T> Shared<T> {
    /// Shares `value`.
    pub const fn new(value: T) -> Self {
        Self {
            value: RefCell::new(value),
            runner: Cell::new(None),
        }
    }

    /// Runs `f` on the value between polls, then wakes the runner.
    ///
    /// # Panics
    /// If called from inside a poll: from the handler, or from `f` itself.
    pub fn with<R>(&self, f: impl FnOnce(&mut T) -> R) -> R {
        let out = f(&mut self.value.borrow_mut());
        if let Some(runner) = self.runner.take() {
            runner.wake();
        }
        out
    }

    /// The value, once nobody shares it any more.
    pub fn into_inner(self) -> T {
        self.value.into_inner()
    }
}

/// While the link is down, how often the runner asks the driver again, for drivers that do
/// not wake the task when their link changes.
pub const LINK_RECHECK: Duration = Duration::from_millis(500);

/// The network task's loop: polls the [`App`] with the driver's frames, reports to `H`, and
/// sleeps until the driver wakes it or the App's deadline passes.
pub struct Runner<'a, 's, S, D, C, H> {
    app: &'a Shared<App<'s, S>>,
    driver: D,
    clock: C,
    handler: H,
    link: Option<LinkState>,
    on_link_up: fn(&mut App<'s, S>),
}

impl<'a, 's, S, D, C, H> Runner<'a, 's, S, D, C, H>
where
    S: Service<H>,
    D: Driver,
    C: Clock,
    H: Handler<LinkEvent>,
{
    /// Runs `app` on `driver` with `clock`; the services and link changes report to
    /// `handler`.
    pub fn new(app: &'a Shared<App<'s, S>>, driver: D, clock: C, handler: H) -> Self {
        Self {
            app,
            driver,
            clock,
            handler,
            link: None,
            on_link_up: |_| {},
        }
    }

    /// Calls `hook` whenever the link comes back up after being down, before the next poll:
    /// e.g. `|app| { let (stack, dhcp) = app.parts(); dhcp.reset(stack) }` for a fresh lease.
    pub fn on_link_up(mut self, hook: fn(&mut App<'s, S>)) -> Self {
        self.on_link_up = hook;
        self
    }

    /// The handler, e.g. to read what it recorded.
    pub fn handler(&self) -> &H {
        &self.handler
    }

    /// The driver.
    pub fn driver_mut(&mut self) -> &mut D {
        &mut self.driver
    }

    /// Runs forever.
    pub async fn run(&mut self) -> ! {
        loop {
            self.step().await;
        }
    }

    /// Runs until `stop` completes, and returns its output (a shutdown signal; a test's
    /// script). The App keeps its state: call again to go on.
    pub async fn run_until<F: Future>(&mut self, stop: F) -> F::Output {
        let mut stop = pin!(stop);
        loop {
            let step = pin!(self.step());
            if let Some(out) = first(stop.as_mut(), step).await {
                return out;
            }
        }
    }

    /// One poll, and one wait for a wake-up or the deadline.
    async fn step(&mut self) {
        let (now, next) = poll_fn(|cx| Poll::Ready(self.poll(cx))).await;
        let due = next.is_some_and(|at| at <= now);
        let clock = &self.clock;
        let mut sleep = pin!(async move {
            match next {
                Some(at) => clock.sleep_until(at).await,
                None => pending().await,
            }
        });
        let runner = &self.app.runner;
        let mut waited = false;
        poll_fn(|cx| {
            // Once woken, by anyone (the driver, a task's `with`, the timer), poll again.
            if waited {
                return Poll::Ready(());
            }
            waited = true;
            if due {
                // Work is left over (a round limit): let other tasks run first.
                cx.waker().wake_by_ref();
                return Poll::Pending;
            }
            if sleep.as_mut().poll(cx).is_ready() {
                return Poll::Ready(());
            }
            runner.set(Some(cx.waker().clone()));
            Poll::Pending
        })
        .await
    }

    /// Looks at the link, then polls the App if it is up; returns the time of the poll and
    /// when to poll again at the latest.
    fn poll(&mut self, cx: &mut Context<'_>) -> (Instant, Option<Instant>) {
        let state = self.driver.link_state(cx);
        if self.link != Some(state) {
            let was = self.link.replace(state);
            self.handler.event(match state {
                LinkState::Up => LinkEvent::Up,
                LinkState::Down => LinkEvent::Down,
            });
            if state == LinkState::Up && was == Some(LinkState::Down) {
                (self.on_link_up)(&mut self.app.value.borrow_mut());
            }
        }
        let now = self.clock.now();
        if state == LinkState::Down {
            return (now, Some(now + LINK_RECHECK));
        }
        let mut device = DriverDevice::new(&mut self.driver, cx);
        let next = self
            .app
            .value
            .borrow_mut()
            .poll(now, &mut device, &mut self.handler);
        (now, next)
    }
}

/// Polls `stop` and `other` until one completes: `Some` with `stop`'s output, `None` if
/// `other` was first.
async fn first<A: Future, B: Future<Output = ()>>(
    mut stop: Pin<&mut A>,
    mut other: Pin<&mut B>,
) -> Option<A::Output> {
    poll_fn(|cx| {
        if let Poll::Ready(out) = stop.as_mut().poll(cx) {
            return Poll::Ready(Some(out));
        }
        other.as_mut().poll(cx).map(|()| None)
    })
    .await
}

#[cfg(test)]
mod tests {
    extern crate std;

    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;
    use std::task::Wake;

    #[test]
    fn capabilities_come_from_the_driver() {
        let mut driver = driver::Capabilities::default();
        driver.max_transmission_unit = 1514;
        driver.max_burst_size = Some(4);
        driver.checksum.ipv4 = driver::Checksum::Tx;
        driver.checksum.udp = driver::Checksum::Rx;
        driver.checksum.tcp = driver::Checksum::None;
        let caps = capabilities(&driver);
        assert_eq!(caps.medium, Medium::Ethernet);
        assert_eq!(caps.max_transmission_unit, 1514);
        assert_eq!(caps.max_burst_size, Some(4));
        // smoltcp's `Checksum` has no `PartialEq`.
        assert!(matches!(caps.checksum.ipv4, phy::Checksum::Tx));
        assert!(matches!(caps.checksum.udp, phy::Checksum::Rx));
        assert!(matches!(caps.checksum.tcp, phy::Checksum::None));
        assert!(matches!(caps.checksum.icmpv4, phy::Checksum::Both));
    }

    /// Counts its wake-ups.
    struct Count(AtomicUsize);

    impl Wake for Count {
        fn wake(self: Arc<Self>) {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
    }

    #[test]
    fn with_wakes_the_waiting_runner_once() {
        let shared = Shared::new(1);
        let count = Arc::new(Count(AtomicUsize::new(0)));
        // Nobody waits yet: nothing to wake.
        assert_eq!(shared.with(|v| *v), 1);
        shared.runner.set(Some(Waker::from(count.clone())));
        shared.with(|v| *v += 1);
        assert_eq!(count.0.load(Ordering::SeqCst), 1);
        // The runner registers again when it next waits; until then, no second wake.
        shared.with(|v| *v += 1);
        assert_eq!(count.0.load(Ordering::SeqCst), 1);
        assert_eq!(shared.into_inner(), 3);
    }
}
