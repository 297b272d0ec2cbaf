//! The city: districts, streets, grids, sensors and cameras, with spatial indexes.
