//! The Livegate recorder: every lesson recorded, sealed before it touches disk, and kept in
//! object storage under names that say nothing about anyone.
//!
//! Modules: [`seal`] (the streaming AEAD format of segments and manifests), [`keys`] (the
//! school's key-encryption key and wrapped data keys), [`frames`] (media frames from RTP),
//! [`spool`] (the sealed segments waiting on disk), [`objstore`] (the S3 bucket) and [`webm`]
//! (remuxing frames to WebM segments, and joining segments for export); [`timeline`] groups a
//! recording's streams into one named timeline per person and kind.
//!
//! **What may never come in here.** The server (`livegate`) and the media core
//! (`livegate-sfu`): the server's media engine hands frames to the recorder through a small
//! trait of its own (`media::Tap`), so the arrow points one way. No database and no HTTP.

pub mod frames;
pub mod keys;
pub mod objstore;
pub mod seal;
pub mod spool;
pub mod timeline;
pub mod webm;
