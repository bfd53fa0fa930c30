//! Host-side tools shared by the `myst` CLI: building and unpacking CPIO root file systems,
//! application directories from host programs, `config.json`, and size strings.

pub mod appdir;
pub mod config;
pub mod cpio;
pub mod size;
