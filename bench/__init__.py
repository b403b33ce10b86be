"""The benchmarks (bench/README.md); a package so that its scripts import `bench._measure`."""
