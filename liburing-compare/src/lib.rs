//! Tests only (`tests/prep_bytes.rs`): every `Sqe::prep_*` of `uring-zc` that liburing
//! has a helper for, checked byte for byte against that helper (liburing 2.15, through the
//! `axboe-liburing` transliteration). Nothing here is published or used by the library.
