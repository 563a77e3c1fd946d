// Deterministic synthetic Hub for large-N tests and benchmarks (`hubsim --generate N --seed S`).
//
// Shapes follow the real records in shared/fixtures/real-models: a few percent of root models,
// everything else derived from an earlier model as finetune / adapter / quantized (GGUF or AWQ) /
// merge, with both `base_model:<id>` and `base_model:<relation>:<id>` tags, cardData.base_model,
// siblings that match the relation, config, safetensors or gguf blocks. Models are built as
// fragments directly (no JSON tree) so 2,000,000 take a few seconds.
#include <cmath>
#include <cstring>
#include <thread>

#include "hubsim/model_store.h"
#include "hubsim/util.h"

namespace hubcache::hubsim {
namespace {

struct Family {
  const char* name;          // repo name stem
  const char* model_type;    // config.model_type
  const char* architecture;  // config.architectures[0]
  const char* pipeline_tag;
  const char* auto_model;
  const char* library;  // library of roots and finetunes
  int64_t params;
};

constexpr Family kFamilies[] = {
    {"llama", "llama", "LlamaForCausalLM", "text-generation", "AutoModelForCausalLM",
     "transformers", 8030261248},
    {"mistral", "mistral", "MistralForCausalLM", "text-generation", "AutoModelForCausalLM",
     "transformers", 7241732096},
    {"qwen2", "qwen2", "Qwen2ForCausalLM", "text-generation", "AutoModelForCausalLM",
     "transformers", 1543714304},
    {"gemma", "gemma2", "Gemma2ForCausalLM", "text-generation", "AutoModelForCausalLM",
     "transformers", 2614341888},
    {"bert", "bert", "BertForMaskedLM", "fill-mask", "AutoModelForMaskedLM", "transformers",
     110106428},
    {"t5", "t5", "T5ForConditionalGeneration", "text2text-generation", "AutoModelForSeq2SeqLM",
     "transformers", 247577856},
    {"vit", "vit", "ViTForImageClassification", "image-classification",
     "AutoModelForImageClassification", "transformers", 86389248},
    {"whisper", "whisper", "WhisperForConditionalGeneration", "automatic-speech-recognition",
     "AutoModelForSpeechSeq2Seq", "transformers", 241734912},
    {"minilm", "bert", "BertModel", "sentence-similarity", "AutoModel", "sentence-transformers",
     22713216},
    {"sdxl", "", "", "text-to-image", "", "diffusers", 0},
};
constexpr size_t kFamilyCount = std::size(kFamilies);

constexpr const char* kKnownOwners[] = {"meta-llama",
                                        "mistralai",
                                        "Qwen",
                                        "google",
                                        "microsoft",
                                        "openai",
                                        "TheBloke",
                                        "unsloth",
                                        "bartowski",
                                        "mlx-community",
                                        "stabilityai",
                                        "NousResearch",
                                        "sentence-transformers",
                                        "HuggingFaceH4",
                                        "deepseek-ai"};
constexpr const char* kLicenses[] = {"apache-2.0",   "mit",   "llama3.1", "other",
                                     "cc-by-nc-4.0", "gemma", "openrail"};
constexpr const char* kSizes[] = {"0.5b", "1b",  "3b",    "7b",   "8b",
                                  "13b",  "70b", "small", "base", "large"};

enum class Relation : uint8_t { kRoot, kFinetune, kAdapter, kQuantized, kMerge };

std::string base36(uint64_t v) {
  static constexpr char kDigits[] = "0123456789abcdefghijklmnopqrstuvwxyz";
  std::string s;
  do {
    s.insert(s.begin(), kDigits[v % 36]);
    v /= 36;
  } while (v);
  return s;
}

void fill_hex(char* out, size_t n, uint64_t& rng) {
  static constexpr char kHex[] = "0123456789abcdef";
  uint64_t bits = 0;
  for (size_t i = 0; i < n; ++i) {
    if (i % 16 == 0) bits = splitmix64(rng);
    out[i] = kHex[bits & 15];
    bits >>= 4;
  }
}

// Appends `"key":` and a comma before every key but the first, into one fragment buffer.
// Built in reusable buffers, then copied into the model once at its exact size.
class Fragments {
 public:
  void clear() {
    text_.clear();
    spans_.clear();
  }
  void add(Field f, std::string_view key, std::string_view value_json) {
    auto offset = static_cast<uint32_t>(text_.size());
    text_ += '"';
    text_ += key;
    text_ += "\":";
    text_ += value_json;
    spans_.push_back({f, offset, static_cast<uint32_t>(text_.size() - offset)});
  }
  void move_into(Model& m) const {
    m.extras.assign(text_);
    m.spans.assign(spans_.begin(), spans_.end());
  }

 private:
  std::string text_;
  std::vector<Model::Span> spans_;
};

std::string json_quoted(std::string_view s) {
  std::string out;
  out.reserve(s.size() + 2);
  out += '"';
  out += s;
  out += '"';
  return out;
}

}  // namespace

void ModelStore::generate(size_t n, uint64_t seed) {
  constexpr int64_t kStartMs = 1646263744000;  // 2022-03-02T23:29:04Z, the Hub's createdAt floor
  constexpr int64_t kEndMs = 1767225600000;    // 2026-01-01T00:00:00Z
  constexpr int64_t kDayMs = 86400000;
  const size_t root_count = std::max<size_t>(10, n / 50);
  const size_t owner_count = std::max<size_t>(std::size(kKnownOwners), n / 20);

  // Pass 1 (sequential, cheap): lineage, family and id of every model, since children name
  // their parents. Pass 2 (both cores): everything else. Pass 3: indexes.
  struct Plan {
    Relation rel;
    uint8_t fam;
    bool gguf;
    uint32_t parent, parent2;
    uint64_t rng;  // generator state where pass 2 resumes
  };
  std::vector<Plan> plans(n);
  std::vector<std::unique_ptr<Model>> built(n);
  std::vector<uint8_t> family_of(n);
  for (size_t i = 0; i < n; ++i) {
    uint64_t rng = seed * 0x9E3779B97F4A7C15ULL + i;
    auto next = [&] { return splitmix64(rng); };

    Relation rel = Relation::kRoot;
    size_t parent = 0, parent2 = 0;
    if (i >= root_count && next() % 100 >= 2) {
      uint64_t r = next() % 100;
      rel = r < 65   ? Relation::kFinetune
            : r < 82 ? Relation::kAdapter
            : r < 94 ? Relation::kQuantized
                     : Relation::kMerge;
      // Half the children hang off a root (popular bases), the rest off any earlier model.
      parent = next() % 2 ? next() % root_count : next() % i;
      parent2 = next() % i;
      if (parent2 == parent) parent2 = (parent + 1) % i;
    }
    uint8_t fam =
        rel == Relation::kRoot ? static_cast<uint8_t>(next() % kFamilyCount) : family_of[parent];
    if (rel == Relation::kMerge && kFamilies[fam].library != std::string_view("transformers")) {
      rel = Relation::kFinetune;
    }
    family_of[i] = fam;
    const Family& F = kFamilies[fam];
    bool diffusers = std::string_view(F.library) == "diffusers";
    bool gguf = rel == Relation::kQuantized && !diffusers && next() % 3 != 0;

    Model m;
    uint64_t owner_pick = next() % owner_count;
    std::string owner = owner_pick < std::size(kKnownOwners)
                            ? std::string(kKnownOwners[owner_pick])
                            : "user-" + base36(owner_pick * 7919 + seed % 997);
    static constexpr const char* kSuffix[] = {"", "-instruct", "-lora", "-GGUF", "-merge"};
    const char* suffix =
        rel == Relation::kQuantized && !gguf ? "-AWQ" : kSuffix[static_cast<int>(rel)];
    m.id.reserve(owner.size() + 40);
    m.id += owner;
    m.id += '/';
    m.id += F.name;
    m.id += '-';
    m.id += kSizes[next() % std::size(kSizes)];
    m.id += suffix;
    m.id += '-';
    m.id += base36(i);
    plans[i] = {rel, fam, gguf, static_cast<uint32_t>(parent), static_cast<uint32_t>(parent2), rng};
    built[i] = std::make_unique<Model>(std::move(m));
  }

  auto build = [&](size_t begin, size_t end) {
    std::string tags, siblings, card, buf;
    Fragments frags;
    for (size_t i = begin; i < end; ++i) {
      const Plan& plan = plans[i];
      Relation rel = plan.rel;
      const Family& F = kFamilies[plan.fam];
      bool diffusers = std::string_view(F.library) == "diffusers";
      bool gguf = plan.gguf;
      uint64_t rng = plan.rng;
      auto next = [&] { return splitmix64(rng); };
      auto uniform = [&] { return static_cast<double>(next() >> 11) / 9007199254740992.0; };
      Model& m = *built[i];
      const size_t parent = plan.parent, parent2 = plan.parent2;

      // Dates: creation spreads over the Hub's life in index order (children after parents).
      double t = (static_cast<double>(i) + uniform()) / static_cast<double>(n);
      m.created_at =
          kStartMs + static_cast<int64_t>(t * static_cast<double>(kEndMs - kStartMs - 30 * kDayMs));
      m.created_at -= m.created_at % 1000;
      // Up to 120 days after creation, never past the end: drawn within the room left rather
      // than capped, so that recent models do not all tie at the end date (the Hub's
      // lastModified values are distinct to the millisecond; a pile of ties would make every
      // incremental sync re-read them).
      const int64_t room = std::max<int64_t>(1, std::min(120 * kDayMs, kEndMs - m.created_at));
      m.last_modified = m.created_at + static_cast<int64_t>(next() % static_cast<uint64_t>(room));
      m.last_modified -= m.last_modified % 1000;
      char ts[9];
      std::snprintf(ts, sizeof ts, "%08x", static_cast<uint32_t>(m.created_at / 1000));
      std::memcpy(m.oid.data(), ts, 8);
      fill_hex(m.oid.data() + 8, 16, rng);
      fill_hex(m.sha.data(), 40, rng);

      // Counters: heavy-tailed, roots far more popular.
      double scale = rel == Relation::kRoot ? 15.0 : 9.0;
      m.downloads = static_cast<int64_t>(std::exp(uniform() * scale)) - 1;
      m.likes = static_cast<int64_t>(std::exp(uniform() * scale * 0.6)) - 1;
      m.trending_score = next() % 50 == 0 ? static_cast<int64_t>(next() % 500) : 0;
      m.downloads_all_time = m.downloads + static_cast<int64_t>(next() % (m.downloads + 1));
      m.pipeline_tag = F.pipeline_tag;
      m.library_name = rel == Relation::kAdapter ? "peft" : gguf ? "gguf" : F.library;
      if (rel == Relation::kRoot) {
        uint64_t g = next() % 100;
        if (g < 4) m.gated = "manual";
        if (g == 4) m.gated = "auto";
      }

      const std::string* parent_id = rel == Relation::kRoot ? nullptr : &built[parent]->id;
      const std::string* parent2_id = rel == Relation::kMerge ? &built[parent2]->id : nullptr;
      const char* rel_name[] = {"", "finetune", "adapter", "quantized", "merge"};
      const char* license = kLicenses[next() % std::size(kLicenses)];

      tags = "[";
      auto tag = [&](std::string_view t) {
        if (tags.size() > 1) tags += ',';
        tags += '"';
        tags += t;
        tags += '"';
      };
      tag(m.library_name);
      if (!diffusers) tag(gguf ? "gguf" : "safetensors");
      if (*F.model_type) tag(F.model_type);
      tag(F.pipeline_tag);
      if (std::string_view(F.pipeline_tag) == "text-generation") tag("conversational");
      if (next() % 4 == 0) tag("en");
      if (parent_id) {
        tag("base_model:" + *parent_id);
        if (parent2_id) tag("base_model:" + *parent2_id);
        tag(std::string("base_model:") + rel_name[static_cast<int>(rel)] + ":" + *parent_id);
        if (parent2_id)
          tag(std::string("base_model:") + rel_name[static_cast<int>(rel)] + ":" + *parent2_id);
      }
      tag(std::string("license:") + license);
      if (!gguf && !diffusers) tag("text-generation-inference");
      tag("endpoints_compatible");
      tag("region:us");
      tags += ']';
      m.tags_json.assign(tags);

      bool has_card = next() % 10 != 0;
      frags.clear();
      if (rel == Relation::kRoot && std::string_view(F.model_type) == "bert") {
        frags.add(Field::kMaskToken, "mask_token", "\"[MASK]\"");
      }
      if (!diffusers && rel != Relation::kAdapter) {
        buf = gguf ? std::string("{\"model_type\":\"") + F.model_type + "\"}"
                   : std::string("{\"architectures\":[\"") + F.architecture +
                         "\"],\"model_type\":\"" + F.model_type + "\"}";
        frags.add(Field::kConfig, "config", buf);
      } else if (diffusers) {
        frags.add(Field::kConfig, "config",
                  R"({"diffusers":{"_class_name":"StableDiffusionXLPipeline"}})");
      }
      if (has_card) {
        card = "{\"license\":\"";
        card += license;
        card += '"';
        if (parent_id) {
          card += ",\"base_model\":";
          card += parent2_id ? "[" + json_quoted(*parent_id) + "," + json_quoted(*parent2_id) + "]"
                             : json_quoted(*parent_id);
        }
        card += ",\"library_name\":\"" + m.library_name + "\"";
        card += ",\"pipeline_tag\":\"";
        card += F.pipeline_tag;
        card += "\",\"tags\":[\"";
        card += rel == Relation::kRoot ? "base" : rel_name[static_cast<int>(rel)];
        card += "\"]";
        if (!m.gated.empty()) {
          card += R"(,"extra_gated_prompt":"You agree to the license terms.")";
        }
        card += '}';
        frags.add(Field::kCardData, "cardData", card);
      }
      if (!diffusers && !gguf && rel != Relation::kAdapter) {
        frags.add(Field::kTransformersInfo, "transformersInfo",
                  std::string("{\"auto_model\":\"") + F.auto_model + "\",\"pipeline_tag\":\"" +
                      F.pipeline_tag + "\",\"processor\":\"AutoTokenizer\"}");
      }
      siblings = R"([{"rfilename":".gitattributes"})";
      if (has_card) siblings += R"(,{"rfilename":"README.md"})";
      if (rel == Relation::kAdapter) {
        siblings +=
            R"(,{"rfilename":"adapter_config.json"},{"rfilename":"adapter_model.safetensors"})";
      } else if (gguf) {
        std::string stem = m.id.substr(m.id.find('/') + 1);
        siblings += ",{\"rfilename\":\"" + stem + ".Q4_K_M.gguf\"},{\"rfilename\":\"" + stem +
                    ".Q8_0.gguf\"}";
      } else if (diffusers) {
        siblings += R"(,{"rfilename":"model_index.json"})";
        siblings += R"(,{"rfilename":"unet/diffusion_pytorch_model.safetensors"})";
      } else {
        siblings += R"(,{"rfilename":"config.json"},{"rfilename":"model.safetensors"})";
        siblings += R"(,{"rfilename":"tokenizer.json"})";
      }
      siblings += ']';
      frags.add(Field::kSiblings, "siblings", siblings);
      frags.add(Field::kSpaces, "spaces", "[]");
      int64_t params = F.params ? F.params : 3500000000;
      if (rel == Relation::kAdapter) params /= 200;
      if (gguf) {
        frags.add(Field::kGguf, "gguf",
                  "{\"total\":" + std::to_string(params) + ",\"architecture\":\"" + F.model_type +
                      "\",\"context_length\":" + std::to_string(4096 << (next() % 4)) + "}");
      } else if (!diffusers) {
        frags.add(Field::kSafetensors, "safetensors",
                  "{\"parameters\":{\"BF16\":" + std::to_string(params) +
                      "},\"total\":" + std::to_string(params) + "}");
      }
      frags.add(Field::kUsedStorage, "usedStorage", std::to_string(params * (gguf ? 1 : 2)));
      frags.move_into(m);
    }
  };
  std::thread other(build, 0, n / 2);
  build(n / 2, n);
  other.join();

  models_.reserve(models_.size() + n);
  by_id_.reserve(by_id_.size() + n);
  by_oid_.reserve(by_oid_.size() + n);
  for (auto& m : built) insert_model(std::move(m));
  rebuild_indexes();
}

}  // namespace hubcache::hubsim
