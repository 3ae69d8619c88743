//! The Livegate recorder: every lesson recorded, sealed before it touches disk, and kept in
//! object storage under names that say nothing about anyone.
//!
//! Modules: [`seal`] (the streaming AEAD format of segments and manifests), [`keys`] (the
//! school's key-encryption key and wrapped data keys) and [`webm`] (remuxing frames to WebM
//! segments, and joining segments for export); [`timeline`] groups a recording's streams into one
//! named timeline per person and kind.

pub mod frames;
pub mod keys;
pub mod objstore;
pub mod seal;
pub mod spool;
pub mod timeline;
pub mod webm;
