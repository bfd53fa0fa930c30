//! Host-side tools shared by the `myst` CLI: building and unpacking CPIO root file systems,
//! application directories from host programs, `config.json`, size strings, and trusted ext2
//! images (`mkext2`, `fssig`, `verify`: ext2 + dm-verity + optional LUKS1 + FSSIG trailer).

pub mod appdir;
pub mod config;
pub mod cpio;
pub mod ext2img;
pub mod imgio;
pub mod size;
pub mod verify;
