#include "test_servers.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <stdexcept>

namespace hubcache::crawler::test_support {

LocalServer::LocalServer() {
  http.set_keep_alive_max_count(1000);
  http.set_tcp_nodelay(true);  // else Nagle + delayed ACK add ~40 ms per response
  m_port = http.bind_to_any_port("127.0.0.1");
  if (m_port <= 0) throw std::runtime_error("cannot bind 127.0.0.1");
}

void LocalServer::start() {
  m_thread = std::thread([this] { http.listen_after_bind(); });
  for (int i = 0; i < 500 && !http.is_running(); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
}

LocalServer::~LocalServer() {
  http.stop();
  if (m_thread.joinable()) m_thread.join();
}

std::string LocalServer::url(const std::string& path) const {
  return "http://127.0.0.1:" + std::to_string(m_port) + path;
}

namespace {

int listen_on_ephemeral_port(int* port) {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) throw std::runtime_error("socket");
  int yes = 1;
  ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof yes);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  address.sin_port = 0;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0) {
    ::close(fd);
    throw std::runtime_error("bind");
  }
  socklen_t length = sizeof address;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length);
  *port = ntohs(address.sin_port);
  return fd;
}

}  // namespace

RawServer::RawServer(Handler on_connection) : m_handler(std::move(on_connection)) {
  m_listen_fd = listen_on_ephemeral_port(&m_port);
  ::listen(m_listen_fd, 16);
  m_thread = std::thread([this] {
    while (!m_stopping) {
      pollfd entry{m_listen_fd, POLLIN, 0};
      if (::poll(&entry, 1, 20) <= 0) continue;
      int fd = ::accept(m_listen_fd, nullptr, nullptr);
      if (fd < 0) continue;
      ++m_connections;
      m_handler(fd, m_stopping);
      ::close(fd);
    }
  });
}

RawServer::~RawServer() {
  m_stopping = true;
  if (m_thread.joinable()) m_thread.join();
  ::close(m_listen_fd);
}

std::string RawServer::url(const std::string& path) const {
  return "http://127.0.0.1:" + std::to_string(m_port) + path;
}

std::string RawServer::read_request_head(int fd) {
  std::string head;
  char buffer[1024];
  while (head.find("\r\n\r\n") == std::string::npos) {
    pollfd entry{fd, POLLIN, 0};
    if (::poll(&entry, 1, 2000) <= 0) break;
    ssize_t got = ::recv(fd, buffer, sizeof buffer, 0);
    if (got <= 0) break;
    head.append(buffer, static_cast<size_t>(got));
  }
  return head;
}

void RawServer::write_all(int fd, const std::string& data) {
  size_t sent = 0;
  while (sent < data.size()) {
    ssize_t n = ::send(fd, data.data() + sent, data.size() - sent, MSG_NOSIGNAL);
    if (n <= 0) return;
    sent += static_cast<size_t>(n);
  }
}

void RawServer::wait_or_stop(const std::atomic<bool>& stopping, int ms) {
  for (int waited = 0; waited < ms && !stopping; waited += 10) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
}

int unused_port() {
  int port = 0;
  int fd = listen_on_ephemeral_port(&port);
  ::close(fd);
  return port;
}

}  // namespace hubcache::crawler::test_support
