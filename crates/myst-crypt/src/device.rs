//! The decrypting reader.

use alloc::vec;

use myst_verity::{BlockRead, IoError};

use crate::header::KEY_MATERIAL_SECTORS;
use crate::header::{LuksError, LuksHeader, PHDR_SIZE};
use crate::keys::{check_master_key, unlock_slot_material, MasterKey};
use crate::xts::{XtsPlain64, SECTOR_SIZE};

/// A LUKS1 image opened with its master key: [`BlockRead`] over the decrypted payload.
///
/// Sector `n` of the payload (bytes `payload_offset*512 + 512 n ..`) is decrypted with
/// aes-xts-plain64 and IV `n`, as dm-crypt maps a LUKS1 device. XTS has no integrity: a
/// changed ciphertext byte decrypts to garbage, not to an error (dm-verity under this device
/// is what catches tampering).
pub struct LuksDevice<D> {
    dev: D,
    header: LuksHeader,
    cipher: XtsPlain64,
    payload_start: u64,
    len: u64,
}

impl<D: BlockRead> LuksDevice<D> {
    fn read_header(dev: &D) -> Result<LuksHeader, LuksError> {
        let size = dev.len();
        if size < PHDR_SIZE as u64 {
            return Err(LuksError::Truncated { what: "header", needed: PHDR_SIZE as u64, actual: size });
        }
        let mut phdr = [0u8; PHDR_SIZE];
        dev.read_at(0, &mut phdr)?;
        let header = LuksHeader::parse(&phdr)?;
        if size < header.header_area_size() {
            return Err(LuksError::Truncated { what: "image", needed: header.header_area_size(), actual: size });
        }
        Ok(header)
    }

    /// Opens `dev` with the master key; fails with [`LuksError::WrongKey`] if the key does not
    /// match the header's digest.
    pub fn open(dev: D, master_key: &MasterKey) -> Result<Self, LuksError> {
        let header = Self::read_header(&dev)?;
        check_master_key(&header, master_key)?;
        Ok(Self::with_key(dev, header, master_key))
    }

    /// Opens `dev` with a passphrase (or a key file's contents) through its key slots.
    pub fn open_with_passphrase(dev: D, passphrase: &[u8]) -> Result<Self, LuksError> {
        let header = Self::read_header(&dev)?;
        // Read only the active slots' key material (the header area itself may be huge).
        let mut material = vec![0u8; KEY_MATERIAL_SECTORS as usize * SECTOR_SIZE];
        let mut any = false;
        for (i, slot) in header.slots.iter().enumerate() {
            if !slot.active {
                continue;
            }
            any = true;
            dev.read_at(slot.key_material_offset as u64 * SECTOR_SIZE as u64, &mut material)?;
            match unlock_slot_material(&header, i, &material, passphrase) {
                Ok(key) => return Ok(Self::with_key(dev, header, &key)),
                Err(LuksError::WrongPassphrase) => {}
                Err(e) => return Err(e),
            }
        }
        Err(if any { LuksError::WrongPassphrase } else { LuksError::NoActiveKeySlot })
    }

    fn with_key(dev: D, header: LuksHeader, key: &MasterKey) -> Self {
        let payload_start = header.header_area_size();
        let len = (dev.len() - payload_start) / SECTOR_SIZE as u64 * SECTOR_SIZE as u64;
        LuksDevice { dev, header, cipher: XtsPlain64::new(key), payload_start, len }
    }

    /// The parsed header.
    pub fn header(&self) -> &LuksHeader {
        &self.header
    }

    /// The underlying device.
    pub fn inner(&self) -> &D {
        &self.dev
    }

    /// Gives the underlying device back.
    pub fn into_inner(self) -> D {
        self.dev
    }

    fn read_sectors(&self, sector: u64, buf: &mut [u8]) -> Result<(), IoError> {
        self.dev.read_at(self.payload_start + sector * SECTOR_SIZE as u64, buf)?;
        self.cipher.decrypt_sectors(sector, buf);
        Ok(())
    }
}

impl<D: BlockRead> BlockRead for LuksDevice<D> {
    /// Size of the payload (whole sectors).
    fn len(&self) -> u64 {
        self.len
    }

    fn read_at(&self, offset: u64, buf: &mut [u8]) -> Result<(), IoError> {
        let err = IoError::OutOfRange { offset, len: buf.len() as u64, size: self.len };
        let end = offset.checked_add(buf.len() as u64).ok_or(err)?;
        if end > self.len {
            return Err(err);
        }
        let ss = SECTOR_SIZE as u64;
        let mut pos = 0usize;
        while pos < buf.len() {
            let off = offset + pos as u64;
            let sector = off / ss;
            let within = (off % ss) as usize;
            let left = buf.len() - pos;
            if within == 0 && left >= SECTOR_SIZE {
                let n = left / SECTOR_SIZE * SECTOR_SIZE;
                self.read_sectors(sector, &mut buf[pos..pos + n])?;
                pos += n;
            } else {
                let mut tmp = [0u8; SECTOR_SIZE];
                self.read_sectors(sector, &mut tmp)?;
                let n = core::cmp::min(SECTOR_SIZE - within, left);
                buf[pos..pos + n].copy_from_slice(&tmp[within..within + n]);
                pos += n;
            }
        }
        Ok(())
    }
}
