//! Mail: address verification today; outbound MIME, DKIM, SMTP and inbound
//! parsing as later stages need them.

pub mod address;
