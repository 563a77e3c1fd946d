#include <gtest/gtest.h>

#include "crawler/link_header.h"

namespace hubcache::crawler {
namespace {

TEST(LinkHeader, ParsesTheHubsNextLink) {
  auto links = parse_link_header(
      "<https://huggingface.co/api/models?limit=10&sort=likes&cursor=eyIkb3Ii%3D>; rel=\"next\"");
  ASSERT_EQ(links.size(), 1u);
  EXPECT_EQ(links[0].url,
            "https://huggingface.co/api/models?limit=10&sort=likes&cursor=eyIkb3Ii%3D");
  EXPECT_EQ(links[0].rel, "next");
}

TEST(LinkHeader, ParsesSeveralLinksInOneValue) {
  auto links = parse_link_header(
      "<http://127.0.0.1:5564/api/models?cursor=a>; rel=\"prev\", "
      "<http://127.0.0.1:5564/api/models?cursor=b>;rel=\"next\"");
  ASSERT_EQ(links.size(), 2u);
  EXPECT_EQ(links[0].rel, "prev");
  EXPECT_EQ(links[1].url, "http://127.0.0.1:5564/api/models?cursor=b");
}

TEST(LinkHeader, IgnoresRelativeAndNonHttpUrlsLikeTheJsClient) {
  EXPECT_TRUE(parse_link_header("</api/models?cursor=a>; rel=\"next\"").empty());
  EXPECT_TRUE(parse_link_header("<ftp://host/x>; rel=\"next\"").empty());
  EXPECT_TRUE(parse_link_header("<https://>; rel=\"next\"").empty());
  EXPECT_TRUE(parse_link_header("<https://h/x> rel=\"next\"").empty());  // no ';'
  EXPECT_TRUE(parse_link_header("<https://h/x>; rel=next").empty());     // unquoted
  EXPECT_TRUE(parse_link_header("").empty());
}

TEST(LinkHeader, NextPageUrlSearchesAllLinkHeaders) {
  HttpHeaders headers;
  headers.add("link", "<https://h/a>; rel=\"prev\"");
  headers.add("Link", "<https://h/b>; rel=\"next\"");
  EXPECT_EQ(next_page_url(headers), "https://h/b");
  HttpHeaders last_page;
  last_page.add("Link", "<https://h/a>; rel=\"prev\"");
  EXPECT_FALSE(next_page_url(last_page).has_value());
  EXPECT_FALSE(next_page_url(HttpHeaders{}).has_value());
}

}  // namespace
}  // namespace hubcache::crawler
