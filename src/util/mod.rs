//! L0 basics that every layer may use: capped and regular-file reads and atomic writes
//! ([`fs`]), duplicate-refusing JSON ([`json`]), text shown to people ([`text`]), RFC 3339
//! and the injected clock ([`time`]), and Go-style durations ([`duration`]).

pub mod duration;
pub mod fs;
pub mod json;
pub mod text;
pub mod time;
