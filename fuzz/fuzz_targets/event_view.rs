//! Holds the zero-copy event view to the `aws_lambda_events` parse: for any bytes, whenever
//! `event::view` answers, its answer is the typed parse's (the same normalised request, in
//! canonical form, or the same refusal). Where the view does not answer, the handler uses the
//! typed parse itself, so the handler's reading of an event is always the typed one.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tollgate::event;

fuzz_target!(|data: &[u8]| {
    if let Some(viewed) = event::view(data) {
        let typed = event::parse_typed(data).map(|r| r.canonical());
        assert_eq!(
            viewed.map(|r| r.canonical()),
            typed,
            "the view and the typed parse read this event differently"
        );
    }
});
