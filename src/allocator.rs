//! The process's allocator: mimalloc, asked the way it is fastest.
//!
//! mimalloc replaced glibc's malloc because glibc's malloc, free and arena
//! locks were a fifth of an admitted call's CPU (bench/README.md). The
//! `mimalloc` crate's `GlobalAlloc` passes every request to
//! `mi_malloc_aligned`, since Rust always states an alignment. mimalloc 3
//! serves an aligned request from its ordinary bins only when the rounded
//! block size is a power of two; any other block over 1 KiB (a request's
//! boxed future, a response buffer) took the over-allocating path: a larger
//! block, a page marked as holding interior pointers, ~190 instructions
//! more, about 14 times per admitted call.
//!
//! [`Mimalloc`] asks with plain `mi_malloc` when the ordinary bins already
//! give the alignment, and with the aligned calls otherwise. That holds when
//! the alignment is at most 16 (`MI_MAX_ALIGN_SIZE`) and the size is a whole
//! number of alignments: every bin size is a multiple of 8, and of 16 from
//! 16 up, a page's first block is 16-aligned, and a block is never smaller
//! than the size asked. The same rule as std's `System` allocator for
//! `malloc`, made stricter by the multiple. `tests` check the returned
//! addresses for every size and alignment on both paths.

use std::alloc::{GlobalAlloc, Layout};
use std::ffi::c_void;

use libmimalloc_sys::{
    mi_free, mi_malloc, mi_malloc_aligned, mi_realloc, mi_realloc_aligned, mi_zalloc,
    mi_zalloc_aligned,
};

/// The alignment every ordinary mimalloc bin of a size that is a multiple
/// of it gives (`MI_MAX_ALIGN_SIZE`).
const BIN_ALIGNMENT: usize = 16;

/// mimalloc, with plain calls where they give the alignment asked for.
pub struct Mimalloc;

/// Whether an ordinary bin gives `size` bytes at `align`.
fn plain(size: usize, align: usize) -> bool {
    align <= BIN_ALIGNMENT && size >= align && size.is_multiple_of(align)
}

// SAFETY: every call passes mimalloc a size and, where the alignment is not
// already given by the bins (`plain`), the alignment; memory comes back to
// `mi_free`/`mi_realloc*`, which accept blocks from either path.
unsafe impl GlobalAlloc for Mimalloc {
    #[inline]
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: as above; `layout.size()` is non-zero (GlobalAlloc's contract).
        unsafe {
            if plain(layout.size(), layout.align()) {
                mi_malloc(layout.size()).cast()
            } else {
                mi_malloc_aligned(layout.size(), layout.align()).cast()
            }
        }
    }

    #[inline]
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        // SAFETY: as in `alloc`.
        unsafe {
            if plain(layout.size(), layout.align()) {
                mi_zalloc(layout.size()).cast()
            } else {
                mi_zalloc_aligned(layout.size(), layout.align()).cast()
            }
        }
    }

    #[inline]
    unsafe fn dealloc(&self, ptr: *mut u8, _layout: Layout) {
        // SAFETY: `ptr` came from this allocator (GlobalAlloc's contract).
        unsafe { mi_free(ptr.cast::<c_void>()) }
    }

    #[inline]
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: `ptr` came from this allocator with `layout`; the new
        // block keeps `layout.align()`, by the bins or by the aligned call.
        unsafe {
            if plain(new_size, layout.align()) {
                mi_realloc(ptr.cast::<c_void>(), new_size).cast()
            } else {
                mi_realloc_aligned(ptr.cast::<c_void>(), new_size, layout.align()).cast()
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::alloc::{GlobalAlloc, Layout};

    use super::{Mimalloc, plain};

    /// Every block is aligned as asked, holds what is written to it, and
    /// keeps it through a reallocation to another size, for alignments
    /// 1 to 64 and sizes up to 20 KiB, on both paths; zeroed blocks are zero.
    #[test]
    fn blocks_are_aligned_as_asked_on_both_paths() {
        let sizes = (1..=300).chain((301..=20_480).step_by(37));
        let mut on_plain = 0;
        for size in sizes {
            for align in [1, 2, 4, 8, 16, 32, 64] {
                let layout = Layout::from_size_align(size, align).unwrap();
                on_plain += usize::from(plain(size, align));
                // SAFETY: a non-zero size; each block is freed with its layout.
                unsafe {
                    let block = Mimalloc.alloc(layout);
                    assert!(!block.is_null());
                    assert_eq!(block as usize % align, 0, "size {size} align {align}");
                    block.write_bytes(0xa5, size);
                    let grown = size * 3 + 5;
                    let moved = Mimalloc.realloc(block, layout, grown);
                    assert_eq!(moved as usize % align, 0, "realloc {grown} align {align}");
                    assert!((0..size).all(|i| *moved.add(i) == 0xa5));
                    Mimalloc.dealloc(moved, Layout::from_size_align(grown, align).unwrap());
                    let zeroed = Mimalloc.alloc_zeroed(layout);
                    assert_eq!(zeroed as usize % align, 0, "zeroed {size} align {align}");
                    assert!((0..size).all(|i| *zeroed.add(i) == 0));
                    Mimalloc.dealloc(zeroed, layout);
                }
            }
        }
        // Both paths were taken, many times.
        assert!(on_plain > 1000, "{on_plain}");
    }

    #[test]
    fn only_whole_multiples_of_small_alignments_take_the_plain_path() {
        assert!(plain(4864, 8));
        assert!(plain(48, 16));
        assert!(plain(1, 1));
        assert!(!plain(24, 16));
        assert!(!plain(8, 16));
        assert!(!plain(64, 32));
        assert!(!plain(4096, 4096));
    }
}
