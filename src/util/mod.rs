//! L0 basics that every layer may use: capped and regular-file reads and atomic writes
//! ([`fs`]) and text shown to people ([`text`]).

pub mod fs;
pub mod text;
