//! Black-box integration tests live in `tests/it/`.
