// Where a first import's CPU goes before SQLite: reading lines, hashing, JSON parse + normalize,
// preparing what the store writes (Store::prepare), and classifying. Prints microseconds per
// record per stage.
// Usage: ingest_stages FILE.ndjson            (the parse stages, no database)
//        ingest_stages FILE.ndjson --store DB (import_json_lines into DB, no classifier pass)
#include <sys/resource.h>

#include <chrono>
#include <cstdio>
#include <fstream>
#include <string>

#include "classify/classify.h"
#include "record/normalize.h"
#include "store/ingest.h"
#include "store/sqlite.h"
#include "store/store.h"

using Clock = std::chrono::steady_clock;

int main(int argc, char** argv) {
  hubcache::sql::configure_process();  // as the hubcache binary does
  if (argc == 4 && std::string(argv[2]) == "--store") {
    auto store = hubcache::Store::open(argv[3]);
    std::ifstream in(argv[1]);
    auto started = Clock::now();
    auto counts = hubcache::import_json_lines(*store, in, argv[1], {});
    double seconds = std::chrono::duration<double>(Clock::now() - started).count();
    // The writer's own CPU time: what bounds the import once parsing runs beside it, and a
    // figure that other load on the machine disturbs less than wall time.
    rusage usage{};
    getrusage(RUSAGE_THREAD, &usage);
    double cpu = static_cast<double>(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec) +
                 static_cast<double>(usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) / 1e6;
    std::printf(
        "import_json_lines: %lld records (%lld new) in %.2f s, %.0f records/s; writer thread "
        "CPU %.2f s\n",
        static_cast<long long>(counts.seen), static_cast<long long>(counts.created), seconds,
        static_cast<double>(counts.seen) / seconds, cpu);
    return 0;
  }
  if (argc != 2) {
    std::fprintf(stderr, "usage: ingest_stages FILE.ndjson [--store DB]\n");
    return 2;
  }
  std::ifstream in(argv[1]);
  std::string line;
  double t_read = 0, t_hash = 0, t_parse = 0, t_prepare = 0, t_classify = 0;
  long n = 0;
  uint64_t sink = 0;
  auto mark = Clock::now();
  auto lap = [&](double& bucket) {
    auto now = Clock::now();
    bucket += std::chrono::duration<double>(now - mark).count();
    mark = now;
  };
  while (true) {
    if (!std::getline(in, line)) break;
    lap(t_read);
    sink += hubcache::hash_input(line);
    lap(t_hash);
    auto parsed = hubcache::parse_model_json(line, {"bench", n + 1});
    lap(t_parse);
    if (!parsed) continue;
    // What the import's parse thread does next: the stored document and the derived rows.
    hubcache::PreparedModel prepared = hubcache::Store::prepare(std::move(*parsed.record));
    sink += prepared.doc_text.size();
    lap(t_prepare);
    auto c = hubcache::classify::classify(prepared.record);
    sink += static_cast<uint64_t>(c.relation);
    lap(t_classify);
    ++n;
  }
  auto us = [&](double s) { return 1e6 * s / static_cast<double>(n ? n : 1); };
  std::printf("records %ld (sink %llu)\n", n, static_cast<unsigned long long>(sink));
  std::printf("  read line         %6.2f us/record\n", us(t_read));
  std::printf("  hash              %6.2f us/record\n", us(t_hash));
  std::printf("  parse + normalize %6.2f us/record\n", us(t_parse));
  std::printf("  prepare (doc+rows)%6.2f us/record\n", us(t_prepare));
  std::printf("  classify          %6.2f us/record\n", us(t_classify));
  std::printf("  total             %6.2f us/record\n",
              us(t_read + t_hash + t_parse + t_prepare + t_classify));
}
