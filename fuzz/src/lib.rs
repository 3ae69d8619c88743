//! What several fuzz targets share, compiled once as this package's library: [`school`], the
//! demo school served in process for the targets that go through the HTTP routes
//! (`fuzz_http_bodies`, `fuzz_manifest`). A target imports it (`use livegate_fuzz::school`)
//! rather than including the file by a path attribute.

pub mod school;
