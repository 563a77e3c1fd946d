#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <map>

#include "crawler/hub_env.h"

namespace hubcache::crawler {
namespace {

namespace fs = std::filesystem;

EnvLookup env_of(std::map<std::string, std::string> vars) {
  return [vars = std::move(vars)](std::string_view name) -> std::optional<std::string> {
    auto it = vars.find(std::string(name));
    if (it == vars.end()) return std::nullopt;
    return it->second;
  };
}

class TempDir {
 public:
  TempDir() {
    path = fs::temp_directory_path() /
           ("hubcache-env-" + std::to_string(::testing::UnitTest::GetInstance()->random_seed()) +
            "-" + ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(path);
    fs::create_directories(path);
  }
  ~TempDir() { fs::remove_all(path); }
  std::string write(const std::string& relative, const std::string& content) const {
    fs::path file = path / relative;
    fs::create_directories(file.parent_path());
    std::ofstream(file, std::ios::binary) << content;
    return file.string();
  }
  fs::path path;
};

TEST(HubEnv, DefaultsToHuggingFaceCoWithoutTokenOrOffline) {
  HubEnv env = resolve_hub_env(env_of({}));
  EXPECT_EQ(env.endpoint, "https://huggingface.co");
  EXPECT_TRUE(env.token.empty());
  EXPECT_EQ(env.token_source, TokenSource::none);
  EXPECT_FALSE(env.offline);
}

TEST(HubEnv, EndpointLosesTrailingSlashesAndEmptyMeansDefault) {
  EXPECT_EQ(resolve_hub_env(env_of({{"HF_ENDPOINT", "http://127.0.0.1:8080//"}})).endpoint,
            "http://127.0.0.1:8080");
  EXPECT_EQ(resolve_hub_env(env_of({{"HF_ENDPOINT", ""}})).endpoint, "https://huggingface.co");
}

TEST(HubEnv, HfTokenWinsOverLegacyVariableAndFile) {
  TempDir dir;
  std::string file = dir.write("token", "hf_from_file\n");
  HubEnv env = resolve_hub_env(env_of({{"HF_TOKEN", " hf_primary\r\n"},
                                       {"HUGGING_FACE_HUB_TOKEN", "hf_legacy"},
                                       {"HF_TOKEN_PATH", file}}));
  EXPECT_EQ(env.token.reveal(), "hf_primary");
  EXPECT_EQ(env.token_source, TokenSource::hf_token_env);
}

TEST(HubEnv, LegacyVariableUsedWhenHfTokenIsEmptyOrBlank) {
  HubEnv env =
      resolve_hub_env(env_of({{"HF_TOKEN", "  \n"}, {"HUGGING_FACE_HUB_TOKEN", "hf_legacy"}}));
  EXPECT_EQ(env.token.reveal(), "hf_legacy");
  EXPECT_EQ(env.token_source, TokenSource::legacy_env);
}

TEST(HubEnv, TokenFilePathPrecedence) {
  TempDir dir;
  std::string base = dir.path.string();
  dir.write("explicit/token", "hf_explicit");
  dir.write("hfhome/token", "hf_home");
  dir.write("xdg/huggingface/token", "hf_xdg");
  dir.write("home/.cache/huggingface/token", "hf_user_home");
  std::map<std::string, std::string> vars = {{"HF_TOKEN_PATH", base + "/explicit/token"},
                                             {"HF_HOME", base + "/hfhome"},
                                             {"XDG_CACHE_HOME", base + "/xdg"},
                                             {"HOME", base + "/home"}};
  EXPECT_EQ(resolve_hub_env(env_of(vars)).token.reveal(), "hf_explicit");
  vars.erase("HF_TOKEN_PATH");
  EXPECT_EQ(resolve_hub_env(env_of(vars)).token.reveal(), "hf_home");
  vars.erase("HF_HOME");
  EXPECT_EQ(resolve_hub_env(env_of(vars)).token.reveal(), "hf_xdg");
  vars.erase("XDG_CACHE_HOME");
  HubEnv env = resolve_hub_env(env_of(vars));
  EXPECT_EQ(env.token.reveal(), "hf_user_home");
  EXPECT_EQ(env.token_source, TokenSource::token_file);
  EXPECT_EQ(env.token_file, base + "/home/.cache/huggingface/token");
}

TEST(HubEnv, TokenFileIsStrippedAndBlankFileMeansNoToken) {
  TempDir dir;
  std::string file = dir.write("token", "\n  hf_spaced \r\n");
  EXPECT_EQ(resolve_hub_env(env_of({{"HF_TOKEN_PATH", file}})).token.reveal(), "hf_spaced");
  std::string blank = dir.write("blank", " \n\n");
  HubEnv env = resolve_hub_env(env_of({{"HF_TOKEN_PATH", blank}}));
  EXPECT_TRUE(env.token.empty());
  EXPECT_EQ(env.token_source, TokenSource::none);
}

TEST(HubEnv, MissingTokenFileMeansNoToken) {
  HubEnv env = resolve_hub_env(env_of({{"HF_TOKEN_PATH", "/nonexistent/hubcache/token"}}));
  EXPECT_TRUE(env.token.empty());
}

TEST(HubEnv, OfflineAcceptsTheTruthyWordsInAnyCase) {
  for (const char* value : {"1", "ON", "yes", "True", "tRuE"}) {
    EXPECT_TRUE(resolve_hub_env(env_of({{"HF_HUB_OFFLINE", value}})).offline) << value;
  }
  for (const char* value : {"0", "off", "no", "false", "", "2", "enabled"}) {
    EXPECT_FALSE(resolve_hub_env(env_of({{"HF_HUB_OFFLINE", value}})).offline) << value;
  }
}

TEST(HubEnv, TransformersOfflineCountsOnlyWhenHfHubOfflineIsUnsetOrEmpty) {
  EXPECT_TRUE(resolve_hub_env(env_of({{"TRANSFORMERS_OFFLINE", "1"}})).offline);
  EXPECT_TRUE(
      resolve_hub_env(env_of({{"HF_HUB_OFFLINE", ""}, {"TRANSFORMERS_OFFLINE", "1"}})).offline);
  // Like huggingface_hub: `HF_HUB_OFFLINE or TRANSFORMERS_OFFLINE`, the first non-empty decides.
  EXPECT_FALSE(
      resolve_hub_env(env_of({{"HF_HUB_OFFLINE", "0"}, {"TRANSFORMERS_OFFLINE", "1"}})).offline);
}

TEST(HubToken, FormatsRedacted) {
  HubToken token("hf_supersecret");
  EXPECT_EQ(fmt::format("{}", token), "***");
  EXPECT_EQ(fmt::format("token={}", HubToken()), "token=<none>");
  EXPECT_EQ(token.redacted().find("supersecret"), std::string::npos);
}

}  // namespace
}  // namespace hubcache::crawler
