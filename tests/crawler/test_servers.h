// In-process servers on 127.0.0.1 for the crawler tests.
#pragma once

#include <httplib.h>

#include <atomic>
#include <functional>
#include <string>
#include <thread>

namespace hubcache::crawler::test_support {

// A cpp-httplib server on an ephemeral port: register routes on `http`, then start().
class LocalServer {
 public:
  LocalServer();
  ~LocalServer();
  LocalServer(const LocalServer&) = delete;
  LocalServer& operator=(const LocalServer&) = delete;

  void start();
  int port() const { return m_port; }
  std::string url(const std::string& path = "") const;

  httplib::Server http;

 private:
  int m_port = 0;
  std::thread m_thread;
};

// A bare TCP server that hands each accepted connection to `on_connection` (on its own
// thread, one connection at a time), for replies no HTTP library would produce.
class RawServer {
 public:
  using Handler = std::function<void(int fd, const std::atomic<bool>& stopping)>;
  explicit RawServer(Handler on_connection);
  ~RawServer();
  RawServer(const RawServer&) = delete;
  RawServer& operator=(const RawServer&) = delete;

  int port() const { return m_port; }
  std::string url(const std::string& path = "") const;
  int connections() const { return m_connections.load(); }

  // Helpers for handlers.
  static std::string read_request_head(int fd);
  static void write_all(int fd, const std::string& data);
  // Sleeps up to `ms`, returning early when the server stops.
  static void wait_or_stop(const std::atomic<bool>& stopping, int ms);

 private:
  Handler m_handler;
  int m_listen_fd = -1;
  int m_port = 0;
  std::atomic<bool> m_stopping{false};
  std::atomic<int> m_connections{0};
  std::thread m_thread;
};

// A port on 127.0.0.1 that nothing listens on (bound, then closed).
int unused_port();

}  // namespace hubcache::crawler::test_support
