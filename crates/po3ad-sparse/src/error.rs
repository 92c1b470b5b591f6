//! Errors raised when building sparse tensors from user-supplied coordinates.

/// Invalid input to [`crate::SparseTensor::new`].
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SparseError {
    /// The number of coordinates and feature rows differ.
    #[error("{coords} coordinates but {rows} feature rows")]
    RowMismatch { coords: usize, rows: usize },
    /// The same `[batch, x, y, z]` appears twice.
    #[error("duplicate coordinate {coord:?} (rows {first} and {second})")]
    DuplicateCoordinate {
        coord: [i32; 4],
        first: usize,
        second: usize,
    },
    /// More rows than a `u32` row index can address.
    #[error("{0} sites exceed the u32 row-index range")]
    TooManySites(usize),
}
