//! The stages of the workflow as commands over the Store, and the workers
//! that run them in the background. Commands take `&dyn Store`: they never
//! know which database is behind it.

pub mod drafting;
pub mod governance;
pub mod inbox;
pub mod links;
pub mod list_building;
pub mod research;
pub mod send_approval;
pub mod sending;
pub mod workers;
pub mod workspace;

pub use workers::{DraftingDuty, Worked, Worker, WorkerConfig};
