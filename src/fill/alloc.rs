//! Output buffers: their size checked before the allocator is asked, and their zeros
//! written on all cores.

use rayon::prelude::*;

use super::base::Sample;
use crate::error::Error;

/// `n` values of `T` as a length, or [`Error::TooLarge`] when they cannot be allocated as
/// one block (more than `isize::MAX` bytes): checked before asking for the memory.
///
/// # Errors
/// [`Error::TooLarge`].
pub fn alloc_len<T>(what: &'static str, n: u128) -> Result<usize, Error> {
    let size = std::mem::size_of::<T>();
    match (usize::try_from(n), n.checked_mul(size as u128)) {
        (Ok(len), Some(bytes)) if bytes <= isize::MAX as u128 => Ok(len),
        _ => Err(Error::too_large(what, n, size)),
    }
}

/// Allocates `n` zeroed values, or reports [`Error::TooLarge`] instead of aborting. The
/// zeros are written on all cores, so the pages are first touched in parallel.
///
/// # Errors
/// [`Error::TooLarge`] when the allocation fails or cannot be expressed.
pub fn try_zeroed<T: Sample>(what: &'static str, n: u128) -> Result<Vec<T>, Error> {
    let len = alloc_len::<T>(what, n)?;
    let mut v = Vec::new();
    v.try_reserve_exact(len)
        .map_err(|_| Error::too_large(what, n, std::mem::size_of::<T>()))?;
    v.par_extend(rayon::iter::repeat_n(T::ZERO, len));
    Ok(v)
}
