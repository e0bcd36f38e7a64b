//! Arbitrary bytes sent to the greeting server through a real socket pair on the in-memory
//! link: the server never panics, and its replies are `Welcome` then `Hello, X!` for messages
//! that are exactly the input with framing removed (up to an `exit`).
#![no_main]

use libfuzzer_sys::fuzz_target;
use smoltcp::time::Duration;
use tcplink::greeting::GreetingConfig;
use tcplink_testkit::{greeting_echo, Client, Sim, Step};

fuzz_target!(|data: &[u8]| {
    if data.is_empty() || data.len() > 4096 {
        return;
    }
    let mut sim = Sim::<1>::greeting(GreetingConfig::default(), 1);
    let c = sim.start(Client::new(vec![
        Step::Recv,
        Step::Send(data.to_vec()),
        Step::Pause(Duration::from_secs(1)),
        Step::Close,
    ]));
    sim.run_clients(Duration::from_secs(120));
    let received = &sim.peer.client(c).received;
    let echoed = greeting_echo(data, received).expect("replies are Welcome then Hello, X! for the input");
    let unframed = data.iter().filter(|&&b| b != b'\n' && b != b'\r').count();
    // Everything is answered unless an `exit` message closed the session early.
    if !data.windows(4).any(|w| w == b"exit") {
        assert_eq!(echoed, unframed);
    }
});
