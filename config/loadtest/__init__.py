"""`make loadtest`: Keel served for real against a bare-Django ceiling (docs/performance.md)."""
