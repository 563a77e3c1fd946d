// hubsim: serves a set of Hub models over the Hub's HTTP API on 127.0.0.1 (see README.md).
#include <CLI/CLI.hpp>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <sstream>

#include "hubsim/server.h"

namespace {

using hubcache::hubsim::Json;

std::optional<Json> read_script(const std::string& path, std::string& error) {
  std::ifstream in(path);
  if (!in) {
    error = "cannot open " + path;
    return std::nullopt;
  }
  std::stringstream ss;
  ss << in.rdbuf();
  auto ops = hubcache::hubsim::parse_changes(ss.str(), &error);
  if (!ops) error = path + ": " + error;
  return ops;
}

bool write_port_file(const std::string& path, int port) {
  std::string tmp = path + ".tmp";
  {
    std::ofstream out(tmp);
    if (!out) return false;
    out << port << "\n";
  }
  return std::rename(tmp.c_str(), path.c_str()) == 0;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"hubsim: a local emulator of the Hugging Face Hub HTTP API (127.0.0.0/8 only)"};
  std::string models_file, port_file;
  size_t generate = 0;
  uint64_t seed = 1;
  std::vector<std::string> scripts;
  hubcache::hubsim::ServerOptions options;
  auto* models_opt = app.add_option("--models", models_file, "API-shaped models, one JSON a line");
  auto* gen_opt = app.add_option("--generate", generate, "Generate N synthetic models instead");
  models_opt->excludes(gen_opt);
  app.add_option("--seed", seed, "Seed for --generate")->capture_default_str();
  app.add_option("--port", options.port, "Port (0: any free port)")->capture_default_str();
  app.add_option("--port-file", port_file, "Write the bound port to this file");
  app.add_option("--bind", options.bind, "Address inside 127.0.0.0/8")->capture_default_str();
  app.add_option("--token", options.tokens,
                 "Valid Bearer token (repeatable); with none, any token is accepted");
  app.add_option("--api-quota", options.api_quota, "Requests per window, bucket api")
      ->capture_default_str();
  app.add_option("--resolver-quota", options.resolver_quota, "Requests per window, resolvers")
      ->capture_default_str();
  app.add_option("--window-seconds", options.window_seconds, "Rate-limit window")
      ->capture_default_str();
  app.add_option("--default-limit", options.default_limit, "List page size without limit=")
      ->capture_default_str();
  app.add_option("--max-limit", options.max_limit, "Largest list page size")->capture_default_str();
  app.add_option("--threads", options.threads, "Worker threads")->capture_default_str();
  app.add_option("--script", scripts, "Changes to apply at start (JSON array or JSON lines)");
  CLI11_PARSE(app, argc, argv);

  if (!hubcache::hubsim::is_loopback_address(options.bind)) {
    std::cerr << "hubsim: refusing to bind " << options.bind << ": only 127.0.0.0/8 is allowed\n";
    return 2;
  }
  if (models_file.empty() && generate == 0) {
    std::cerr << "hubsim: give --models FILE or --generate N\n";
    return 2;
  }

  // Block the stop signals before any thread starts so only sigwait() below sees them.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGINT);
  sigaddset(&stop_signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);
  std::signal(SIGPIPE, SIG_IGN);

  auto store = std::make_shared<hubcache::hubsim::ModelStore>();
  auto t0 = std::chrono::steady_clock::now();
  if (!models_file.empty()) {
    std::string error;
    size_t n = store->load_jsonl(models_file, &error);
    if (!error.empty()) std::cerr << "hubsim: warning: " << error << "\n";
    if (n == 0) {
      std::cerr << "hubsim: no models loaded from " << models_file << "\n";
      return 1;
    }
  } else {
    store->generate(generate, seed);
  }
  for (const auto& path : scripts) {
    std::string error;
    auto ops = read_script(path, error);
    if (!ops) {
      std::cerr << "hubsim: " << error << "\n";
      return 1;
    }
    auto r = store->apply_all(*ops);
    if (!r.ok) {
      std::cerr << "hubsim: " << path << ": " << r.message << "\n";
      return 1;
    }
  }
  auto load_ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - t0)
          .count();
  size_t count;
  {
    auto lock = store->read_lock();
    count = store->live_count();
  }
  std::cerr << "hubsim: " << count << " models ready in " << load_ms << " ms\n";

  hubcache::hubsim::Server server(store, options);
  std::string error = server.start();
  if (!error.empty()) {
    std::cerr << "hubsim: " << error << "\n";
    return 1;
  }
  if (!port_file.empty() && !write_port_file(port_file, server.port())) {
    std::cerr << "hubsim: cannot write " << port_file << "\n";
    return 1;
  }
  std::string host = options.bind == "localhost" ? "127.0.0.1" : options.bind;
  std::cout << "listening on http://" << host << ":" << server.port() << std::endl;

  int sig = 0;
  sigwait(&stop_signals, &sig);
  std::cerr << "hubsim: signal " << sig << ", shutting down\n";
  server.stop();
  // Skip freeing millions of models one by one: the process is ending anyway.
  std::cout.flush();
  std::_Exit(0);
}
