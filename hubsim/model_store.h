// hubsim's in-memory model set: compact records, one keyset index per sort key, scripted changes.
//
// Every model keeps its core fields typed (they drive sorting, filtering and the keyset cursor) and
// every other Hub field pre-serialized as a `"key":value` JSON fragment, so a list page of 1,000
// items is built by string appends instead of a JSON tree. Readers take `read_lock()`; changes take
// the writer side internally, so a page being built never sees a half-applied change.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace hubcache::hubsim {

using Json = nlohmann::json;

// Every key hubsim can put in a model object, in the order it writes them.
enum class Field : uint8_t {
  kOid,  // "_id"
  kId,
  kPrivate,
  kPipelineTag,
  kLibraryName,
  kTags,
  kDownloads,
  kLikes,
  kModelId,
  kAuthor,
  kSha,
  kLastModified,
  kGated,
  kInference,
  kDisabled,
  kMaskToken,
  kWidgetData,
  kModelIndex,
  kConfig,
  kCardData,
  kTransformersInfo,
  kSiblings,
  kSpaces,
  kCreatedAt,
  kSafetensors,
  kGguf,
  kUsedStorage,
  kTrendingScore,
  kDownloadsAllTime,
  kBaseModels,
  kChildrenModelCount,
  kInferenceProviderMapping,
  kEvalResults,
  kResourceGroup,
  kXetEnabled,
  kGitalyUid,
  kOther,  // any key hubsim does not know; served by model info only
  kCount
};

std::string_view field_name(Field f);
std::optional<Field> field_from_name(std::string_view name);
// Values accepted by `expand` (hub-api.md §1, plus xetEnabled and gitalyUid).
bool is_expandable(Field f);

using FieldSet = std::array<bool, static_cast<size_t>(Field::kCount)>;
FieldSet default_list_fields();  // list item without expand/full
FieldSet full_list_fields();     // list item with full=true
FieldSet default_info_fields();  // GET /api/models/{id} without expand

enum class SortKey : uint8_t {
  kTrendingScore,
  kLastModified,
  kCreatedAt,
  kDownloads,
  kLikes,
  kCount
};
inline constexpr size_t kSortKeyCount = static_cast<size_t>(SortKey::kCount);
std::optional<SortKey> sort_key_from_name(std::string_view name);
std::string_view sort_key_name(SortKey k);

struct Model {
  std::array<char, 24> oid{};  // `_id`, 24 hex; stable across renames
  std::array<char, 40> sha{};  // head commit
  std::string id;              // current repo id, as cased by its owner
  int64_t last_modified = 0;   // epoch ms
  int64_t created_at = 0;      // epoch ms
  int64_t downloads = 0;
  int64_t likes = 0;
  int64_t trending_score = 0;
  int64_t downloads_all_time = -1;  // -1: not recorded, served as `downloads`
  std::string pipeline_tag;         // empty: absent
  std::string library_name;         // empty: absent
  std::string gated;                // empty: false; else "auto" / "manual"
  std::string tags_json;            // serialized JSON array
  // Other fields, each a `"key":value` fragment inside `extras`.
  struct Span {
    Field field;
    uint32_t offset;
    uint32_t length;
  };
  std::string extras;
  std::vector<Span> spans;
  std::unique_ptr<std::string> readme_override;  // raw README text set by a scripted change
  std::vector<std::array<char, 40>> old_shas;    // earlier heads, still accepted as revisions
  bool is_private = false;
  bool disabled = false;
  bool deleted = false;

  std::string_view oid_view() const { return {oid.data(), oid.size()}; }
  std::string_view sha_view() const { return {sha.data(), sha.size()}; }
  std::string_view author() const;  // owner namespace; empty for legacy single-segment ids
  int64_t sort_value(SortKey k) const;
  // The fragment `"key":value` of a stored field, if present.
  std::optional<std::string_view> fragment(Field f) const;
  // Just the JSON value of a stored field, if present.
  std::optional<std::string_view> value(Field f) const;
  bool has_tag(std::string_view tag) const;
};

// Turns one API-shaped JSON object into a Model. Keys starting with `_` other than `_id` are
// dropped; a missing `_id`, `sha`, `createdAt` or `lastModified` is synthesized deterministically
// from the id; dates are normalized to the API's `...Z` form. Fails only without a string `id`.
std::optional<Model> model_from_json(const Json& record, std::string* error = nullptr);
// The reverse: every stored field as JSON (used to apply `modify`).
Json model_to_json(const Model& m);
std::string synthetic_oid(std::string_view id, int64_t created_at_ms);
std::string synthetic_sha(std::string_view seed);

// A change script: a JSON array of change objects, one object, or one object per line.
std::optional<Json> parse_changes(const std::string& text, std::string* error);

// Keyset position: the last item of a page, as (sort value, `_id`).
struct Cursor {
  SortKey sort = SortKey::kTrendingScore;
  int64_t value = 0;
  std::string oid;
};
std::string encode_cursor(const Cursor& c);
std::optional<Cursor> decode_cursor(std::string_view text);

struct ListQuery {
  SortKey sort = SortKey::kTrendingScore;
  size_t limit = 100;
  std::optional<Cursor> after;
  std::string author;
  std::vector<std::string> search;
  std::vector<std::string> filters;  // tags, AND
  std::string pipeline_tag;
  std::string library;
  std::optional<bool> gated;
};

struct ListPage {
  std::vector<const Model*> items;
  bool has_more = false;
};

// Result of one scripted change.
struct ChangeResult {
  bool ok = false;
  int status = 200;  // HTTP status the admin API answers with when !ok
  std::string message;
  Json detail;  // e.g. the new sha
};

class ModelStore {
 public:
  ModelStore();
  ~ModelStore();
  ModelStore(const ModelStore&) = delete;
  ModelStore& operator=(const ModelStore&) = delete;

  // Loading (single-threaded, before serving).
  // Returns the number of models added; `error` gets the first problem (bad line, duplicate id).
  size_t load_jsonl(const std::string& path, std::string* error);
  // Deterministic synthetic Hub of `n` models (see generator.cpp for the shapes).
  void generate(size_t n, uint64_t seed);
  // Adds a model during loading; a duplicate `_id` turns the later id into a rename alias.
  bool add_initial(Model model, std::string* error);

  std::shared_lock<std::shared_mutex> read_lock() const {
    return std::shared_lock<std::shared_mutex>(mutex_);
  }

  // The following require read_lock() held by the caller.
  size_t live_count() const;
  const Model* find(std::string_view id) const;  // case-insensitive; live (not deleted) only
  // For an id that was renamed: the model it now belongs to (live only).
  const Model* find_renamed(std::string_view old_id) const;
  const Model* find_by_oid(std::string_view oid) const;
  ListPage list(const ListQuery& q) const;
  void append_json(std::string& out, const Model& m, const FieldSet& fields) const;
  // README.md content: override, or YAML front matter from cardData plus a body; none without card.
  std::optional<std::string> readme(const Model& m) const;
  int64_t children_count(const Model& m) const;

  // Scripted changes (take the writer lock). `op` is one object, see README.md "Changes".
  ChangeResult apply(const Json& op);
  // A JSON array of ops, or one op; stops at the first failure.
  ChangeResult apply_all(const Json& ops);
  // Changes applied so far (for stats).
  uint64_t change_count() const;

 private:
  ChangeResult apply_locked(const Json& op, bool reindex);
  uint32_t insert_model(std::unique_ptr<Model> model);
  void index_insert(uint32_t slot);
  void index_erase(uint32_t slot, const std::array<int64_t, kSortKeyCount>& old_values);
  void rebuild_indexes();
  bool before(SortKey k, uint32_t a, uint32_t b) const;
  size_t first_after(SortKey k, const Cursor& c) const;
  bool matches(const Model& m, const ListQuery& q) const;
  void append_base_models(std::string& out, const Model& m) const;

  mutable std::shared_mutex mutex_;
  std::vector<std::unique_ptr<Model>> models_;  // slot -> model (deleted ones stay)
  // Keys are views into the models' own id / _id (no copies): case-insensitive for ids.
  struct CaseInsensitiveHash {
    size_t operator()(std::string_view s) const;
  };
  struct CaseInsensitiveEqual {
    bool operator()(std::string_view a, std::string_view b) const;
  };
  std::unordered_map<std::string_view, uint32_t, CaseInsensitiveHash, CaseInsensitiveEqual>
      by_id_;                                               // live id -> slot
  std::unordered_map<std::string_view, uint32_t> by_oid_;   // _id -> slot
  std::unordered_map<std::string, std::string> aliases_;    // lower-cased old id -> _id
  std::array<std::vector<uint32_t>, kSortKeyCount> order_;  // live slots, sorted per key
  size_t live_ = 0;
  uint64_t changes_ = 0;
  uint64_t revision_ = 0;  // bumps on every change; seeds new shas

  // childrenModelCount is computed lazily (it needs a scan of every model's tags).
  mutable std::mutex children_mutex_;
  mutable uint64_t children_revision_ = UINT64_MAX;
  mutable std::unordered_map<std::string, int64_t> children_;
};

}  // namespace hubcache::hubsim
