"""Full-text search over the catalog, tolerant of small typos, with facet counts."""
