//! aes-xts-plain64 over 512-byte sectors, as dm-crypt does it.
//!
//! The 64-byte key is two AES-256 keys: the first encrypts data, the second encrypts the
//! tweak. The IV ("plain64") of a sector is its number as a 64-bit little-endian integer,
//! zero-extended to 16 bytes. Within a sector, the tweak of block `j` is the encrypted IV
//! multiplied by `x^j` in GF(2^128) (little-endian convention, reduction 0x87).
//!
//! All 32 blocks of a sector go through the cipher in one `encrypt_blocks` call so that the
//! AES implementation can pipeline them (the `xts-mode` crate, used as the reference in the
//! tests, does one block at a time).

use aes::cipher::generic_array::GenericArray;
use aes::cipher::{BlockDecrypt, BlockEncrypt, KeyInit};
use aes::Aes256;

/// dm-crypt sector size.
pub const SECTOR_SIZE: usize = 512;
/// Size of an aes-xts-plain64 key with AES-256.
pub const KEY_SIZE: usize = 64;
const BLOCKS_PER_SECTOR: usize = SECTOR_SIZE / 16;

type Block = GenericArray<u8, aes::cipher::consts::U16>;

/// An aes-xts-plain64 cipher with its key schedule expanded once.
#[derive(Clone)]
pub struct XtsPlain64 {
    data: Aes256,
    tweak: Aes256,
}

impl core::fmt::Debug for XtsPlain64 {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("XtsPlain64 { .. }")
    }
}

fn next_tweak(t: u128) -> u128 {
    (t << 1) ^ ((t >> 127) * 0x87)
}

impl XtsPlain64 {
    /// A cipher for a 64-byte key (data key, then tweak key).
    pub fn new(key: &[u8; KEY_SIZE]) -> Self {
        XtsPlain64 { data: Aes256::new(GenericArray::from_slice(&key[..32])), tweak: Aes256::new(GenericArray::from_slice(&key[32..])) }
    }

    fn first_tweak(&self, sector: u64) -> u128 {
        let mut iv = Block::clone_from_slice(&(sector as u128).to_le_bytes());
        self.tweak.encrypt_block(&mut iv);
        let mut a = [0u8; 16];
        a.copy_from_slice(&iv);
        u128::from_le_bytes(a)
    }

    fn sector(&self, number: u64, sector: &mut [u8], encrypt: bool) {
        let mut tweaks = [0u128; BLOCKS_PER_SECTOR];
        let mut t = self.first_tweak(number);
        for slot in tweaks.iter_mut() {
            *slot = t;
            t = next_tweak(t);
        }
        let mut blocks = [Block::default(); BLOCKS_PER_SECTOR];
        for ((b, chunk), t) in blocks.iter_mut().zip(sector.chunks_exact(16)).zip(&tweaks) {
            let mut a = [0u8; 16];
            a.copy_from_slice(chunk);
            b.copy_from_slice(&(u128::from_le_bytes(a) ^ t).to_le_bytes());
        }
        if encrypt {
            self.data.encrypt_blocks(&mut blocks);
        } else {
            self.data.decrypt_blocks(&mut blocks);
        }
        for ((b, chunk), t) in blocks.iter().zip(sector.chunks_exact_mut(16)).zip(&tweaks) {
            let mut a = [0u8; 16];
            a.copy_from_slice(b);
            chunk.copy_from_slice(&(u128::from_le_bytes(a) ^ t).to_le_bytes());
        }
    }

    /// Encrypts whole sectors in place; `data[0..512]` is sector `first_sector`. Any partial
    /// sector at the end of `data` is left untouched (callers pass whole sectors).
    pub fn encrypt_sectors(&self, first_sector: u64, data: &mut [u8]) {
        for (i, s) in data.chunks_exact_mut(SECTOR_SIZE).enumerate() {
            self.sector(first_sector.wrapping_add(i as u64), s, true);
        }
    }

    /// Decrypts whole sectors in place; `data[0..512]` is sector `first_sector`. Any partial
    /// sector at the end of `data` is left untouched.
    pub fn decrypt_sectors(&self, first_sector: u64, data: &mut [u8]) {
        for (i, s) in data.chunks_exact_mut(SECTOR_SIZE).enumerate() {
            self.sector(first_sector.wrapping_add(i as u64), s, false);
        }
    }
}

/// Encrypts whole sectors with `key` (aes-xts-plain64); `data[0..512]` is sector `first_sector`.
pub fn encrypt_sectors(key: &[u8; KEY_SIZE], first_sector: u64, data: &mut [u8]) {
    XtsPlain64::new(key).encrypt_sectors(first_sector, data)
}

/// Decrypts whole sectors with `key` (aes-xts-plain64); `data[0..512]` is sector `first_sector`.
pub fn decrypt_sectors(key: &[u8; KEY_SIZE], first_sector: u64, data: &mut [u8]) {
    XtsPlain64::new(key).decrypt_sectors(first_sector, data)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{Rng, RngCore, SeedableRng};

    #[test]
    fn matches_xts_mode_crate() {
        let mut r = rand::rngs::StdRng::seed_from_u64(7);
        for _ in 0..20 {
            let mut key = [0u8; 64];
            r.fill_bytes(&mut key);
            let sectors = r.gen_range(1..9);
            let first: u64 = if r.gen() { r.gen() } else { r.gen_range(0..10) };
            let mut plain = vec![0u8; sectors * SECTOR_SIZE];
            r.fill_bytes(&mut plain);

            let mut ours = plain.clone();
            encrypt_sectors(&key, first, &mut ours);
            let reference =
                xts_mode::Xts128::new(Aes256::new(GenericArray::from_slice(&key[..32])), Aes256::new(GenericArray::from_slice(&key[32..])));
            let mut theirs = plain.clone();
            for (i, s) in theirs.chunks_exact_mut(SECTOR_SIZE).enumerate() {
                let n = first.wrapping_add(i as u64);
                reference.encrypt_sector(s, xts_mode::get_tweak_default(n as u128));
            }
            assert_eq!(ours, theirs);
            decrypt_sectors(&key, first, &mut ours);
            assert_eq!(ours, plain);
        }
    }

    #[test]
    fn ieee_p1619_xts_aes_256_vector() {
        // IEEE P1619/D16 XTS-AES-256 test vector (key1 = 2718..., key2 = 3141..., sector 0xff).
        let mut key = [0u8; 64];
        let k1 = "2718281828459045235360287471352662497757247093699959574966967627";
        let k2 = "3141592653589793238462643383279502884197169399375105820974944592";
        key[..32].copy_from_slice(&myst_verity::from_hex(k1).unwrap());
        key[32..].copy_from_slice(&myst_verity::from_hex(k2).unwrap());
        let mut data: Vec<u8> = (0..512).map(|i| i as u8).collect();
        encrypt_sectors(&key, 0xff, &mut data);
        assert_eq!(myst_verity::to_hex(&data[..16]), "1c3b3a102f770386e4836c99e370cf9b");
    }
}
