// Small hand-made records for the classify unit tests, parsed like real input.
#pragma once

#include <gtest/gtest.h>

#include <string>
#include <string_view>

#include "classify/classify.h"
#include "record/normalize.h"

namespace hubcache::classify::testing {

inline ModelRecord record_from(std::string_view json) {
  auto result = parse_model_json(json, SourceRef{"test", 0});
  EXPECT_TRUE(result) << result.error;
  return result ? *result.record : ModelRecord{};
}

inline Classification classify_json(std::string_view json, const ParentResolver& resolver = {}) {
  return classify(record_from(json), resolver);
}

}  // namespace hubcache::classify::testing
