//! A seeded synthetic feedback history for `tuneloop demo` (being written).
