//! Variable-base exponentiation modulo N by AWS-LC's constant-time Montgomery ladder
//! (`BN_mod_exp_mont_consttime`, the routine AWS-LC's own RSA and DH use).
//!
//! Why not crypto-bigint, which does the rest of the arithmetic: a server's SRP round is two
//! 3072-bit exponentiations with 256-bit exponents (v^u, then (A·v^u)^b), and AWS-LC's
//! assembly does each about a third faster than crypto-bigint's generic ladder on x86-64
//! (measured: 1.0 ms against 1.4 ms). The two paths are checked against each other in the tests.
//!
//! AWS-LC is already linked (aws-lc-rs is rustls's provider for the AWS SDK), so this adds no
//! build. Its bignum API is C, hence the small amount of `unsafe` below, kept to this module.

use std::ptr;

use aws_lc_sys::{
    BN_CTX_free, BN_CTX_new, BN_MONT_CTX_free, BN_MONT_CTX_new_for_modulus, BN_bin2bn,
    BN_bn2bin_padded, BN_clear_free, BN_free, BN_mod_exp_mont_consttime, BN_new, BIGNUM,
    BN_MONT_CTX,
};
use zeroize::Zeroizing;

/// An odd modulus with its Montgomery constants, built once and then only read.
pub(crate) struct Modulus {
    n: Bn,
    mont: *mut BN_MONT_CTX,
    len: usize,
}

// SAFETY: after `new` neither pointer is written again; AWS-LC takes both as `const` in
// `BN_mod_exp_mont_consttime`, and concurrent read-only use of a BN_MONT_CTX is what its RSA
// keys do across threads.
unsafe impl Send for Modulus {}
unsafe impl Sync for Modulus {}

/// Frees a BIGNUM (clearing it first when it held a secret) when dropped.
struct Bn {
    ptr: *mut BIGNUM,
    secret: bool,
}

impl Bn {
    fn from_be(bytes: &[u8], secret: bool) -> Bn {
        // SAFETY: `bytes` is a valid slice; a null `ret` asks for a fresh BIGNUM.
        let ptr = unsafe { BN_bin2bn(bytes.as_ptr(), bytes.len(), ptr::null_mut()) };
        assert!(!ptr.is_null(), "AWS-LC could not allocate a BIGNUM");
        Bn { ptr, secret }
    }
}

impl Drop for Bn {
    fn drop(&mut self) {
        // SAFETY: `ptr` came from AWS-LC and is freed exactly once.
        unsafe {
            if self.secret {
                BN_clear_free(self.ptr)
            } else {
                BN_free(self.ptr)
            }
        }
    }
}

/// Frees a BN_CTX (AWS-LC's scratch space for one operation) when dropped.
struct Ctx(*mut aws_lc_sys::BN_CTX);

impl Ctx {
    fn new() -> Ctx {
        // SAFETY: no arguments; checked for null.
        let ctx = unsafe { BN_CTX_new() };
        assert!(!ctx.is_null(), "AWS-LC could not allocate a BN_CTX");
        Ctx(ctx)
    }
}

impl Drop for Ctx {
    fn drop(&mut self) {
        // SAFETY: created by BN_CTX_new, freed once.
        unsafe { BN_CTX_free(self.0) }
    }
}

impl Modulus {
    /// `n_be`: the odd modulus, big-endian.
    pub(crate) fn new(n_be: &[u8]) -> Modulus {
        let n = Bn::from_be(n_be, false);
        let ctx = Ctx::new();
        // SAFETY: `n` and `ctx` are valid; the result is checked for null.
        let mont = unsafe { BN_MONT_CTX_new_for_modulus(n.ptr, ctx.0) };
        assert!(!mont.is_null(), "the modulus is odd and non-zero");
        Modulus {
            n,
            mont,
            len: n_be.len(),
        }
    }

    /// `base^exponent mod N`, big-endian and padded to N's length. `base_be` must already be
    /// reduced (below N). The running time depends on the lengths of the inputs, not on their
    /// values: AWS-LC sizes the ladder by the exponent's width in words, not its top bit.
    pub(crate) fn pow(&self, base_be: &[u8], exponent_be: &[u8]) -> Zeroizing<Vec<u8>> {
        let base = Bn::from_be(base_be, true);
        let exponent = Bn::from_be(exponent_be, true);
        // SAFETY: no arguments; checked for null.
        let result = Bn {
            ptr: unsafe { BN_new() },
            secret: true,
        };
        assert!(!result.ptr.is_null(), "AWS-LC could not allocate a BIGNUM");
        let ctx = Ctx::new();
        let mut out = Zeroizing::new(vec![0u8; self.len]);
        // SAFETY: every pointer is valid for the call; `out` has room for `len` bytes and
        // every result is below N, which is `len` bytes long.
        let ok = unsafe {
            BN_mod_exp_mont_consttime(
                result.ptr,
                base.ptr,
                exponent.ptr,
                self.n.ptr,
                ctx.0,
                self.mont,
            ) == 1
                && BN_bn2bin_padded(out.as_mut_ptr(), self.len, result.ptr) == 1
        };
        // Only an unreduced base can fail, and callers pass residues.
        assert!(ok, "AWS-LC modular exponentiation failed on a reduced base");
        out
    }
}

impl Drop for Modulus {
    fn drop(&mut self) {
        // SAFETY: created in `new` and freed once (`n` frees itself).
        unsafe { BN_MONT_CTX_free(self.mont) }
    }
}
