// Where a first import's CPU goes before SQLite: reading lines, hashing, JSON parse + normalize,
// preparing what the store writes (Store::prepare), and classifying. Prints microseconds per
// record per stage.
// Usage: ingest_stages FILE.ndjson            (the parse stages, no database)
//        ingest_stages FILE.ndjson --store DB (import_json_lines into DB, no classifier pass)
//        ingest_stages FILE.ndjson --write-bound DB
//            What SQLite alone needs to store these records in hubcache's schema: every record
//            parsed and prepared in memory first (not timed), then only the rows the sqlite3
//            floor also writes (model, tags, files, declared parents) through prepared
//            statements, then the secondary indexes the cache keeps. No change log, counters,
//            seen marks or classifier. No import on this schema can take less; run.sh compares
//            it with the first-import target.
#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <string>
#include <vector>

#include "classify/classify.h"
#include "record/normalize.h"
#include "store/ingest.h"
#include "store/sqlite.h"
#include "store/store.h"

using Clock = std::chrono::steady_clock;

namespace {

double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

int write_bound(const char* ndjson, const char* db_path) {
  using hubcache::sql::Statement;
  std::vector<hubcache::PreparedModel> models;
  {
    std::ifstream in(ndjson);
    std::string line;
    long number = 0;
    while (std::getline(in, line)) {
      auto parsed = hubcache::parse_model_json(line, {"bench", ++number});
      if (parsed) models.push_back(hubcache::Store::prepare(std::move(*parsed.record)));
    }
  }
  auto store = hubcache::Store::open(db_path);
  if (!store->begin_bulk_load()) {
    std::fprintf(stderr, "%s is not empty\n", db_path);
    return 2;
  }
  auto& db = store->db();
  Statement model(db,
                  "INSERT INTO models(hub_id, id, author, sha, created_at, last_modified, "
                  "pipeline_tag, library_name, doc, first_seen) VALUES (?,?,?,?,?,?,?,?,?,?)");
  Statement tag(db, "INSERT OR IGNORE INTO model_tags(model_pk, tag) VALUES (?,?)");
  Statement file(db,
                 "INSERT OR REPLACE INTO model_files(model_pk, path, size, blob_id, lfs_sha256, "
                 "lfs_size) VALUES (?,?,?,?,?,?)");
  Statement parent(db,
                   "INSERT OR IGNORE INTO model_base_models(model_pk, source, parent_id, "
                   "relation, position) VALUES (?,?,?,?,?)");
  const std::string now = "2026-01-01T00:00:00.000Z";
  long long rows = 0;
  auto start = Clock::now();
  for (size_t begin = 0; begin < models.size(); begin += 20000) {
    hubcache::sql::Transaction transaction(db);
    for (size_t i = begin; i < std::min(models.size(), begin + 20000); ++i) {
      const auto& m = models[i];
      const auto& r = m.record;
      model.bind(1, r.hub_id).bind(2, r.id).bind(3, r.string_field("author"));
      model.bind(4, r.string_field("sha")).bind(5, r.string_field("createdAt"));
      model.bind(6, r.string_field("lastModified")).bind(7, r.string_field("pipeline_tag"));
      model.bind(8, r.string_field("library_name")).bind(9, m.doc_text).bind(10, now).run();
      int64_t pk = db.last_insert_rowid();
      for (const auto& t : m.tags) tag.bind(1, pk).bind(2, t).run();
      for (const auto& f : m.files) {
        file.bind(1, pk).bind(2, f.path).bind(3, f.size).bind(4, f.blob_id);
        file.bind(5, f.lfs_sha256).bind(6, f.lfs_size).run();
      }
      int position = 0;
      for (const auto& p : m.parents) {
        parent.bind(1, pk).bind(2, p.source).bind(3, p.parent_id).bind(4, p.relation);
        parent.bind(5, position++).run();
      }
      rows += 1 + static_cast<long long>(m.tags.size() + m.files.size() + m.parents.size());
    }
    transaction.commit();
  }
  double write_s = seconds_since(start);
  start = Clock::now();
  store->end_bulk_load();  // builds the deferred secondary indexes
  double index_s = seconds_since(start);
  std::printf(
      "write bound: %zu records, %lld rows written in %.2f s; indexes built in %.2f s; "
      "total %.2f s\n",
      models.size(), rows, write_s, index_s, write_s + index_s);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  hubcache::sql::configure_process();  // as the hubcache binary does
  if (argc == 4 && std::string(argv[2]) == "--write-bound") return write_bound(argv[1], argv[3]);
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
