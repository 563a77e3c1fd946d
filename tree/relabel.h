// The classifier pass over the cache: re-labels only the models whose classification inputs
// changed (the store queues them), the children of models that appeared, vanished or were
// renamed since the last pass, and everything once when the rules version changes.
#pragma once

#include <cstdint>

#include "store/store.h"

namespace hubcache::tree {

struct RelabelOptions {
  bool all = false;    // re-label every live model (`hubcache classify --all`)
  int64_t run_id = 0;  // the run the relabeling belongs to (change-log rows point to it)
  int batch_size = 5000;
  // A pass over more than one batch reads the next batch on a second thread (through a
  // read-only connection of its own when the cache is a WAL file) and both threads parse and
  // classify it while the current one is written.
  bool parallel = true;
  // Rows written per transaction (batches are joined; fewer commits rewrite fewer pages).
  int64_t commit_rows = 50000;
};

struct RelabelResult {
  int64_t relabeled = 0;         // models classified in this pass
  int64_t relation_changes = 0;  // labels that changed (each logged in `changes`)
  int64_t cycles = 0;            // models found on a parent cycle
  bool rules_changed = false;    // the rules version differed: everything was re-labeled
};

RelabelResult relabel(Store& store, const RelabelOptions& options = {});

}  // namespace hubcache::tree
