// hubsim's HTTP side: the Hub endpoints over a ModelStore, plus the /_hubsim admin API
// (scripted changes, faults, rate limits, stats, recorded Authorization headers).
// See hubsim/README.md for the HTTP contract.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "hubsim/model_store.h"

namespace hubcache::hubsim {

struct ServerOptions {
  std::string bind = "127.0.0.1";  // must be inside 127.0.0.0/8
  int port = 0;                    // 0: any free port
  // Valid Bearer tokens. Empty: every token is accepted (and counts as authenticated).
  std::vector<std::string> tokens;
  int64_t api_quota = 100000000;       // requests per window, bucket "api" (/api/...)
  int64_t resolver_quota = 100000000;  // bucket "resolvers" (.../resolve/...)
  int64_t window_seconds = 300;
  size_t default_limit = 100;
  size_t max_limit = 1000;
  // Worker threads. cpp-httplib holds one per open keep-alive connection (idle ones for 5 s).
  size_t threads = 32;
};

class Server {
 public:
  Server(std::shared_ptr<ModelStore> store, ServerOptions options);
  ~Server();  // stops and joins
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // Binds and starts serving on a background thread. Empty string on success, else the reason
  // (address outside 127.0.0.0/8, port in use...).
  std::string start();
  int port() const;
  // Blocks until stop() (from another thread or a signal handler thread).
  void wait();
  void stop();

  ModelStore& store();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// True for a dotted IPv4 address in 127.0.0.0/8 (or "localhost").
bool is_loopback_address(const std::string& address);

}  // namespace hubcache::hubsim
