//! Address verification: syntax (as python-email-validator 2.x judges it),
//! disposable and role accounts, and the domain's mail servers.

pub mod dns;
pub mod lists;
pub mod probe;
pub mod syntax;
pub mod verify;
