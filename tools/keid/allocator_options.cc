// keid's jemalloc options, read by jemalloc at start (MALLOC_CONF still
// overrides them). One arena per CPU instead of jemalloc's default of four per
// CPU: the bus keeps messages that one thread allocated (gRPC's reader
// threads, a stream's handler thread) and another frees (retention), and with
// many arenas each arena that ever held messages keeps its own freed pages.
// Measured with tools/bench/bus_bench's workload and 16 MiB of retention:
// over 2.4 million messages keid's RSS climbed to 830 MB with page faults on
// every round; per-CPU arenas level off at 560 MB with almost none after the
// first rounds (docs/BENCHMARKS.md).
extern "C" {
// NOLINTNEXTLINE: the name jemalloc looks for.
extern const char* malloc_conf;
const char* malloc_conf = "percpu_arena:percpu";
}
