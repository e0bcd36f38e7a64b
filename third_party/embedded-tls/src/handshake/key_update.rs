// tcplink patch: the server's KeyUpdate (RFC 8446 §4.6.3), read by the record layer.
use crate::TlsError;
use crate::parse_buffer::ParseBuffer;

#[derive(Debug, Clone, Copy)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct KeyUpdate {
    /// The server asks for a KeyUpdate of ours before our next application data.
    pub update_requested: bool,
}

impl KeyUpdate {
    pub fn parse(buf: &mut ParseBuffer) -> Result<Self, TlsError> {
        match buf.read_u8().map_err(|_| TlsError::InvalidHandshake)? {
            0 => Ok(Self {
                update_requested: false,
            }),
            1 => Ok(Self {
                update_requested: true,
            }),
            _ => Err(TlsError::InvalidHandshake),
        }
    }
}
