//! The PO3AD network: MinkUNet backbone on sparse convolutions plus the offset head.
