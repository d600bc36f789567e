//! What every flag set of the core (`memblock_flags`, `gfp_t`,
//! `slab_flags_t`, `vm_struct` flags, leaf protections) does the same way:
//! membership tests and the bit operators, for a `struct Name(u32)`.
//! Each type keeps its own constants, names and printing.

/// `contains`, `intersects`, `is_empty`, `|`, `|=` and `&` for a `u32`
/// newtype; with `not`, also a plain `!` (every bit inverted).
macro_rules! flag_set_ops {
    ($t:ident) => {
        impl $t {
            /// Whether every flag of `other` is set.
            #[inline]
            pub const fn contains(self, other: $t) -> bool {
                self.0 & other.0 == other.0
            }
            /// Whether any flag of `other` is set.
            #[inline]
            pub const fn intersects(self, other: $t) -> bool {
                self.0 & other.0 != 0
            }
            /// Whether no flag is set.
            #[inline]
            pub const fn is_empty(self) -> bool {
                self.0 == 0
            }
        }
        impl ::std::ops::BitOr for $t {
            type Output = $t;
            #[inline]
            fn bitor(self, rhs: $t) -> $t {
                $t(self.0 | rhs.0)
            }
        }
        impl ::std::ops::BitOrAssign for $t {
            #[inline]
            fn bitor_assign(&mut self, rhs: $t) {
                self.0 |= rhs.0;
            }
        }
        impl ::std::ops::BitAnd for $t {
            type Output = $t;
            #[inline]
            fn bitand(self, rhs: $t) -> $t {
                $t(self.0 & rhs.0)
            }
        }
    };
    ($t:ident, not) => {
        $crate::flags::flag_set_ops!($t);
        impl ::std::ops::Not for $t {
            type Output = $t;
            #[inline]
            fn not(self) -> $t {
                $t(!self.0)
            }
        }
    };
}
pub(crate) use flag_set_ops;
