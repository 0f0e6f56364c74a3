"""Models as pairs of pure functions: `init(key, ...) -> params`, `apply(params, X) -> Y`."""
