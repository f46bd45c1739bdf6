//! [`ZcBuffer`]: the buffer kinds the sender can own.

use core::any::Any;
use core::fmt;

use super::pool::{PoolSlot, SharedSlot};

/// An owned buffer whose bytes stay put: what a sender can hand to the kernel.
///
/// Implement it for your own buffer type (an arena chunk, a buffer of your pool, a
/// memory-mapped file, …) to send it without copying it into a `Vec`; wrap it with
/// [`ZcBuffer::custom`], and get it back from the completion with
/// [`ZcBuffer::into_custom`].
///
/// ```
/// use uring::zc::{StableBuffer, ZcBuffer};
///
/// /// A heap buffer with a header the application keeps beside the payload.
/// struct Frame {
///     id: u64,
///     payload: Box<[u8]>,
/// }
///
/// // SAFETY: `payload` is a heap allocation owned by the frame: moving the frame does not
/// // move it, nothing changes it through `&self`, and it lives as long as the frame.
/// unsafe impl StableBuffer for Frame {
///     fn bytes(&self) -> &[u8] {
///         &self.payload
///     }
/// }
///
/// let buffer = ZcBuffer::custom(Frame { id: 7, payload: vec![1; 4096].into() });
/// assert_eq!(buffer.len(), 4096);
/// let frame: Frame = buffer.into_custom().ok().expect("a Frame");
/// assert_eq!(frame.id, 7);
/// ```
///
/// # Safety
///
/// The kernel reads the bytes after the call that hands the value over returns, for as
/// long as the sender owns it. So, from the moment the value is given to a sender until it
/// comes back in a completion (or forever, if it is never given back), every call of
/// [`bytes`](Self::bytes) must return the same memory (the same address and length),
/// that memory must stay valid and must not be written, by anyone, and it must not move
/// when the value moves (heap, `'static`, a mapping: not an inline array). Dropping the
/// value may free the memory: the sender only drops it once the kernel is done with it.
pub unsafe trait StableBuffer: Send + Sync + 'static {
    /// The bytes to send.
    fn bytes(&self) -> &[u8];
}

/// A [`StableBuffer`] as the sender keeps it: its bytes, and a way back to its type.
trait Custom: Send + Sync {
    fn bytes(&self) -> &[u8];
    fn type_id_of(&self) -> core::any::TypeId;
    fn into_any(self: Box<Self>) -> Box<dyn Any + Send>;
}

impl<T: StableBuffer> Custom for T {
    fn bytes(&self) -> &[u8] {
        StableBuffer::bytes(self)
    }
    fn type_id_of(&self) -> core::any::TypeId {
        core::any::TypeId::of::<T>()
    }
    fn into_any(self: Box<Self>) -> Box<dyn Any + Send> {
        self
    }
}

/// A [`StableBuffer`] of the caller's, boxed (see [`ZcBuffer::custom`]).
pub struct CustomBuffer(Box<dyn Custom>);

impl fmt::Debug for CustomBuffer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CustomBuffer")
            .field("len", &self.0.bytes().len())
            .finish()
    }
}

/// A buffer handed to a [`ZcSender`](super::ZcSender): the sender owns it until the kernel
/// has let go of it, then hands it back in a [`Completion`](super::Completion).
///
/// Every kind keeps its bytes at an address that does not change when the value moves (the
/// heap, a `'static`, or a registered pool's mapping), and nobody else can write them while
/// the sender holds the value: that is what makes it sound to give the address to the
/// kernel. A stack array cannot be one, for that reason.
///
/// Convert with `From`/`Into` (`Vec<u8>`, `Box<[u8]>`, `&'static [u8]`, [`PoolSlot`],
/// [`SharedSlot`],
/// `bytes::Bytes` with the `bytes` feature), and get the original back with the
/// `into_*` methods or a `match`.
#[non_exhaustive]
pub enum ZcBuffer {
    /// A vector; its heap allocation is what is sent (`len` bytes, not the capacity).
    Vec(Vec<u8>),
    /// A boxed slice.
    Boxed(Box<[u8]>),
    /// Static bytes (a literal, or memory leaked on purpose).
    Static(&'static [u8]),
    /// A slot of a registered [`BufferPool`](super::BufferPool): sent with
    /// `send_zc_fixed`, so the kernel need not pin its pages per request.
    Slot(PoolSlot),
    /// A clone of a frozen pool slot ([`PoolSlot::share`]): sent from the registered
    /// buffer like [`Slot`](Self::Slot); other clones may be in flight at the same time,
    /// since none can write the bytes.
    Shared(SharedSlot),
    /// A reference-counted `bytes::Bytes` (feature `bytes`). Other clones may exist: they
    /// can only read, so the bytes the kernel reads cannot change.
    #[cfg(feature = "bytes")]
    Bytes(bytes::Bytes),
    /// A buffer type of the caller's that implements [`StableBuffer`].
    Custom(CustomBuffer),
}

/// Which kind a [`ZcBuffer`] is, without its contents.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum BufferKind {
    /// [`ZcBuffer::Vec`].
    Vec,
    /// [`ZcBuffer::Boxed`].
    Boxed,
    /// [`ZcBuffer::Static`].
    Static,
    /// [`ZcBuffer::Slot`].
    Slot,
    /// [`ZcBuffer::Shared`].
    Shared,
    /// `ZcBuffer::Bytes` (feature `bytes`).
    Bytes,
    /// [`ZcBuffer::Custom`].
    Custom,
}

impl ZcBuffer {
    /// The bytes that will be sent.
    #[inline]
    pub fn as_slice(&self) -> &[u8] {
        match self {
            ZcBuffer::Vec(v) => v,
            ZcBuffer::Boxed(b) => b,
            ZcBuffer::Static(s) => s,
            ZcBuffer::Slot(s) => s,
            ZcBuffer::Shared(s) => s,
            #[cfg(feature = "bytes")]
            ZcBuffer::Bytes(b) => b,
            ZcBuffer::Custom(c) => c.0.bytes(),
        }
    }

    /// Number of bytes to send.
    #[inline]
    pub fn len(&self) -> usize {
        self.as_slice().len()
    }

    /// Whether there is nothing to send.
    #[inline]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The kind of buffer.
    pub fn kind(&self) -> BufferKind {
        match self {
            ZcBuffer::Vec(_) => BufferKind::Vec,
            ZcBuffer::Boxed(_) => BufferKind::Boxed,
            ZcBuffer::Static(_) => BufferKind::Static,
            ZcBuffer::Slot(_) => BufferKind::Slot,
            ZcBuffer::Shared(_) => BufferKind::Shared,
            #[cfg(feature = "bytes")]
            ZcBuffer::Bytes(_) => BufferKind::Bytes,
            ZcBuffer::Custom(_) => BufferKind::Custom,
        }
    }

    /// A buffer of the caller's own type ([`StableBuffer`]).
    pub fn custom<T: StableBuffer>(buffer: T) -> ZcBuffer {
        ZcBuffer::Custom(CustomBuffer(Box::new(buffer)))
    }

    /// The caller's buffer back, if this is a [`ZcBuffer::Custom`] of type `T`; otherwise
    /// the buffer itself, unchanged.
    pub fn into_custom<T: StableBuffer>(self) -> Result<T, ZcBuffer> {
        match self {
            ZcBuffer::Custom(c) => {
                if (*c.0).type_id_of() == core::any::TypeId::of::<T>() {
                    match c.0.into_any().downcast::<T>() {
                        Ok(t) => Ok(*t),
                        // Unreachable (the type was checked), but never a panic.
                        Err(_) => Err(ZcBuffer::Static(&[])),
                    }
                } else {
                    Err(ZcBuffer::Custom(c))
                }
            }
            other => Err(other),
        }
    }

    /// The vector, if this is [`ZcBuffer::Vec`].
    pub fn into_vec(self) -> Option<Vec<u8>> {
        match self {
            ZcBuffer::Vec(v) => Some(v),
            _ => None,
        }
    }

    /// The boxed slice, if this is [`ZcBuffer::Boxed`].
    pub fn into_boxed(self) -> Option<Box<[u8]>> {
        match self {
            ZcBuffer::Boxed(b) => Some(b),
            _ => None,
        }
    }

    /// The pool slot, if this is [`ZcBuffer::Slot`].
    pub fn into_slot(self) -> Option<PoolSlot> {
        match self {
            ZcBuffer::Slot(s) => Some(s),
            _ => None,
        }
    }

    /// The shared slot, if this is [`ZcBuffer::Shared`].
    pub fn into_shared(self) -> Option<SharedSlot> {
        match self {
            ZcBuffer::Shared(s) => Some(s),
            _ => None,
        }
    }

    /// The `Bytes`, if this is `ZcBuffer::Bytes`.
    #[cfg(feature = "bytes")]
    pub fn into_bytes(self) -> Option<bytes::Bytes> {
        match self {
            ZcBuffer::Bytes(b) => Some(b),
            _ => None,
        }
    }

    /// The registered pool slot behind this buffer, if any.
    pub(crate) fn slot(&self) -> Option<&PoolSlot> {
        match self {
            ZcBuffer::Slot(s) => Some(s),
            ZcBuffer::Shared(s) => Some(s.slot()),
            _ => None,
        }
    }
}

impl fmt::Debug for ZcBuffer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ZcBuffer")
            .field("kind", &self.kind())
            .field("len", &self.len())
            .finish()
    }
}

impl AsRef<[u8]> for ZcBuffer {
    fn as_ref(&self) -> &[u8] {
        self.as_slice()
    }
}

impl From<Vec<u8>> for ZcBuffer {
    fn from(v: Vec<u8>) -> Self {
        ZcBuffer::Vec(v)
    }
}

impl From<Box<[u8]>> for ZcBuffer {
    fn from(b: Box<[u8]>) -> Self {
        ZcBuffer::Boxed(b)
    }
}

impl From<&'static [u8]> for ZcBuffer {
    fn from(s: &'static [u8]) -> Self {
        ZcBuffer::Static(s)
    }
}

impl<const N: usize> From<&'static [u8; N]> for ZcBuffer {
    fn from(s: &'static [u8; N]) -> Self {
        ZcBuffer::Static(s)
    }
}

impl From<PoolSlot> for ZcBuffer {
    fn from(s: PoolSlot) -> Self {
        ZcBuffer::Slot(s)
    }
}

impl From<SharedSlot> for ZcBuffer {
    fn from(s: SharedSlot) -> Self {
        ZcBuffer::Shared(s)
    }
}

#[cfg(feature = "bytes")]
impl From<bytes::Bytes> for ZcBuffer {
    fn from(b: bytes::Bytes) -> Self {
        ZcBuffer::Bytes(b)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_round_trip() {
        let v = ZcBuffer::from(vec![1u8, 2, 3]);
        assert_eq!(v.kind(), BufferKind::Vec);
        assert_eq!(v.as_slice(), &[1, 2, 3]);
        assert_eq!(v.into_vec(), Some(vec![1, 2, 3]));
        let b = ZcBuffer::from(vec![4u8; 5].into_boxed_slice());
        assert_eq!(b.len(), 5);
        assert!(b.into_vec().is_none());
        let s = ZcBuffer::from(b"static");
        assert_eq!(s.kind(), BufferKind::Static);
        assert!(!s.is_empty());
        #[cfg(feature = "bytes")]
        {
            let by = ZcBuffer::from(bytes::Bytes::from_static(b"xy"));
            assert_eq!(by.kind(), BufferKind::Bytes);
            assert_eq!(by.into_bytes().as_deref(), Some(&b"xy"[..]));
        }
    }

    #[test]
    fn a_custom_buffer_comes_back_only_as_its_own_type() {
        struct A(Box<[u8]>);
        // SAFETY: a heap allocation owned by the value, never written through `&self`.
        unsafe impl StableBuffer for A {
            fn bytes(&self) -> &[u8] {
                &self.0
            }
        }
        struct B;
        // SAFETY: static bytes.
        unsafe impl StableBuffer for B {
            fn bytes(&self) -> &[u8] {
                b"b"
            }
        }
        let a = ZcBuffer::custom(A(vec![3u8; 10].into()));
        let addr = a.as_slice().as_ptr();
        assert_eq!(a.kind(), BufferKind::Custom);
        // Asked for the wrong type: the very buffer comes back, untouched.
        let a = a.into_custom::<B>().err().expect("not a B");
        assert_eq!(a.as_slice().as_ptr(), addr);
        let a: A = a
            .into_custom()
            .unwrap_or_else(|b| panic!("not an A: {b:?}"));
        assert_eq!(&a.0[..], &[3u8; 10]);
        // Another kind is not a custom buffer of any type.
        assert!(ZcBuffer::from(vec![1u8]).into_custom::<A>().is_err());
    }

    #[test]
    fn moving_a_vec_buffer_keeps_its_address() {
        let v = vec![9u8; 100];
        let addr = v.as_ptr();
        let b = ZcBuffer::from(v);
        let moved = Box::new(b); // moves the value to the heap
        assert_eq!(moved.as_slice().as_ptr(), addr);
    }
}
