#!/bin/sh
# The fuzz suite run long: `npm run fuzz` (5000 cases per property) or `npm run fuzz -- 20000`.
# npm test runs the same properties with 60 cases each.
FUZZ_RUNS="${1:-5000}" exec node --import tsx --test --test-timeout=3600000 test/security/fuzz.test.ts
