//! URL parsing and redirect resolution on arbitrary text: no panic, and what parses prints
//! back to something that parses to the same parts.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tcplink::url::{resolve, Url};

fuzz_target!(|input: (&str, &str)| {
    let (text, location) = input;
    if let Ok(url) = Url::parse(text) {
        let printed = url.to_string();
        let again = Url::parse(&printed).expect("a printed URL parses");
        assert_eq!((again.host, again.port), (url.host, url.port));
        let mut out = heapless::String::<256>::new();
        if resolve(&url, location, &mut out).is_ok() {
            Url::parse(&out).expect("a resolved URL parses");
        }
    }
});
