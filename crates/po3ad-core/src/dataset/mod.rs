//! Benchmark folder layouts (Anomaly-ShapeNet, Real3D-AD, a plain folder) listed as
//! training files and labelled test samples.
