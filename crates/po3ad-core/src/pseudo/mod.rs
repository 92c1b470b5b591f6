//! Pseudo anomalies for training (Norm-AS) and synthetic defects for benchmarks.
