// The one normalized description of a Hub model that every source is turned into.
//
// Sources (an /api/models list item with any subset of `expand` fields, an /api/models/{id}
// body, an NDJSON dump line, a hub-stats Parquet row) all become a ModelRecord, and only a
// ModelRecord reaches the store. A field the source did not send is *absent* (unknown), which
// is different from a field sent as null or empty: absent fields never overwrite stored ones.
#pragma once

#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace hubcache {

using Json = nlohmann::json;

// Canonical field names are the Hub API's JSON keys. These are the ones hubcache models as
// columns or tables; every other key the Hub sends is kept verbatim (see ModelRecord::fields).
namespace field {
inline constexpr std::string_view kAuthor = "author";
inline constexpr std::string_view kSha = "sha";
inline constexpr std::string_view kCreatedAt = "createdAt";
inline constexpr std::string_view kLastModified = "lastModified";
inline constexpr std::string_view kPrivate = "private";
inline constexpr std::string_view kGated = "gated";
inline constexpr std::string_view kDisabled = "disabled";
inline constexpr std::string_view kPipelineTag = "pipeline_tag";
inline constexpr std::string_view kLibraryName = "library_name";
inline constexpr std::string_view kTags = "tags";
inline constexpr std::string_view kSiblings = "siblings";
inline constexpr std::string_view kCardData = "cardData";
inline constexpr std::string_view kConfig = "config";
inline constexpr std::string_view kGguf = "gguf";
inline constexpr std::string_view kSafetensors = "safetensors";
inline constexpr std::string_view kBaseModels = "baseModels";
// Counters move daily without a commit; they are observations, not metadata.
inline constexpr std::string_view kDownloads = "downloads";
inline constexpr std::string_view kDownloadsAllTime = "downloadsAllTime";
inline constexpr std::string_view kLikes = "likes";
inline constexpr std::string_view kTrendingScore = "trendingScore";
}  // namespace field

// True for downloads, downloadsAllTime, likes and trendingScore.
bool is_counter_field(std::string_view name);

// One file of the repo (a `siblings` entry).
struct Sibling {
  std::string path;  // rfilename
  std::optional<int64_t> size;
  std::optional<std::string> blob_id;
  std::optional<std::string> lfs_sha256;
  std::optional<int64_t> lfs_size;
};

// The tags / files of a `tags` / `siblings` value as the normalizer leaves it (a stored document's
// too); empty when absent (nullptr) or not an array.
std::vector<std::string> tags_of(const Json* tags);
std::vector<Sibling> siblings_of(const Json* siblings);

struct ModelRecord {
  std::string hub_id;  // the Hub's `_id` (24 hex, stable across renames); empty if not sent
  std::string id;      // `owner/name` as the Hub spells it; always present

  // Every field the source sent except `_id`/`id`, keyed by API name, with values normalized:
  //  - dates (createdAt, lastModified) are ISO-8601 UTC strings with milliseconds and `Z`;
  //  - gated is "false", "auto" or "manual";
  //  - cardData is an object (a JSON string is parsed), null when the model has no card;
  //  - siblings is an array of objects with `rfilename` (+ size, blobId, lfs when known);
  //  - legacy duplicates (`modelId`) are dropped.
  // Absent key = not sent = unknown. A JSON null value = sent as null.
  std::map<std::string, Json, std::less<>> fields;

  bool has(std::string_view name) const { return fields.find(name) != fields.end(); }
  // The value, or nullptr when the field is absent.
  const Json* get(std::string_view name) const;

  // Typed views for the classifier and the store; empty/nullopt when absent or null.
  std::optional<std::string> string_field(std::string_view name) const;
  std::optional<int64_t> int_field(std::string_view name) const;
  std::optional<double> double_field(std::string_view name) const;
  std::optional<bool> bool_field(std::string_view name) const;
  std::vector<std::string> tags() const;
  std::vector<Sibling> siblings() const;
  // cardData as an object (empty object when absent or null).
  const Json& card_data() const;
  // lastModified in milliseconds since the epoch, if known.
  std::optional<int64_t> last_modified_ms() const;
};

// Where a record came from, for error messages: "models.jsonl:42" or "GET /api/models page 3".
struct SourceRef {
  std::string name;
  int64_t line = 0;  // 0 when not line-based
  std::string describe() const;
};

}  // namespace hubcache
