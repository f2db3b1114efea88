//! The change events of the table's stream (`domain::events`), for the stream publisher: which
//! committed writes are news is read from a stream record's old and new images, items as the
//! store writes them, so the reading is the store's.

pub use store::changes::change_events;
