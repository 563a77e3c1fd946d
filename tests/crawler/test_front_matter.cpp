#include <gtest/gtest.h>

#include <string>

#include "crawler/front_matter.h"

namespace hubcache::crawler {
namespace {

using nlohmann::json;

TEST(SplitFrontMatter, SplitsAPlainCard) {
  auto split = split_front_matter("---\nlicense: mit\n---\n# Title\n");
  ASSERT_TRUE(split.found);
  EXPECT_EQ(split.yaml, "license: mit");
  EXPECT_EQ(split.body, "# Title\n");
  EXPECT_EQ(split.yaml_first_line, 2);
}

TEST(SplitFrontMatter, HandlesCrlfFiles) {
  auto split = split_front_matter("---\r\nlicense: mit\r\ntags:\r\n- a\r\n---\r\nBody\r\n");
  ASSERT_TRUE(split.found);
  EXPECT_EQ(split.yaml, "license: mit\r\ntags:\r\n- a");
  EXPECT_EQ(split.body, "Body\r\n");
}

TEST(SplitFrontMatter, NoFrontMatterKeepsTheWholeText) {
  for (std::string text : {"# Title\n---\nx: 1\n---\n", "", "---", "---\nlicense: mit\n",
                           "----\nx: 1\n----\n", "text\n---\nx: 1\n---\n"}) {
    auto split = split_front_matter(text);
    EXPECT_FALSE(split.found) << text;
    EXPECT_EQ(split.body, text);
  }
}

TEST(SplitFrontMatter, LeadingWhitespaceAndBomAreAllowed) {
  EXPECT_TRUE(split_front_matter("\n\n  ---\nx: 1\n---\n").found);
  EXPECT_TRUE(split_front_matter("\xEF\xBB\xBF---\nx: 1\n---\n").found);
}

TEST(SplitFrontMatter, StopsAtTheFirstClosingFence) {
  auto split = split_front_matter("---\na: 1\n---\nbody\n---\nmore\n");
  ASSERT_TRUE(split.found);
  EXPECT_EQ(split.yaml, "a: 1");
  EXPECT_EQ(split.body, "body\n---\nmore\n");
}

TEST(SplitFrontMatter, DashesThatAreNotAFenceStayInside) {
  auto split = split_front_matter("---\na: \"x---y\"\n----\nb: 2\n--- trailing\n---  \t\nbody");
  ASSERT_TRUE(split.found);
  EXPECT_EQ(split.yaml, "a: \"x---y\"\n----\nb: 2\n--- trailing");
  EXPECT_EQ(split.body, "body");
}

TEST(SplitFrontMatter, ClosingFenceMayEndTheFile) {
  auto split = split_front_matter("---\na: 1\n---");
  ASSERT_TRUE(split.found);
  EXPECT_EQ(split.yaml, "a: 1");
  EXPECT_EQ(split.body, "");
}

TEST(SplitFrontMatter, EmptyBlockNeedsALineBetweenTheFences) {
  // The Hub regex needs a newline before the closing fence, so "---\n---" is not a block...
  EXPECT_FALSE(split_front_matter("---\n---\nbody").found);
  // ...but with an empty line it is, and so is CRLF where `\r` alone ends the opening fence.
  auto empty = split_front_matter("---\n\n---\nbody");
  ASSERT_TRUE(empty.found);
  EXPECT_EQ(empty.yaml, "");
  EXPECT_EQ(empty.body, "body");
  auto crlf = split_front_matter("---\r\n---\r\nbody");
  ASSERT_TRUE(crlf.found);
  EXPECT_EQ(crlf.yaml, "");
  EXPECT_EQ(crlf.body, "body");
}

TEST(SplitFrontMatter, LoneCarriageReturnClosingFenceIsNotAccepted) {
  // `(\r\n|\n|$)` after the closing dashes: a lone CR does not end the fence.
  EXPECT_FALSE(split_front_matter("---\ra: 1\r---\rbody").found);
  EXPECT_TRUE(split_front_matter("---\ra: 1\r---").found);
}

TEST(SplitFrontMatter, HugeInputWithoutClosingFenceIsFast) {
  std::string text = "---\n" + std::string(20'000'000, 'a');
  EXPECT_FALSE(split_front_matter(text).found);
}

TEST(ParseFrontMatter, ConvertsTheCardToJson) {
  auto card = parse_front_matter(
      "---\n"
      "language:\n- en\n- fr\n"
      "license: apache-2.0\n"
      "base_model: meta-llama/Llama-3.1-8B\n"
      "model-index:\n- name: m\n  results:\n  - metrics:\n    - type: acc\n      value: 0.91\n"
      "inference: false\n"
      "thumbnail: null\n"
      "---\n# Model\n");
  ASSERT_TRUE(card.ok()) << card.error->message;
  EXPECT_TRUE(card.found);
  EXPECT_EQ(card.data["language"], json({"en", "fr"}));
  EXPECT_EQ(card.data["license"], "apache-2.0");
  EXPECT_EQ(card.data["model-index"][0]["results"][0]["metrics"][0]["value"], 0.91);
  EXPECT_EQ(card.data["inference"], false);
  EXPECT_TRUE(card.data["thumbnail"].is_null());
  EXPECT_EQ(card.body, "# Model\n");
}

TEST(ParseFrontMatter, ScalarTypesFollowTheCoreSchema) {
  auto card = parse_front_matter(
      "---\n"
      "int: 42\nneg: -7\nhex: 0x1F\noct: 0o17\nbig: 12345678901234567890\n"
      "float: 1.5\nexp: 1e3\ndot: .5\n"
      "yes_word: yes\nno_word: no\non_word: on\nTrue_word: True\n"
      "tilde: ~\nempty:\n"
      "quoted_int: \"42\"\nquoted_bool: 'true'\nquoted_null: \"null\"\n"
      "version: 1.0\ndate: 2023-01-01\ninf: .inf\nnan: .nan\n"
      "tagged: !!str 12\n"
      "---\n");
  ASSERT_TRUE(card.ok()) << card.error->message;
  const json& d = card.data;
  EXPECT_EQ(d["int"], 42);
  EXPECT_TRUE(d["int"].is_number_integer());
  EXPECT_EQ(d["neg"], -7);
  EXPECT_EQ(d["hex"], 31);
  EXPECT_EQ(d["oct"], 15);
  EXPECT_TRUE(d["big"].is_number_unsigned());
  EXPECT_EQ(d["float"], 1.5);
  EXPECT_EQ(d["exp"], 1000.0);
  EXPECT_EQ(d["dot"], 0.5);
  EXPECT_EQ(d["yes_word"], "yes");  // YAML 1.2: only true/false are booleans
  EXPECT_EQ(d["no_word"], "no");
  EXPECT_EQ(d["on_word"], "on");
  EXPECT_EQ(d["True_word"], true);
  EXPECT_TRUE(d["tilde"].is_null());
  EXPECT_TRUE(d["empty"].is_null());
  EXPECT_EQ(d["quoted_int"], "42");
  EXPECT_EQ(d["quoted_bool"], "true");
  EXPECT_EQ(d["quoted_null"], "null");
  EXPECT_EQ(d["version"], 1.0);
  EXPECT_EQ(d["date"], "2023-01-01");
  EXPECT_EQ(d["inf"], ".inf");
  EXPECT_EQ(d["nan"], ".nan");
  EXPECT_EQ(d["tagged"], "12");
  EXPECT_NO_THROW((void)d.dump());
}

TEST(ParseFrontMatter, CrlfCardParses) {
  auto card = parse_front_matter("---\r\nlicense: mit\r\ntags:\r\n- a\r\n- b\r\n---\r\nBody\r\n");
  ASSERT_TRUE(card.ok());
  EXPECT_EQ(card.data, json({{"license", "mit"}, {"tags", {"a", "b"}}}));
  EXPECT_EQ(card.body, "Body\r\n");
}

TEST(ParseFrontMatter, NoFrontMatterIsNotAnError) {
  auto card = parse_front_matter("# Just text\n");
  EXPECT_TRUE(card.ok());
  EXPECT_FALSE(card.found);
  EXPECT_EQ(card.data, json::object());
  EXPECT_EQ(card.body, "# Just text\n");
}

TEST(ParseFrontMatter, EmptyOrCommentOnlyBlockGivesEmptyObject) {
  for (const char* text : {"---\n\n---\nbody", "---\n# only a comment\n---\nbody"}) {
    auto card = parse_front_matter(text);
    EXPECT_TRUE(card.ok()) << text;
    EXPECT_TRUE(card.found);
    EXPECT_EQ(card.data, json::object());
    EXPECT_EQ(card.body, "body");
  }
}

TEST(ParseFrontMatter, BrokenYamlReportsReadmeLineAndColumn) {
  auto card = parse_front_matter("\n---\nlicense: mit\ntags: [a, b\nfoo: bar\n---\nbody");
  ASSERT_FALSE(card.ok());
  EXPECT_TRUE(card.found);
  EXPECT_EQ(card.data, json::object());
  EXPECT_NE(card.error->message.find("invalid YAML"), std::string::npos) << card.error->message;
  EXPECT_GE(card.error->line, 4);  // the README's own line numbers (block starts on line 3)
  EXPECT_GT(card.error->column, 0);
  EXPECT_EQ(card.body, "body");
}

TEST(ParseFrontMatter, NonMappingYamlIsAnError) {
  for (const char* text : {"---\n- a\n- b\n---\n", "---\njust a string\n---\n", "---\n42\n---\n"}) {
    auto card = parse_front_matter(text);
    ASSERT_FALSE(card.ok()) << text;
    EXPECT_NE(card.error->message.find("mapping"), std::string::npos);
    EXPECT_EQ(card.data, json::object());
  }
}

TEST(ParseFrontMatter, SeveralDocumentsAreAnError) {
  auto card = parse_front_matter("---\na: 1\n...\n--- \nb: 2\n---\n");
  // "--- " closes the block (trailing spaces allowed), so this is a + an end marker only.
  EXPECT_TRUE(card.ok());
  FrontMatterError error;
  EXPECT_FALSE(yaml_to_json("a: 1\n---\nb: 2\n", {}, &error));
  EXPECT_NE(error.message.find("single"), std::string::npos);
}

TEST(ParseFrontMatter, AliasBombIsStopped) {
  std::string yaml =
      "a: &a [\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\"]\n";
  char previous = 'a';
  for (char name = 'b'; name <= 'j'; ++name) {
    yaml += std::string(1, name) + ": &" + name + " [";
    for (int i = 0; i < 9; ++i) yaml += std::string(i ? "," : "") + "*" + previous;
    yaml += "]\n";
    previous = name;
  }
  auto card = parse_front_matter("---\n" + yaml + "---\n");
  ASSERT_FALSE(card.ok());
  EXPECT_NE(card.error->message.find("alias bomb"), std::string::npos) << card.error->message;
}

TEST(ParseFrontMatter, LongStringAliasedManyTimesIsStopped) {
  std::string yaml = "s: &s \"" + std::string(100'000, 'x') + "\"\nlist: [";
  for (int i = 0; i < 500; ++i) yaml += std::string(i ? "," : "") + "*s";
  yaml += "]\n";
  FrontMatterLimits limits;
  limits.max_output_bytes = 10'000'000;
  auto card = parse_front_matter("---\n" + yaml + "---\n", limits);
  ASSERT_FALSE(card.ok());
  EXPECT_NE(card.error->message.find("bytes"), std::string::npos) << card.error->message;
}

TEST(ParseFrontMatter, ModestAliasUseIsFine) {
  auto card = parse_front_matter("---\nbase: &b {lr: 0.1}\nrun1: *b\nrun2: *b\n---\n");
  ASSERT_TRUE(card.ok()) << card.error->message;
  EXPECT_EQ(card.data["run2"]["lr"], 0.1);
}

TEST(ParseFrontMatter, DeepNestingIsAnErrorNotACrash) {
  std::string flow = std::string(100'000, '[') + std::string(100'000, ']');
  auto card = parse_front_matter("---\nx: " + flow + "\n---\n");
  EXPECT_FALSE(card.ok());
  std::string modest = std::string(100, '[') + std::string(100, ']');
  auto limited = parse_front_matter("---\nx: " + modest + "\n---\n");
  ASSERT_FALSE(limited.ok());
  EXPECT_NE(limited.error->message.find("deeper"), std::string::npos) << limited.error->message;
}

TEST(ParseFrontMatter, SelfReferencingAliasTerminates) {
  auto card = parse_front_matter("---\na: &a [*a]\n---\n");
  // yaml-cpp resolves the alias to the node being defined (a cycle); the depth limit ends it.
  if (card.ok()) {
    EXPECT_TRUE(card.data["a"].is_array()) << card.data.dump();
  } else {
    EXPECT_NE(card.error->message.find("deeper"), std::string::npos) << card.error->message;
  }
}

TEST(ParseFrontMatter, OversizedBlockIsRefusedUnparsed) {
  FrontMatterLimits limits;
  limits.max_yaml_bytes = 1000;
  auto card = parse_front_matter("---\nx: \"" + std::string(2000, 'y') + "\"\n---\n", limits);
  ASSERT_FALSE(card.ok());
  EXPECT_NE(card.error->message.find("limit"), std::string::npos);
}

TEST(ParseFrontMatter, InvalidUtf8IsReplacedSoJsonSerializes) {
  auto card = parse_front_matter("---\nname: \"caf\xE9\"\nk\xFF: v\n---\n");
  ASSERT_TRUE(card.ok()) << card.error->message;
  std::string dumped;
  EXPECT_NO_THROW(dumped = card.data.dump());
  EXPECT_NE(dumped.find("caf\xEF\xBF\xBD"), std::string::npos);
}

TEST(ParseFrontMatter, DuplicateKeysKeepTheLastValue) {
  auto card = parse_front_matter("---\nlicense: mit\nlicense: apache-2.0\n---\n");
  ASSERT_TRUE(card.ok());
  EXPECT_EQ(card.data["license"], "apache-2.0");
}

TEST(ParseFrontMatter, NonStringKeysBecomeText) {
  auto card = parse_front_matter("---\n1: one\ntrue: yes\n? [a, b]\n: pair\n---\n");
  ASSERT_TRUE(card.ok()) << card.error->message;
  EXPECT_EQ(card.data["1"], "one");
  EXPECT_EQ(card.data["true"], "yes");
  EXPECT_EQ(card.data["[\"a\",\"b\"]"], "pair");
}

}  // namespace
}  // namespace hubcache::crawler
