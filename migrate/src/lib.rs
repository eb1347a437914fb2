//! Schema migrations for covet.
