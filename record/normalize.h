// Turning what sources send into a ModelRecord.
//
// Real inputs vary (see shared/research/hub-api.md §3): gated as false/"auto"/"manual"/"false";
// dates with `Z`, `+00:00` or Python's space form; cardData as an object or a JSON string. The
// normalizer accepts them all, and rejects a record only when it cannot be a model (not an
// object, no `id`, a field of an impossible type), with a message naming the source.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "record/model_record.h"

namespace hubcache {

// A record, or why there is none.
struct NormalizeResult {
  std::optional<ModelRecord> record;
  std::string error;  // set when !record: "models.jsonl:42: field `tags` must be ..."
  explicit operator bool() const { return record.has_value(); }
};

// Normalize one API-shaped JSON object.
NormalizeResult normalize_model(const Json& object, const SourceRef& source);

// Parse and normalize one line of JSON (an NDJSON line or a whole /api/models/{id} body).
NormalizeResult parse_model_json(std::string_view text, const SourceRef& source);

// Normalize one Hub HTTP response to a model request. Only a 200 JSON object answering a
// /api/models/{id}[/revision/{rev}] request is a model: a redirect is not (the client follows
// it), and a body from another endpoint (e.g. /api/spaces/...) is rejected even when its JSON
// looks like a model list item. `request_target` is the path (and query) that was requested.
NormalizeResult normalize_model_response(std::string_view request_target, int status,
                                         std::string_view body);

// Milliseconds since the Unix epoch for the Hub's date forms: `2024-02-19T11:06:12.000Z`,
// `...+00:00`, `2025-03-27 04:01:59+00:00`, with or without fractional seconds.
std::optional<int64_t> parse_hub_time(std::string_view text);
// `2024-02-19T11:06:12.000Z`.
std::string format_hub_time(int64_t ms_since_epoch);
// Current time in the same form.
std::string now_hub_time();

}  // namespace hubcache
