// Prints how fast hubsim generates a synthetic Hub and serves a full listing walk.
// Usage: bench_hubsim [N=2000000] [limit=1000] [gzip=0]
#include <httplib.h>

#include <chrono>
#include <cstdio>
#include <fstream>
#include <regex>
#include <string>

#include "hubsim/server.h"

namespace {

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

long rss_mb() {
  std::ifstream status("/proc/self/status");
  std::string line;
  while (std::getline(status, line)) {
    if (line.rfind("VmRSS:", 0) == 0) return std::stol(line.substr(6)) / 1024;
  }
  return -1;
}

}  // namespace

int main(int argc, char** argv) {
  using namespace hubcache::hubsim;
  size_t n = argc > 1 ? std::stoul(argv[1]) : 2000000;
  size_t limit = argc > 2 ? std::stoul(argv[2]) : 1000;
  bool gzip = argc > 3 && std::string(argv[3]) == "1";

  auto store = std::make_shared<ModelStore>();
  auto t0 = std::chrono::steady_clock::now();
  store->generate(n, 1);
  double gen_s = seconds_since(t0);
  std::printf("generate: %zu models in %.2f s (%.0f models/s), RSS %ld MB\n", n, gen_s, n / gen_s,
              rss_mb());

  Server server(store, ServerOptions{});
  if (!server.start().empty()) return 1;
  httplib::Client client("127.0.0.1", server.port());
  client.set_keep_alive(true);
  client.set_decompress(true);
  httplib::Headers headers;
  if (gzip) headers.emplace("Accept-Encoding", "gzip");

  // What an incremental crawler asks for (hub-api.md §9).
  std::string path = "/api/models?sort=lastModified&limit=" + std::to_string(limit) +
                     "&expand=sha&expand=lastModified&expand=createdAt&expand=private"
                     "&expand=gated&expand=downloads&expand=likes&expand=pipeline_tag"
                     "&expand=library_name&expand=tags&expand=cardData";
  const std::regex link_re(R"re(<https?://[^/]+([^>]+)>;\s+rel="next")re");
  size_t pages = 0, bytes = 0;
  t0 = std::chrono::steady_clock::now();
  while (!path.empty()) {
    auto res = client.Get(path.c_str(), headers);
    if (!res || res->status != 200) {
      std::printf("request failed at page %zu\n", pages);
      return 1;
    }
    ++pages;
    bytes += res->body.size();
    std::smatch m;
    std::string link = res->get_header_value("Link");
    path = std::regex_search(link, m, link_re) ? m[1].str() : "";
  }
  double walk_s = seconds_since(t0);
  std::printf("walk: %zu pages of %zu (%s) in %.2f s: %.0f pages/s, %.0f models/s, %.1f MB/s\n",
              pages, limit, gzip ? "gzip" : "identity", walk_s, pages / walk_s, n / walk_s,
              bytes / walk_s / 1e6);
  server.stop();
  std::fflush(stdout);
  std::_Exit(0);
}
