#include "hubsim/readme.h"

#include <yaml-cpp/yaml.h>

#include <regex>

namespace hubcache::hubsim {
namespace {

// Plain scalars a YAML 1.1 or 1.2 loader (PyYAML, yaml-cpp, js-yaml) would not read as a string.
bool needs_quotes(const std::string& s) {
  static const std::regex kNonString(
      R"(^(~|null|Null|NULL|y|Y|yes|Yes|YES|n|N|no|No|NO|true|True|TRUE|false|False|FALSE|)"
      R"(on|On|ON|off|Off|OFF|)"
      R"([-+]?(\.[0-9]+|[0-9][0-9_]*(\.[0-9_]*)?)([eE][-+]?[0-9]+)?|0x[0-9a-fA-F]+|)"
      R"(0o[0-7]+|[-+]?\.(inf|Inf|INF)|\.(nan|NaN|NAN)|[0-9]{4}-[0-9]{1,2}-[0-9]{1,2}.*|)"
      R"([0-9]+(:[0-5]?[0-9])+(\.[0-9]*)?|=|<<)$)");
  return s.empty() || std::regex_match(s, kNonString);
}

void emit(YAML::Emitter& out, const nlohmann::json& v) {
  switch (v.type()) {
    case nlohmann::json::value_t::object:
      out << YAML::BeginMap;
      for (auto it = v.begin(); it != v.end(); ++it) {
        out << YAML::Key;
        if (needs_quotes(it.key())) out << YAML::DoubleQuoted;
        out << it.key() << YAML::Value;
        emit(out, it.value());
      }
      out << YAML::EndMap;
      break;
    case nlohmann::json::value_t::array:
      if (v.empty()) {
        out << YAML::Flow << YAML::BeginSeq << YAML::EndSeq;
        break;
      }
      out << YAML::BeginSeq;
      for (const auto& item : v) emit(out, item);
      out << YAML::EndSeq;
      break;
    case nlohmann::json::value_t::string: {
      const auto& s = v.get_ref<const std::string&>();
      if (needs_quotes(s) || s.find('\n') != std::string::npos) out << YAML::DoubleQuoted;
      out << s;
      break;
    }
    case nlohmann::json::value_t::null:
      out << YAML::Null;
      break;
    default:  // numbers and booleans: their JSON spelling is also their YAML spelling
      out << v.dump();
      break;
  }
}

}  // namespace

std::string json_to_yaml(const nlohmann::json& value) {
  YAML::Emitter out;
  out.SetOutputCharset(YAML::EmitNonAscii);
  emit(out, value);
  return out.c_str();
}

std::string render_readme(std::string_view repo_id, const nlohmann::json& card_data) {
  std::string name(
      repo_id.substr(repo_id.find('/') == std::string_view::npos ? 0 : repo_id.find('/') + 1));
  std::string text;
  if (card_data.is_object() && !card_data.empty()) {
    text += "---\n";
    text += json_to_yaml(card_data);
    text += "\n---\n\n";
  }
  text += "# " + name + "\n\n";
  text +=
      "Model card of `" + std::string(repo_id) + "`, served by hubsim (a local Hub emulator).\n";
  return text;
}

}  // namespace hubcache::hubsim
