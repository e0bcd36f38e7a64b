//! Devices for the in-memory comparisons: a capabilities override, so every contender runs
//! with the same MTU and checksum settings.

use smoltcp::phy::{ChecksumCapabilities, Device, DeviceCapabilities, Medium};
use smoltcp::time::Instant;

/// What a device advertises to smoltcp; this decides segment size and checksum work.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Profile {
    /// A real Ethernet NIC: 1514-byte frames, checksums computed and verified in software.
    /// `tcplink::link::Link` advertises exactly this.
    Ethernet,
    /// What `smoltcp::phy::Loopback` advertises: 65535-byte frames, checksums ignored.
    Loopback,
}

impl Profile {
    pub fn caps(self) -> DeviceCapabilities {
        let mut caps = DeviceCapabilities::default();
        caps.medium = Medium::Ethernet;
        match self {
            Profile::Ethernet => caps.max_transmission_unit = 1514,
            Profile::Loopback => {
                caps.max_transmission_unit = 65535;
                caps.checksum = ChecksumCapabilities::ignored();
            }
        }
        caps
    }

    pub fn label(self) -> &'static str {
        match self {
            Profile::Ethernet => "Ethernet caps (MTU 1514, checksums on)",
            Profile::Loopback => "Loopback caps (MTU 65535, checksums off)",
        }
    }
}

/// `inner` with its capabilities replaced; frames pass through untouched.
pub struct Caps<D> {
    pub inner: D,
    caps: DeviceCapabilities,
}

impl<D: Device> Caps<D> {
    pub fn new(inner: D, profile: Profile) -> Self {
        Self {
            inner,
            caps: profile.caps(),
        }
    }
}

impl<D: Device> Device for Caps<D> {
    type RxToken<'a>
        = D::RxToken<'a>
    where
        Self: 'a;
    type TxToken<'a>
        = D::TxToken<'a>
    where
        Self: 'a;

    fn receive(&mut self, now: Instant) -> Option<(Self::RxToken<'_>, Self::TxToken<'_>)> {
        self.inner.receive(now)
    }

    fn transmit(&mut self, now: Instant) -> Option<Self::TxToken<'_>> {
        self.inner.transmit(now)
    }

    fn capabilities(&self) -> DeviceCapabilities {
        self.caps.clone()
    }
}
