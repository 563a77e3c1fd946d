// `hubcache audit`: the checks of the relation study, as a report on the current cache.
#pragma once

#include <ostream>

#include "store/store.h"

namespace hubcache::tree {

// The report as JSON (what `audit --json` prints).
Json audit_report(sql::Database& db, int top_disagreements = 20);
void print_audit(const Json& report, std::ostream& out);

}  // namespace hubcache::tree
