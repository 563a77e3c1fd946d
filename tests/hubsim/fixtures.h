// Fixture paths shared by the hubsim tests.
#pragma once

#include <string>

namespace hubcache::hubsim::testing {

// The real-models fixture (shared/fixtures/real-models): 3,174 recorded Hub records.
inline const std::string kRealModels =
    std::string(HUBCACHE_SHARED_DIR) + "/fixtures/real-models/models.jsonl";

}  // namespace hubcache::hubsim::testing
