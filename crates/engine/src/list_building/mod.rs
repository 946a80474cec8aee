//! Stage 1, list building: importing and verifying contacts, scoring them
//! against the ideal customer profile.

pub mod enroll;
pub mod facts;
pub mod import;
pub mod lookalike;
pub mod score;
pub mod verify;
