//! LUKS1 with aes-xts-plain64 and a 512-bit master key, compatible with `cryptsetup`.
//!
//! * [`LuksHeader`]: parse and write the 592-byte header, with a clear error for every bad
//!   field.
//! * [`LuksDevice`]: open an image with the master key (checked against the header's PBKDF2
//!   digest) or a passphrase, and read the decrypted payload through [`BlockRead`].
//! * [`format`]: write a header area with the master key in key slot 0 under a passphrase;
//!   [`XtsPlain64`] / [`encrypt_sectors`] encrypt the payload.
//!
//! The [`BlockRead`] trait comes from `myst-verity` (the dependency points crypt → verity), so
//! the two stack either way: `LuksDevice<VerityDevice<Image>>` when verity covers the
//! ciphertext, as myst images do.
#![cfg_attr(not(test), no_std)]
#![forbid(unsafe_code)]

extern crate alloc;

mod device;
pub mod header;
mod keys;
pub mod xts;

pub use device::LuksDevice;
pub use header::{HashSpec, KeySlot, LuksError, LuksHeader};
pub use keys::{
    check_master_key, format, master_key_digest, unlock_slot, unlock_slot_material, unlock_with_passphrase, uuid_text, FormatOptions,
    MasterKey, DEFAULT_PAYLOAD_OFFSET, MIN_PAYLOAD_OFFSET,
};
pub use myst_verity::{BlockRead, IoError};
pub use xts::{decrypt_sectors, encrypt_sectors, XtsPlain64, SECTOR_SIZE};
