"""How runs are run: what decides a cell's verdict (its fingerprint), the verdict cache, shards
and the merging of their report parts."""
