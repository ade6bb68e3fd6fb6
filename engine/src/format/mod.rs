//! The graph file format (placeholder, being written).
