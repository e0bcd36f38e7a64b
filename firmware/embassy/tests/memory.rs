//! The runner over the in-memory link, wrapped as an embassy `Driver`, under the test kit's
//! simulated clock: the seed's transcript through it, and the link taken down mid-session.
//!
//! One task runs everything, as on a board: the runner, and the "stop" future that plays the
//! network (the peer host, the cable, the clock). Time jumps to the next deadline whenever
//! the link is quiet, so a test of many seconds takes milliseconds.

use std::cell::{Cell, RefCell};
use std::fmt::Display;
use std::future::{poll_fn, Future};
use std::pin::pin;
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll, Wake, Waker};

use embassy_net_driver::{Capabilities, Driver, HardwareAddress, LinkState};
use tcplink::greeting::{GreetingConfig, GreetingServer, DEFAULT_PORT};
use tcplink::smoltcp::phy;
use tcplink::smoltcp::time::{Duration, Instant};
use tcplink::smoltcp::wire::IpEndpoint;
use tcplink::{App, Handler, TcpBuffers};
use tcplink_embassy::{Clock, Runner, Shared};
use tcplink_testkit::{
    earliest, leak, new_link, Client, DeviceSetup, Node, Outcome, Peer, SimLink, DEVICE_IP,
    DEVICE_MAC, GREETING_RX, GREETING_TX,
};

const SEED: [&str; 4] = ["Welcome", "Hello, Alice!", "Hello, Bob!", "Hello, Jack!"];

/// The simulated time, shared by the clock, the driver and the network.
type Now = Rc<Cell<Instant>>;

/// A clock that sleeps until the network moves the simulated time on.
struct SimClock {
    now: Now,
    /// The runner's last deadline: where the network jumps to when it is quiet.
    wanted: Rc<Cell<Option<Instant>>>,
}

impl Clock for SimClock {
    fn now(&self) -> Instant {
        self.now.get()
    }

    fn sleep_until(&self, deadline: Instant) -> impl Future<Output = ()> {
        self.wanted.set(Some(deadline));
        let now = self.now.clone();
        poll_fn(move |_| {
            if now.get() >= deadline {
                Poll::Ready(())
            } else {
                Poll::Pending
            }
        })
    }
}

/// An embassy `Driver` over a smoltcp device (the test kit's port of the in-memory link),
/// with a cable that can be pulled: while it is out, frames sent to the device are lost.
struct CableDriver<P> {
    port: P,
    now: Now,
    up: Rc<Cell<bool>>,
    /// The task to wake when a frame arrives or the cable changes: a NIC's interrupt.
    waker: Rc<RefCell<Option<Waker>>>,
}

impl<P: phy::Device> Driver for CableDriver<P> {
    type RxToken<'a>
        = Rx<P::RxToken<'a>>
    where
        Self: 'a;
    type TxToken<'a>
        = Tx<P::TxToken<'a>>
    where
        Self: 'a;

    fn receive(&mut self, cx: &mut Context) -> Option<(Self::RxToken<'_>, Self::TxToken<'_>)> {
        assert!(
            self.up.get(),
            "the runner reads frames only while the link is up"
        );
        match self.port.receive(self.now.get()) {
            Some((rx, tx)) => Some((Rx(rx), Tx(tx))),
            None => {
                *self.waker.borrow_mut() = Some(cx.waker().clone());
                None
            }
        }
    }

    fn transmit(&mut self, _cx: &mut Context) -> Option<Self::TxToken<'_>> {
        assert!(self.up.get(), "the runner sends only while the link is up");
        self.port.transmit(self.now.get()).map(Tx)
    }

    fn link_state(&mut self, cx: &mut Context) -> LinkState {
        *self.waker.borrow_mut() = Some(cx.waker().clone());
        if self.up.get() {
            return LinkState::Up;
        }
        // No cable: what was sent to the device is lost.
        while let Some((rx, _)) = self.port.receive(self.now.get()) {
            phy::RxToken::consume(rx, |_| ());
        }
        LinkState::Down
    }

    fn capabilities(&self) -> Capabilities {
        let mut caps = Capabilities::default();
        caps.max_transmission_unit = self.port.capabilities().max_transmission_unit;
        caps
    }

    fn hardware_address(&self) -> HardwareAddress {
        HardwareAddress::Ethernet(DEVICE_MAC)
    }
}

struct Rx<T>(T);

impl<T: phy::RxToken> embassy_net_driver::RxToken for Rx<T> {
    fn consume<R, F: FnOnce(&mut [u8]) -> R>(self, f: F) -> R {
        self.0.consume(|frame| f(&mut frame.to_vec()))
    }
}

struct Tx<T>(T);

impl<T: phy::TxToken> embassy_net_driver::TxToken for Tx<T> {
    fn consume<R, F: FnOnce(&mut [u8]) -> R>(self, len: usize, f: F) -> R {
        self.0.consume(len, f)
    }
}

/// The platform's handler: every event as its log line.
#[derive(Default)]
struct Log(Vec<String>);

impl<E: Display> Handler<E> for Log {
    fn event(&mut self, event: E) {
        self.0.push(event.to_string());
    }
}

/// A waker that unparks the test thread.
struct Unpark(std::thread::Thread, AtomicBool);

impl Wake for Unpark {
    fn wake(self: Arc<Self>) {
        self.1.store(true, Ordering::SeqCst);
        self.0.unpark();
    }
}

/// The executor: polls `future` on this thread until it completes, sleeping while nobody
/// woke it.
fn block_on<F: Future>(future: F) -> F::Output {
    let unpark = Arc::new(Unpark(std::thread::current(), AtomicBool::new(true)));
    let waker = Waker::from(unpark.clone());
    let mut cx = Context::from_waker(&waker);
    let mut future = pin!(future);
    let started = std::time::Instant::now();
    loop {
        if unpark.1.swap(false, Ordering::SeqCst) {
            if let Poll::Ready(out) = future.as_mut().poll(&mut cx) {
                return out;
            }
        } else {
            std::thread::park_timeout(std::time::Duration::from_millis(100));
        }
        assert!(
            started.elapsed() < std::time::Duration::from_secs(20),
            "the test ran 20 s of real time"
        );
    }
}

/// The greeting server on end 0 of a new link, run through the runner.
struct Bench {
    link: &'static SimLink,
    now: Now,
    wanted: Rc<Cell<Option<Instant>>>,
    up: Rc<Cell<bool>>,
    waker: Rc<RefCell<Option<Waker>>>,
    app: &'static Shared<App<'static, (GreetingServer<4>,)>>,
    driver: Option<CableDriver<tcplink_testkit::FaultyPort>>,
}

impl Bench {
    fn new() -> Self {
        let link = new_link();
        let Node { app, port, .. } =
            Node::build(link, &DeviceSetup::default(), 4, Instant::ZERO, |stack| {
                let buffers = leak([const { TcpBuffers::<GREETING_RX, GREETING_TX>::new() }; 4]);
                (GreetingServer::<4>::new(
                    GreetingConfig::default(),
                    stack,
                    buffers,
                ),)
            });
        let now = Rc::new(Cell::new(Instant::ZERO));
        let up = Rc::new(Cell::new(true));
        let waker = Rc::new(RefCell::new(None));
        let driver = CableDriver {
            port,
            now: now.clone(),
            up: up.clone(),
            waker: waker.clone(),
        };
        Self {
            link,
            now,
            wanted: Rc::new(Cell::new(None)),
            up,
            waker,
            app: leak(Shared::new(app)),
            driver: Some(driver),
        }
    }

    fn clock(&self) -> SimClock {
        SimClock {
            now: self.now.clone(),
            wanted: self.wanted.clone(),
        }
    }

    /// Wakes the device's task as its NIC would.
    fn interrupt(&self) {
        if let Some(waker) = self.waker.borrow_mut().take() {
            waker.wake();
        }
    }

    /// The network side as a future: runs `peer` (and `script`, given the time) until
    /// `done`, moving the simulated time on whenever the link is quiet; panics after
    /// `limit` of simulated time.
    async fn network(
        &self,
        peer: &mut Peer,
        limit: Duration,
        mut script: impl FnMut(&Bench, &Peer),
        done: impl Fn(&Peer) -> bool,
    ) {
        let end = self.now.get() + limit;
        poll_fn(|cx| {
            let now = self.now.get();
            let next = peer.poll(now);
            script(self, peer);
            if done(peer) {
                return Poll::Ready(());
            }
            cx.waker().wake_by_ref();
            if self.link.in_flight() > 0 {
                // Frames for the device (its NIC interrupts) or for the peer (next turn).
                self.interrupt();
                return Poll::Pending;
            }
            assert!(
                now < end,
                "not done after {limit}: {:#?}",
                peer.clients().collect::<Vec<_>>()
            );
            let next = earliest(next, self.wanted.take())
                .unwrap_or(end)
                .max(now + Duration::from_millis(1));
            self.now.set(next.min(end));
            Poll::Pending
        })
        .await
    }
}

fn seed_client(peer: &mut Peer, now: Instant) -> usize {
    let server = IpEndpoint::new(DEVICE_IP.into(), DEFAULT_PORT);
    peer.connect(server, Client::seed(&["Alice", "Bob", "Jack"]), now)
}

#[test]
fn seed_transcript_through_the_runner() {
    let mut bench = Bench::new();
    let driver = bench.driver.take().unwrap();
    let mut runner = Runner::new(bench.app, driver, bench.clock(), Log::default());
    let mut peer = Peer::new(bench.link, 2, Instant::ZERO);
    let client = seed_client(&mut peer, Instant::ZERO);
    let network = bench.network(
        &mut peer,
        Duration::from_secs(5),
        |_, _| {},
        |peer| peer.clients().all(Client::finished),
    );
    block_on(runner.run_until(network));

    let client = peer.client(client);
    assert_eq!(client.outcome(), Some(Outcome::Completed));
    assert_eq!(client.transcript_strings(), SEED);
    assert_eq!(client.received, SEED.concat().as_bytes());
    let log = &runner.handler().0;
    assert_eq!(log[0], "Link up");
    assert_eq!(
        log[1],
        format!(
            "Accept new connection from 10.0.0.1:{}...",
            client.local_port
        )
    );
    // The device's services are reachable between polls: the session is over.
    let active = bench.app.with(|app| app.services().0.active());
    assert_eq!(active, 0);
}

/// Times the link-up hook ran (a hook is a plain `fn`).
static LINK_UPS: AtomicUsize = AtomicUsize::new(0);

#[test]
fn the_link_goes_down_and_up_mid_session() {
    let mut bench = Bench::new();
    let driver = bench.driver.take().unwrap();
    let mut runner =
        Runner::new(bench.app, driver, bench.clock(), Log::default()).on_link_up(|_app| {
            LINK_UPS.fetch_add(1, Ordering::SeqCst);
        });
    let mut peer = Peer::new(bench.link, 2, Instant::ZERO);
    let client = seed_client(&mut peer, Instant::ZERO);
    // Pull the cable once Alice has her answer; put it back 5 s later.
    let down_at = Cell::new(None::<Instant>);
    let sent_when_down = Cell::new(0);
    let script = |bench: &Bench, peer: &Peer| {
        let now = bench.now.get();
        let transcript = peer.client(0).transcript.len();
        match down_at.get() {
            None if transcript == 2 => {
                down_at.set(Some(now));
                bench.up.set(false);
                sent_when_down.set(bench.link.stats(0).sent);
                bench.interrupt();
            }
            Some(at) if !bench.up.get() && now >= at + Duration::from_secs(5) => {
                assert_eq!(
                    bench.link.stats(0).sent,
                    sent_when_down.get(),
                    "the device sent nothing while its link was down"
                );
                assert_eq!(transcript, 2, "nothing got through a pulled cable");
                bench.up.set(true);
                bench.interrupt();
            }
            _ => {}
        }
    };
    let network = bench.network(&mut peer, Duration::from_secs(60), script, |peer| {
        peer.clients().all(Client::finished)
    });
    block_on(runner.run_until(network));

    let client = peer.client(client);
    assert_eq!(client.outcome(), Some(Outcome::Completed));
    assert_eq!(client.transcript_strings(), SEED);
    assert_eq!(
        LINK_UPS.load(Ordering::SeqCst),
        1,
        "the hook ran once, on the way back up"
    );
    let log = &runner.handler().0;
    let link: Vec<_> = log.iter().filter(|l| l.starts_with("Link")).collect();
    assert_eq!(link, ["Link up", "Link down", "Link up"]);
    assert!(down_at.get().is_some());
}
