#include "hubsim/model_store.h"

#include <algorithm>
#include <cstring>
#include <fstream>
#include <mutex>
#include <set>
#include <thread>
#include <unordered_set>

#include "hubsim/readme.h"
#include "hubsim/util.h"

namespace hubcache::hubsim {
namespace {

struct FieldInfo {
  Field field;
  std::string_view name;
  bool expandable;
};

constexpr FieldInfo kFields[] = {
    {Field::kOid, "_id", false},
    {Field::kId, "id", false},
    {Field::kPrivate, "private", true},
    {Field::kPipelineTag, "pipeline_tag", true},
    {Field::kLibraryName, "library_name", true},
    {Field::kTags, "tags", true},
    {Field::kDownloads, "downloads", true},
    {Field::kLikes, "likes", true},
    {Field::kModelId, "modelId", false},
    {Field::kAuthor, "author", true},
    {Field::kSha, "sha", true},
    {Field::kLastModified, "lastModified", true},
    {Field::kGated, "gated", true},
    {Field::kInference, "inference", true},
    {Field::kDisabled, "disabled", true},
    {Field::kMaskToken, "mask_token", true},
    {Field::kWidgetData, "widgetData", true},
    {Field::kModelIndex, "model-index", true},
    {Field::kConfig, "config", true},
    {Field::kCardData, "cardData", true},
    {Field::kTransformersInfo, "transformersInfo", true},
    {Field::kSiblings, "siblings", true},
    {Field::kSpaces, "spaces", true},
    {Field::kCreatedAt, "createdAt", true},
    {Field::kSafetensors, "safetensors", true},
    {Field::kGguf, "gguf", true},
    {Field::kUsedStorage, "usedStorage", true},
    {Field::kTrendingScore, "trendingScore", true},
    {Field::kDownloadsAllTime, "downloadsAllTime", true},
    {Field::kBaseModels, "baseModels", true},
    {Field::kChildrenModelCount, "childrenModelCount", true},
    {Field::kInferenceProviderMapping, "inferenceProviderMapping", true},
    {Field::kEvalResults, "evalResults", true},
    {Field::kResourceGroup, "resourceGroup", true},
    {Field::kXetEnabled, "xetEnabled", true},
    {Field::kGitalyUid, "gitalyUid", true},
    {Field::kOther, "", false},
};
static_assert(std::size(kFields) == static_cast<size_t>(Field::kCount));

constexpr std::string_view kSortNames[] = {"trendingScore", "lastModified", "createdAt",
                                           "downloads", "likes"};

// The Hub's floor for createdAt (repos older than this all carry it).
constexpr int64_t kHubEpochMs = 1646263744000;  // 2022-03-02T23:29:04.000Z

constexpr std::string_view kRelations[] = {"adapter", "merge", "quantized", "finetune"};

size_t idx(Field f) {
  return static_cast<size_t>(f);
}

void append_json_string(std::string& out, std::string_view s) {
  out.push_back('"');
  for (char c : s) {
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      default:
        if (static_cast<unsigned char>(c) < 0x20) {
          char buf[8];
          std::snprintf(buf, sizeof buf, "\\u%04x", c);
          out += buf;
        } else {
          out.push_back(c);
        }
    }
  }
  out.push_back('"');
}

bool is_hex(std::string_view s, size_t n) {
  if (s.size() != n) return false;
  return std::all_of(s.begin(), s.end(), [](char c) {
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
  });
}

int64_t int_or(const Json& j, const char* key, int64_t fallback) {
  auto it = j.find(key);
  if (it == j.end() || !it->is_number()) return fallback;
  return it->is_number_float() ? static_cast<int64_t>(it->get<double>()) : it->get<int64_t>();
}

std::string string_or_empty(const Json& j, const char* key) {
  auto it = j.find(key);
  return it != j.end() && it->is_string() ? it->get<std::string>() : std::string();
}

// Parent ids named by `base_model:` tags, with the relation of the typed ones.
struct BaseModelTags {
  std::string relation;  // of the first typed tag; empty if none
  std::vector<std::string> parents;
};

BaseModelTags base_model_tags(std::string_view tags_json) {
  BaseModelTags out;
  constexpr std::string_view kPrefix = "\"base_model:";
  size_t pos = 0;
  while ((pos = tags_json.find(kPrefix, pos)) != std::string_view::npos) {
    size_t start = pos + kPrefix.size();
    size_t end = tags_json.find('"', start);
    if (end == std::string_view::npos) break;
    std::string_view rest = tags_json.substr(start, end - start);
    pos = end;
    std::string_view parent = rest;
    size_t colon = rest.find(':');
    if (colon != std::string_view::npos) {
      std::string_view rel = rest.substr(0, colon);
      if (std::find(std::begin(kRelations), std::end(kRelations), rel) != std::end(kRelations)) {
        if (out.relation.empty()) out.relation = std::string(rel);
        parent = rest.substr(colon + 1);
      }
    }
    if (parent.empty()) continue;
    bool seen = false;
    for (const auto& p : out.parents) seen = seen || iequals(p, parent);
    if (!seen) out.parents.emplace_back(parent);
  }
  return out;
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// Field tables

std::string_view field_name(Field f) {
  return kFields[idx(f)].name;
}

std::optional<Field> field_from_name(std::string_view name) {
  for (const auto& info : kFields) {
    if (!info.name.empty() && info.name == name) return info.field;
  }
  return std::nullopt;
}

bool is_expandable(Field f) {
  return kFields[idx(f)].expandable;
}

FieldSet default_list_fields() {
  FieldSet s{};
  for (Field f : {Field::kOid, Field::kId, Field::kLikes, Field::kTrendingScore, Field::kPrivate,
                  Field::kDownloads, Field::kTags, Field::kPipelineTag, Field::kLibraryName,
                  Field::kCreatedAt, Field::kModelId}) {
    s[idx(f)] = true;
  }
  return s;
}

FieldSet full_list_fields() {
  FieldSet s = default_list_fields();
  for (Field f : {Field::kAuthor, Field::kSha, Field::kLastModified, Field::kGated,
                  Field::kInference, Field::kDisabled, Field::kMaskToken, Field::kWidgetData,
                  Field::kModelIndex, Field::kTransformersInfo, Field::kSiblings,
                  Field::kSafetensors, Field::kGguf, Field::kUsedStorage}) {
    s[idx(f)] = true;
  }
  return s;
}

FieldSet default_info_fields() {
  FieldSet s{};
  for (size_t i = 0; i <= idx(Field::kUsedStorage); ++i) s[i] = true;
  s[idx(Field::kOther)] = true;
  return s;
}

std::optional<SortKey> sort_key_from_name(std::string_view name) {
  for (size_t i = 0; i < kSortKeyCount; ++i) {
    if (kSortNames[i] == name) return static_cast<SortKey>(i);
  }
  return std::nullopt;
}

std::string_view sort_key_name(SortKey k) {
  return kSortNames[static_cast<size_t>(k)];
}

// ---------------------------------------------------------------------------------------------
// Model

std::string_view Model::author() const {
  size_t slash = id.find('/');
  return slash == std::string::npos ? std::string_view() : std::string_view(id).substr(0, slash);
}

int64_t Model::sort_value(SortKey k) const {
  switch (k) {
    case SortKey::kTrendingScore:
      return trending_score;
    case SortKey::kLastModified:
      return last_modified;
    case SortKey::kCreatedAt:
      return created_at;
    case SortKey::kDownloads:
      return downloads;
    case SortKey::kLikes:
      return likes;
    case SortKey::kCount:
      break;
  }
  return 0;
}

std::optional<std::string_view> Model::fragment(Field f) const {
  for (const auto& s : spans) {
    if (s.field == f) return std::string_view(extras).substr(s.offset, s.length);
  }
  return std::nullopt;
}

std::optional<std::string_view> Model::value(Field f) const {
  auto frag = fragment(f);
  if (!frag) return std::nullopt;
  size_t colon = frag->find("\":");
  return frag->substr(colon + 2);
}

bool Model::has_tag(std::string_view tag) const {
  std::string needle;
  append_json_string(needle, tag);
  size_t pos = 0;
  std::string_view hay(tags_json);
  while ((pos = hay.find(needle, pos)) != std::string_view::npos) {
    bool starts = pos > 0 && (hay[pos - 1] == '[' || hay[pos - 1] == ',');
    size_t after = pos + needle.size();
    bool ends = after < hay.size() && (hay[after] == ']' || hay[after] == ',');
    if (starts && ends) return true;
    pos += 1;
  }
  return false;
}

std::string synthetic_oid(std::string_view id, int64_t created_at_ms) {
  // Like a Mongo ObjectId: 4 bytes of creation time, then 8 bytes derived from the id.
  char ts[9];
  std::snprintf(ts, sizeof ts, "%08x", static_cast<uint32_t>(created_at_ms / 1000));
  std::string oid = ts;
  oid += sha1_hex(std::string("hubsim-oid:") + ascii_lower(id)).substr(0, 16);
  return oid;
}

std::string synthetic_sha(std::string_view seed) {
  return sha1_hex(std::string("hubsim-sha:") + std::string(seed));
}

std::optional<Model> model_from_json(const Json& record, std::string* error) {
  auto fail = [&](const std::string& why) -> std::optional<Model> {
    if (error) *error = why;
    return std::nullopt;
  };
  if (!record.is_object()) return fail("model is not a JSON object");
  auto id_it = record.find("id");
  if (id_it == record.end() || !id_it->is_string() || id_it->get<std::string>().empty()) {
    return fail("model has no string \"id\"");
  }
  Model m;
  m.id = id_it->get<std::string>();

  auto created = parse_hub_time(string_or_empty(record, "createdAt"));
  m.created_at = created.value_or(kHubEpochMs);
  auto modified = parse_hub_time(string_or_empty(record, "lastModified"));
  m.last_modified = modified.value_or(m.created_at);

  std::string oid = string_or_empty(record, "_id");
  if (!is_hex(oid, 24)) oid = synthetic_oid(m.id, m.created_at);
  std::memcpy(m.oid.data(), ascii_lower(oid).data(), 24);
  std::string sha = string_or_empty(record, "sha");
  if (!is_hex(sha, 40)) sha = synthetic_sha(m.id + "@" + format_hub_time(m.last_modified));
  std::memcpy(m.sha.data(), ascii_lower(sha).data(), 40);

  m.downloads = int_or(record, "downloads", 0);
  m.likes = int_or(record, "likes", 0);
  m.trending_score = int_or(record, "trendingScore", 0);
  m.downloads_all_time = int_or(record, "downloadsAllTime", -1);
  m.pipeline_tag = string_or_empty(record, "pipeline_tag");
  m.library_name = string_or_empty(record, "library_name");
  if (auto it = record.find("private"); it != record.end() && it->is_boolean()) {
    m.is_private = it->get<bool>();
  }
  if (auto it = record.find("disabled"); it != record.end() && it->is_boolean()) {
    m.disabled = it->get<bool>();
  }
  if (auto it = record.find("gated"); it != record.end() && it->is_string()) {
    m.gated = it->get<std::string>();
  }
  auto tags_it = record.find("tags");
  m.tags_json = tags_it != record.end() && tags_it->is_array() ? tags_it->dump() : "[]";

  // Everything else becomes a fragment, in Field order so model info is written in Hub order.
  std::vector<std::pair<Field, std::string>> rest;
  for (auto it = record.begin(); it != record.end(); ++it) {
    const std::string& key = it.key();
    if (key.empty() || (key[0] == '_' && key != "_id")) continue;
    auto f = field_from_name(key);
    Field field = f.value_or(Field::kOther);
    switch (field) {
      case Field::kOid:
      case Field::kId:
      case Field::kPrivate:
      case Field::kPipelineTag:
      case Field::kLibraryName:
      case Field::kTags:
      case Field::kDownloads:
      case Field::kLikes:
      case Field::kModelId:
      case Field::kAuthor:
      case Field::kSha:
      case Field::kLastModified:
      case Field::kGated:
      case Field::kDisabled:
      case Field::kCreatedAt:
      case Field::kTrendingScore:
      case Field::kDownloadsAllTime:
      case Field::kChildrenModelCount:
      case Field::kGitalyUid:
        continue;  // typed or derived
      default:
        break;
    }
    std::string frag;
    append_json_string(frag, key);
    frag += ':';
    frag += it.value().dump();
    rest.emplace_back(field, std::move(frag));
  }
  bool has_card = record.contains("cardData") && record["cardData"].is_object();
  auto has = [&](Field f) {
    return std::any_of(rest.begin(), rest.end(), [f](const auto& p) { return p.first == f; });
  };
  if (!has(Field::kSiblings)) {
    std::string frag = R"("siblings":[{"rfilename":".gitattributes"})";
    if (has_card) frag += R"(,{"rfilename":"README.md"})";
    frag += ']';
    rest.emplace_back(Field::kSiblings, std::move(frag));
  }
  if (!has(Field::kSpaces)) rest.emplace_back(Field::kSpaces, R"("spaces":[])");
  std::stable_sort(rest.begin(), rest.end(),
                   [](const auto& a, const auto& b) { return a.first < b.first; });
  for (auto& [field, frag] : rest) {
    m.spans.push_back(
        {field, static_cast<uint32_t>(m.extras.size()), static_cast<uint32_t>(frag.size())});
    m.extras += frag;
  }
  m.extras.shrink_to_fit();
  m.spans.shrink_to_fit();
  return m;
}

Json model_to_json(const Model& m) {
  Json j = Json::object();
  j["_id"] = std::string(m.oid_view());
  j["id"] = m.id;
  j["private"] = m.is_private;
  if (!m.pipeline_tag.empty()) j["pipeline_tag"] = m.pipeline_tag;
  if (!m.library_name.empty()) j["library_name"] = m.library_name;
  j["tags"] = Json::parse(m.tags_json);
  j["downloads"] = m.downloads;
  j["likes"] = m.likes;
  j["sha"] = std::string(m.sha_view());
  j["lastModified"] = format_hub_time(m.last_modified);
  j["createdAt"] = format_hub_time(m.created_at);
  if (m.gated.empty()) {
    j["gated"] = false;
  } else {
    j["gated"] = m.gated;
  }
  j["disabled"] = m.disabled;
  j["trendingScore"] = m.trending_score;
  if (m.downloads_all_time >= 0) j["downloadsAllTime"] = m.downloads_all_time;
  for (const auto& s : m.spans) {
    Json one = Json::parse("{" + m.extras.substr(s.offset, s.length) + "}");
    for (auto it = one.begin(); it != one.end(); ++it) j[it.key()] = it.value();
  }
  return j;
}

std::optional<Json> parse_changes(const std::string& text, std::string* error) {
  Json whole = Json::parse(text, nullptr, false);
  if (!whole.is_discarded()) {
    if (whole.is_array()) return whole;
    if (whole.is_object()) return Json::array({whole});
  }
  Json ops = Json::array();
  size_t start = 0, line_no = 0;
  while (start < text.size()) {
    size_t end = text.find('\n', start);
    if (end == std::string::npos) end = text.size();
    std::string line = text.substr(start, end - start);
    start = end + 1;
    ++line_no;
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    Json op = Json::parse(line, nullptr, false);
    if (!op.is_object()) {
      if (error) *error = "line " + std::to_string(line_no) + ": not a JSON object";
      return std::nullopt;
    }
    ops.push_back(std::move(op));
  }
  return ops;
}

// ---------------------------------------------------------------------------------------------
// Cursor

std::string encode_cursor(const Cursor& c) {
  Json j = {{"sort", std::string(sort_key_name(c.sort))}, {"v", c.value}, {"_id", c.oid}};
  // base64url without padding: safe in a query string even when a client forgets to encode it.
  std::string text = base64_encode(j.dump());
  for (auto& ch : text) {
    if (ch == '+') ch = '-';
    if (ch == '/') ch = '_';
  }
  while (!text.empty() && text.back() == '=') text.pop_back();
  return text;
}

std::optional<Cursor> decode_cursor(std::string_view text) {
  auto raw = base64_decode(text);
  if (!raw) return std::nullopt;
  Json j = Json::parse(*raw, nullptr, false);
  if (!j.is_object() || !j.contains("sort") || !j["sort"].is_string() || !j.contains("v") ||
      !j["v"].is_number_integer() || !j.contains("_id") || !j["_id"].is_string()) {
    return std::nullopt;
  }
  auto key = sort_key_from_name(j["sort"].get<std::string>());
  std::string oid = j["_id"].get<std::string>();
  if (!key || oid.size() != 24) return std::nullopt;
  return Cursor{*key, j["v"].get<int64_t>(), oid};
}

// ---------------------------------------------------------------------------------------------
// Store: loading and indexes

ModelStore::ModelStore() = default;

size_t ModelStore::CaseInsensitiveHash::operator()(std::string_view s) const {
  uint64_t h = 1469598103934665603ULL;  // FNV-1a over lower-cased bytes
  for (char c : s) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    h = (h ^ static_cast<unsigned char>(c)) * 1099511628211ULL;
  }
  return static_cast<size_t>(h);
}

bool ModelStore::CaseInsensitiveEqual::operator()(std::string_view a, std::string_view b) const {
  return iequals(a, b);
}
ModelStore::~ModelStore() = default;

size_t ModelStore::load_jsonl(const std::string& path, std::string* error) {
  std::ifstream in(path);
  if (!in) {
    if (error) *error = "cannot open " + path;
    return 0;
  }
  std::string line;
  size_t added = 0, line_no = 0;
  while (std::getline(in, line)) {
    ++line_no;
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    Json j = Json::parse(line, nullptr, false);
    std::string why;
    auto model = model_from_json(j, &why);
    if (!model) {
      if (error && error->empty()) *error = path + ":" + std::to_string(line_no) + ": " + why;
      continue;
    }
    if (add_initial(std::move(*model), &why)) {
      ++added;
    } else if (error && error->empty()) {
      *error = path + ":" + std::to_string(line_no) + ": " + why;
    }
  }
  rebuild_indexes();
  return added;
}

bool ModelStore::add_initial(Model model, std::string* error) {
  std::string lower = ascii_lower(model.id);
  if (by_id_.count(model.id) || aliases_.count(lower)) {
    if (error) *error = "duplicate id " + model.id;
    return false;
  }
  std::string oid(model.oid_view());
  if (auto it = by_oid_.find(model.oid_view()); it != by_oid_.end()) {
    // Two records with one `_id` are one repo seen under an old and a new name (e.g. `gpt2` and
    // `openai-community/gpt2`): the namespaced one stays, the other becomes a rename alias.
    Model& kept = *models_[it->second];
    bool incoming_wins =
        kept.id.find('/') == std::string::npos && model.id.find('/') != std::string::npos;
    if (!incoming_wins) {
      aliases_[lower] = oid;
      return true;
    }
    uint32_t slot = it->second;
    by_id_.erase(kept.id);
    aliases_[ascii_lower(kept.id)] = oid;
    kept = std::move(model);
    by_id_[kept.id] = slot;
    return true;
  }
  insert_model(std::make_unique<Model>(std::move(model)));
  return true;
}

uint32_t ModelStore::insert_model(std::unique_ptr<Model> model) {
  auto slot = static_cast<uint32_t>(models_.size());
  models_.push_back(std::move(model));
  const Model& stored = *models_.back();
  by_id_[stored.id] = slot;
  by_oid_[stored.oid_view()] = slot;
  ++live_;
  return slot;
}

bool ModelStore::before(SortKey k, uint32_t a, uint32_t b) const {
  const Model& ma = *models_[a];
  const Model& mb = *models_[b];
  int64_t va = ma.sort_value(k), vb = mb.sort_value(k);
  if (va != vb) return va > vb;
  return std::memcmp(ma.oid.data(), mb.oid.data(), 24) < 0;
}

void ModelStore::rebuild_indexes() {
  for (size_t k = 0; k < kSortKeyCount; ++k) {
    auto& ord = order_[k];
    ord.clear();
    ord.reserve(live_);
    for (uint32_t slot = 0; slot < models_.size(); ++slot) {
      if (!models_[slot]->deleted) ord.push_back(slot);
    }
  }
  // One sort per key, two keys at a time on the machine's two cores. Sorting packed
  // (value, _id, slot) entries instead of slots keeps the comparisons in cache.
  struct Entry {
    int64_t value;
    std::array<char, 24> oid;
    uint32_t slot;
  };
  auto sort_key = [this](size_t k) {
    auto key = static_cast<SortKey>(k);
    std::vector<Entry> entries;
    entries.reserve(order_[k].size());
    for (uint32_t slot : order_[k]) {
      const Model& m = *models_[slot];
      entries.push_back({m.sort_value(key), m.oid, slot});
    }
    std::sort(entries.begin(), entries.end(), [](const Entry& a, const Entry& b) {
      if (a.value != b.value) return a.value > b.value;
      return std::memcmp(a.oid.data(), b.oid.data(), 24) < 0;
    });
    for (size_t i = 0; i < entries.size(); ++i) order_[k][i] = entries[i].slot;
  };
  std::vector<std::thread> workers;
  for (size_t k = 0; k < kSortKeyCount; ++k) {
    workers.emplace_back(sort_key, k);
    if (workers.size() == 2) {
      for (auto& w : workers) w.join();
      workers.clear();
    }
  }
  for (auto& w : workers) w.join();
  ++revision_;
}

void ModelStore::index_insert(uint32_t slot) {
  for (size_t k = 0; k < kSortKeyCount; ++k) {
    auto key = static_cast<SortKey>(k);
    auto& ord = order_[k];
    auto pos = std::partition_point(ord.begin(), ord.end(),
                                    [&](uint32_t e) { return before(key, e, slot); });
    ord.insert(pos, slot);
  }
}

void ModelStore::index_erase(uint32_t slot, const std::array<int64_t, kSortKeyCount>& old_values) {
  const Model& m = *models_[slot];
  for (size_t k = 0; k < kSortKeyCount; ++k) {
    auto key = static_cast<SortKey>(k);
    auto& ord = order_[k];
    int64_t v = old_values[k];
    auto pos = std::partition_point(ord.begin(), ord.end(), [&](uint32_t e) {
      const Model& me = *models_[e];
      int64_t ve = me.sort_value(key);
      if (ve != v) return ve > v;
      return std::memcmp(me.oid.data(), m.oid.data(), 24) < 0;
    });
    if (pos == ord.end() || *pos != slot) pos = std::find(ord.begin(), ord.end(), slot);
    if (pos != ord.end()) ord.erase(pos);
  }
}

size_t ModelStore::first_after(SortKey k, const Cursor& c) const {
  const auto& ord = order_[static_cast<size_t>(k)];
  auto pos = std::partition_point(ord.begin(), ord.end(), [&](uint32_t e) {
    const Model& me = *models_[e];
    int64_t ve = me.sort_value(k);
    if (ve != c.value) return ve > c.value;
    return std::memcmp(me.oid.data(), c.oid.data(), 24) <= 0;
  });
  return static_cast<size_t>(pos - ord.begin());
}

// ---------------------------------------------------------------------------------------------
// Store: reads

size_t ModelStore::live_count() const {
  return live_;
}

const Model* ModelStore::find(std::string_view id) const {
  auto it = by_id_.find(id);
  if (it == by_id_.end()) return nullptr;
  const Model* m = models_[it->second].get();
  return m->deleted ? nullptr : m;
}

const Model* ModelStore::find_renamed(std::string_view old_id) const {
  auto it = aliases_.find(ascii_lower(old_id));
  if (it == aliases_.end()) return nullptr;
  return find_by_oid(it->second);
}

const Model* ModelStore::find_by_oid(std::string_view oid) const {
  auto it = by_oid_.find(oid);
  if (it == by_oid_.end()) return nullptr;
  const Model* m = models_[it->second].get();
  return m->deleted ? nullptr : m;
}

bool ModelStore::matches(const Model& m, const ListQuery& q) const {
  if (m.is_private) return false;
  if (!q.author.empty() && !iequals(m.author(), q.author)) return false;
  for (const auto& s : q.search) {
    if (!icontains(m.id, s)) return false;
  }
  if (!q.pipeline_tag.empty() && m.pipeline_tag != q.pipeline_tag) return false;
  if (!q.library.empty() && !iequals(m.library_name, q.library) && !m.has_tag(q.library)) {
    return false;
  }
  if (q.gated && (!m.gated.empty()) != *q.gated) return false;
  for (const auto& tag : q.filters) {
    if (!m.has_tag(tag)) return false;
  }
  return true;
}

ListPage ModelStore::list(const ListQuery& q) const {
  ListPage page;
  const auto& ord = order_[static_cast<size_t>(q.sort)];
  size_t pos = q.after ? first_after(q.sort, *q.after) : 0;
  page.items.reserve(std::min(q.limit, ord.size()));
  for (; pos < ord.size(); ++pos) {
    const Model& m = *models_[ord[pos]];
    if (!matches(m, q)) continue;
    if (page.items.size() == q.limit) {
      page.has_more = true;
      break;
    }
    page.items.push_back(&m);
  }
  return page;
}

void ModelStore::append_base_models(std::string& out, const Model& m) const {
  if (auto stored = m.value(Field::kBaseModels)) {
    out += *stored;
    return;
  }
  BaseModelTags parsed = base_model_tags(m.tags_json);
  out += "{\"relation\":";
  append_json_string(out, parsed.relation.empty() ? "finetune" : parsed.relation);
  out += ",\"models\":[";
  for (size_t i = 0; i < parsed.parents.size(); ++i) {
    if (i) out += ',';
    const Model* parent = find(parsed.parents[i]);
    std::string oid =
        parent ? std::string(parent->oid_view()) : synthetic_oid(parsed.parents[i], kHubEpochMs);
    out += "{\"_id\":\"" + oid + "\",\"id\":";
    append_json_string(out, parent ? std::string_view(parent->id) : parsed.parents[i]);
    out += '}';
  }
  out += "]}";
}

void ModelStore::append_json(std::string& out, const Model& m, const FieldSet& fields) const {
  out.push_back('{');
  bool first = true;
  auto key = [&](std::string_view k) {
    if (!first) out.push_back(',');
    first = false;
    out.push_back('"');
    out += k;
    out += "\":";
  };
  auto raw = [&](std::string_view fragment) {
    if (!first) out.push_back(',');
    first = false;
    out += fragment;
  };
  for (size_t i = 0; i < idx(Field::kCount); ++i) {
    if (!fields[i]) continue;
    auto f = static_cast<Field>(i);
    switch (f) {
      case Field::kOid:
        key("_id");
        out.push_back('"');
        out += m.oid_view();
        out.push_back('"');
        break;
      case Field::kId:
      case Field::kModelId:
        key(field_name(f));
        append_json_string(out, m.id);
        break;
      case Field::kPrivate:
        key("private");
        out += m.is_private ? "true" : "false";
        break;
      case Field::kPipelineTag:
        if (m.pipeline_tag.empty()) break;
        key("pipeline_tag");
        append_json_string(out, m.pipeline_tag);
        break;
      case Field::kLibraryName:
        if (m.library_name.empty()) break;
        key("library_name");
        append_json_string(out, m.library_name);
        break;
      case Field::kTags:
        key("tags");
        out += m.tags_json;
        break;
      case Field::kDownloads:
        key("downloads");
        out += std::to_string(m.downloads);
        break;
      case Field::kLikes:
        key("likes");
        out += std::to_string(m.likes);
        break;
      case Field::kAuthor:
        if (m.author().empty()) break;
        key("author");
        append_json_string(out, m.author());
        break;
      case Field::kSha:
        key("sha");
        out.push_back('"');
        out += m.sha_view();
        out.push_back('"');
        break;
      case Field::kLastModified:
        key("lastModified");
        out += '"' + format_hub_time(m.last_modified) + '"';
        break;
      case Field::kCreatedAt:
        key("createdAt");
        out += '"' + format_hub_time(m.created_at) + '"';
        break;
      case Field::kGated:
        key("gated");
        if (m.gated.empty()) {
          out += "false";
        } else {
          append_json_string(out, m.gated);
        }
        break;
      case Field::kDisabled:
        key("disabled");
        out += m.disabled ? "true" : "false";
        break;
      case Field::kTrendingScore:
        key("trendingScore");
        out += std::to_string(m.trending_score);
        break;
      case Field::kDownloadsAllTime:
        key("downloadsAllTime");
        out += std::to_string(std::max(m.downloads_all_time, m.downloads));
        break;
      case Field::kBaseModels:
        if (!m.fragment(Field::kBaseModels) &&
            m.tags_json.find("\"base_model:") == std::string::npos) {
          break;
        }
        key("baseModels");
        append_base_models(out, m);
        break;
      case Field::kChildrenModelCount:
        key("childrenModelCount");
        out += std::to_string(children_count(m));
        break;
      case Field::kGitalyUid:
        key("gitalyUid");
        out +=
            '"' + sha1_hex(std::string("gitaly:") + std::string(m.oid_view())).substr(0, 24) + '"';
        break;
      case Field::kOther:
        for (const auto& s : m.spans) {
          if (s.field == Field::kOther) raw(std::string_view(m.extras).substr(s.offset, s.length));
        }
        break;
      default:
        if (auto frag = m.fragment(f)) raw(*frag);
        break;
    }
  }
  out.push_back('}');
}

std::optional<std::string> ModelStore::readme(const Model& m) const {
  if (m.readme_override) return *m.readme_override;
  auto card = m.value(Field::kCardData);
  if (!card) return std::nullopt;
  Json card_json = Json::parse(*card, nullptr, false);
  if (!card_json.is_object()) return std::nullopt;
  return render_readme(m.id, card_json);
}

int64_t ModelStore::children_count(const Model& m) const {
  std::lock_guard<std::mutex> lock(children_mutex_);
  if (children_revision_ != revision_) {
    children_.clear();
    for (const auto& other : models_) {
      if (other->deleted || other->is_private) continue;
      for (const auto& parent : base_model_tags(other->tags_json).parents) {
        ++children_[ascii_lower(parent)];
      }
    }
    children_revision_ = revision_;
  }
  auto it = children_.find(ascii_lower(m.id));
  return it == children_.end() ? 0 : it->second;
}

// ---------------------------------------------------------------------------------------------
// Store: scripted changes

uint64_t ModelStore::change_count() const {
  std::shared_lock lock(mutex_);
  return changes_;
}

ChangeResult ModelStore::apply(const Json& op) {
  std::unique_lock lock(mutex_);
  return apply_locked(op, true);
}

ChangeResult ModelStore::apply_all(const Json& ops) {
  if (!ops.is_array()) return apply(ops);
  std::unique_lock lock(mutex_);
  // Large batches skip per-change index maintenance and re-sort once at the end.
  bool bulk = ops.size() > 256;
  ChangeResult last{true, 200, "", Json::array()};
  Json details = Json::array();
  for (size_t i = 0; i < ops.size(); ++i) {
    ChangeResult r = apply_locked(ops[i], !bulk);
    if (!r.ok) {
      if (bulk) rebuild_indexes();
      r.message = "op " + std::to_string(i) + ": " + r.message;
      return r;
    }
    details.push_back(r.detail);
  }
  if (bulk) rebuild_indexes();
  last.detail = details;
  last.message = std::to_string(ops.size()) + " changes applied";
  return last;
}

ChangeResult ModelStore::apply_locked(const Json& op, bool reindex) {
  auto fail = [](int status, std::string msg) { return ChangeResult{false, status, msg, {}}; };
  if (!op.is_object() || !op.contains("op") || !op["op"].is_string()) {
    return fail(400, "a change needs a string \"op\"");
  }
  const std::string kind = op["op"].get<std::string>();
  static const std::set<std::string> kOps = {"add",    "modify",   "delete",
                                             "rename", "counters", "readme"};
  if (!kOps.count(kind)) return fail(400, "unknown op " + kind);
  int64_t now = now_ms();

  if (kind == "add") {
    if (!op.contains("model")) return fail(400, "add needs \"model\"");
    Json rec = op["model"];
    if (rec.is_object()) {
      if (!rec.contains("createdAt")) rec["createdAt"] = format_hub_time(now);
      if (!rec.contains("lastModified")) rec["lastModified"] = rec["createdAt"];
    }
    std::string why;
    auto model = model_from_json(rec, &why);
    if (!model) return fail(400, why);
    if (find(model->id)) return fail(409, "model " + model->id + " already exists");
    if (by_oid_.count(model->oid_view())) {
      return fail(409, "_id " + std::string(model->oid_view()) + " already exists");
    }
    aliases_.erase(ascii_lower(model->id));
    uint32_t slot = insert_model(std::make_unique<Model>(std::move(*model)));
    if (reindex) index_insert(slot);
    ++changes_, ++revision_;
    const Model& m = *models_[slot];
    return {true,
            200,
            "added",
            {{"id", m.id}, {"_id", std::string(m.oid_view())}, {"sha", std::string(m.sha_view())}}};
  }

  if (!op.contains("id") || !op["id"].is_string()) return fail(400, kind + " needs \"id\"");
  const std::string id = op["id"].get<std::string>();
  auto it = by_id_.find(id);
  if (it == by_id_.end() || models_[it->second]->deleted) return fail(404, "no model " + id);
  uint32_t slot = it->second;
  Model& m = *models_[slot];
  std::array<int64_t, kSortKeyCount> old_values{};
  for (size_t k = 0; k < kSortKeyCount; ++k) old_values[k] = m.sort_value(static_cast<SortKey>(k));

  // A commit: new head sha and lastModified (now, or the op's "lastModified").
  auto commit = [&](Model& target) -> std::optional<ChangeResult> {
    target.old_shas.push_back(m.sha);
    std::string sha =
        op.contains("sha") && op["sha"].is_string() ? op["sha"].get<std::string>() : std::string();
    if (sha.empty()) {
      sha = synthetic_sha(std::string(m.sha_view()) + "#" + std::to_string(revision_) + "#" +
                          std::to_string(now));
    }
    if (!is_hex(sha, 40)) return fail(400, "sha must be 40 hex characters");
    std::memcpy(target.sha.data(), ascii_lower(sha).data(), 40);
    if (op.contains("lastModified")) {
      auto t = op["lastModified"].is_string()
                   ? parse_hub_time(op["lastModified"].get<std::string>())
                   : std::nullopt;
      if (!t) return fail(400, "bad lastModified");
      target.last_modified = *t;
    } else {
      target.last_modified = std::max(now, m.last_modified + 1);
    }
    return std::nullopt;
  };
  bool wants_commit = !op.contains("commit") || op["commit"] != false;
  auto finish = [&](std::string what) {
    if (reindex) {
      index_erase(slot, old_values);
      index_insert(slot);
    }
    ++changes_, ++revision_;
    const Model& now_m = *models_[slot];
    return ChangeResult{true,
                        200,
                        std::move(what),
                        {{"id", now_m.id},
                         {"_id", std::string(now_m.oid_view())},
                         {"sha", std::string(now_m.sha_view())},
                         {"lastModified", format_hub_time(now_m.last_modified)}}};
  };

  if (kind == "modify") {
    Json j = model_to_json(m);
    if (op.contains("set")) {
      if (!op["set"].is_object()) return fail(400, "\"set\" must be an object");
      for (auto f = op["set"].begin(); f != op["set"].end(); ++f) {
        if (f.key() == "id" || f.key() == "_id") return fail(400, "use rename to change the id");
        if (f.value().is_null()) {
          j.erase(f.key());
        } else {
          j[f.key()] = f.value();
        }
      }
    }
    if (!j.contains("siblings")) j["siblings"] = Json::array();
    std::string why;
    auto rebuilt = model_from_json(j, &why);
    if (!rebuilt) return fail(400, why);
    rebuilt->oid = m.oid;
    rebuilt->sha = m.sha;
    rebuilt->last_modified = m.last_modified;
    rebuilt->old_shas = std::move(m.old_shas);
    rebuilt->readme_override = std::move(m.readme_override);
    if (wants_commit) {
      if (auto err = commit(*rebuilt)) {
        m.old_shas = std::move(rebuilt->old_shas);
        m.readme_override = std::move(rebuilt->readme_override);
        return *err;
      }
    } else if (op.contains("lastModified")) {
      return fail(400, "lastModified needs a commit");
    }
    if (reindex) index_erase(slot, old_values);
    by_id_.erase(m.id);  // its key views m.id, which is about to be replaced
    m = std::move(*rebuilt);
    by_id_[m.id] = slot;
    if (reindex) index_insert(slot);
    old_values = {};
    ++changes_, ++revision_;
    return {true,
            200,
            "modified",
            {{"id", m.id},
             {"_id", std::string(m.oid_view())},
             {"sha", std::string(m.sha_view())},
             {"lastModified", format_hub_time(m.last_modified)}}};
  }

  if (kind == "delete") {
    if (reindex) index_erase(slot, old_values);
    m.deleted = true;
    by_id_.erase(m.id);
    by_oid_.erase(m.oid_view());
    --live_;
    ++changes_, ++revision_;
    return {true, 200, "deleted", {{"id", m.id}, {"_id", std::string(m.oid_view())}}};
  }

  if (kind == "rename") {
    if (!op.contains("to") || !op["to"].is_string() || op["to"].get<std::string>().empty()) {
      return fail(400, "rename needs \"to\"");
    }
    std::string to = op["to"].get<std::string>();
    if (!iequals(to, m.id) && find(to)) return fail(409, "model " + to + " already exists");
    by_id_.erase(m.id);
    aliases_[ascii_lower(m.id)] = std::string(m.oid_view());
    aliases_.erase(ascii_lower(to));
    m.id = to;
    by_id_[m.id] = slot;
    if (op.contains("lastModified") || (op.contains("commit") && op["commit"] == true)) {
      if (auto err = commit(m)) return *err;
    }
    return finish("renamed");
  }

  if (kind == "counters") {
    bool any = false;
    for (auto [name, target] : {std::pair<const char*, int64_t*>{"downloads", &m.downloads},
                                {"likes", &m.likes},
                                {"trendingScore", &m.trending_score},
                                {"downloadsAllTime", &m.downloads_all_time}}) {
      if (!op.contains(name)) continue;
      if (!op[name].is_number_integer())
        return fail(400, std::string(name) + " must be an integer");
      *target = op[name].get<int64_t>();
      any = true;
    }
    if (!any)
      return fail(400, "counters needs downloads, likes, trendingScore or downloadsAllTime");
    return finish("counters updated");
  }

  if (kind == "readme") {
    if (!op.contains("text")) return fail(400, "readme needs \"text\" (a string, or null)");
    if (op["text"].is_null()) {
      m.readme_override.reset();
    } else if (op["text"].is_string()) {
      m.readme_override = std::make_unique<std::string>(op["text"].get<std::string>());
    } else {
      return fail(400, "\"text\" must be a string or null");
    }
    if (wants_commit) {
      if (auto err = commit(m)) return *err;
    }
    return finish("readme set");
  }

  return fail(400, "unknown op " + kind);
}

}  // namespace hubcache::hubsim
