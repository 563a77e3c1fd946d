// Printing helpers shared by the commands: human tables and --json documents.
#pragma once

#include <string>
#include <vector>

#include "store/store.h"

namespace hubcache::cli {

Json to_json(const RunCounts& counts);
Json to_json(const RunInfo& run);
Json to_json(const ChangeRow& change);
Json to_json(const StoredModel& model);
Json to_json(const CacheStats& stats);

std::string summarize(const RunCounts& counts);
void print_model(const StoredModel& model, std::ostream& out);
void print_changes(const std::vector<ChangeRow>& changes, std::ostream& out);
// A JSON value shortened for one line of a table.
std::string shorten(const std::string& json_text, size_t width = 70);

}  // namespace hubcache::cli
