//! Structure-aware round trips: the fuzzer's bytes pick a message type and
//! build a value of it (`arbitrary`), and decode(encode(x)) must give x back,
//! for every request and every reply payload of the protocol.

use arbitrary::{Arbitrary, Unstructured};
use dsrestore_protocol::{
    decode, encode, BackupPrepared, ByteBuf, Error, FileOpened, HelloOk, Location, Prepared, Reply,
    Request,
};
use serde::de::DeserializeOwned;
use serde::Serialize;

fn check<T>(u: &mut Unstructured<'_>)
where
    T: for<'a> Arbitrary<'a> + Serialize + DeserializeOwned + PartialEq + std::fmt::Debug,
{
    let Ok(value) = T::arbitrary(u) else {
        return;
    };
    let encoded = encode(&value);
    match decode::<T>(&encoded) {
        Ok(again) => assert_eq!(again, value, "changed in a round trip: {encoded:02x?}"),
        Err(e) => panic!("{value:?} does not decode from its own encoding ({e}): {encoded:02x?}"),
    }
}

/// A read's reply carries a byte string (`ByteBuf`), which `arbitrary` does
/// not build: it is made from bytes here.
fn check_read_reply(u: &mut Unstructured<'_>) {
    let Ok(reply) = Reply::<Vec<u8>>::arbitrary(u) else {
        return;
    };
    let reply = match reply {
        Reply::Ok(bytes) => Reply::Ok(ByteBuf::from(bytes)),
        Reply::Err(e) => Reply::Err(e),
    };
    let again: Reply<ByteBuf> = decode(&encode(&reply)).expect("a read reply decodes");
    assert_eq!(again, reply);
}

/// The fuzz target's body.
pub fn messages_round_trip(data: &[u8]) {
    let mut u = Unstructured::new(data);
    let checks: &[fn(&mut Unstructured<'_>)] = &[
        check::<Request>,
        check::<Reply<HelloOk>>,
        check::<Reply<bool>>,
        check::<Reply<Prepared>>,
        check::<Reply<Vec<Location>>>,
        check::<Reply<()>>,
        check::<Reply<BackupPrepared>>,
        check::<Reply<FileOpened>>,
        check_read_reply,
        check::<Error>,
    ];
    while let Ok(which) = u.choose_index(checks.len()) {
        checks[which](&mut u);
        if u.is_empty() {
            break;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_message_type_is_reached() {
        // The first byte picks the type (choose_index takes one byte modulo
        // the count), so these inputs build one value of each.
        for first in 0..10u8 {
            let mut data = vec![first, 0, 0, 0];
            data.extend(std::iter::repeat_n(0x41, 64));
            messages_round_trip(&data);
        }
    }
}
