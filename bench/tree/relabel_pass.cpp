// One classifier pass over an existing cache, timed (for profiling the pass alone):
//   relabel_pass DB [--all] [--serial] [--batch N] [--commit ROWS] [--wal-stats]
// Make the cache with `tree_bench N DB --import-only`, copy it, and run this on the copy.
#include <chrono>
#include <cstdio>
#include <string>

#include "store/sqlite.h"
#include "tree/relabel.h"

using namespace hubcache;

int main(int argc, char** argv) {
  hubcache::sql::configure_process();  // as the hubcache binary does
  if (argc < 2) {
    std::fprintf(stderr, "usage: relabel_pass DB [--all]\n");
    return 2;
  }
  auto store = Store::open(argv[1]);
  tree::RelabelOptions options;
  for (int i = 2; i < argc; ++i) {
    if (std::string(argv[i]) == "--all") options.all = true;
    if (std::string(argv[i]) == "--serial") options.parallel = false;
    if (std::string(argv[i]) == "--batch" && i + 1 < argc)
      options.batch_size = std::stoi(argv[++i]);
    if (std::string(argv[i]) == "--commit" && i + 1 < argc)
      options.commit_rows = std::stoll(argv[++i]);
  }
  auto runs = store->recent_runs(1);
  options.run_id = runs.empty() ? 0 : runs.at(0).run_id;
  bool wal_stats = false;
  for (int i = 2; i < argc; ++i) wal_stats |= std::string(argv[i]) == "--wal-stats";
  if (wal_stats) store->db().exec("PRAGMA wal_checkpoint(TRUNCATE); PRAGMA wal_autocheckpoint=0");
  auto start = std::chrono::steady_clock::now();
  tree::RelabelResult result = tree::relabel(*store, options);
  double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::printf("relabeled %lld in %.3f s = %.0f rows/s; relation changes %lld; cycles %lld\n",
              static_cast<long long>(result.relabeled), s, result.relabeled / s,
              static_cast<long long>(result.relation_changes),
              static_cast<long long>(result.cycles));
  if (wal_stats) {
    sql::Statement q(store->db(), "PRAGMA wal_checkpoint");
    q.step();
    std::printf("WAL frames written by the pass: %lld\n", static_cast<long long>(q.int64(1)));
  }
  return 0;
}
