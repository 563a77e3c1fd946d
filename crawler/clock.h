// Time for the crawler's waits: an interface so tests can run retry and pacing logic without
// actually sleeping. Production code uses SystemTime (steady clock + std::this_thread::sleep_for).
#pragma once

#include <atomic>
#include <chrono>
#include <memory>
#include <mutex>
#include <vector>

namespace hubcache::crawler {

using Clock = std::chrono::steady_clock;
using Duration = std::chrono::milliseconds;

class TimeSource {
 public:
  virtual ~TimeSource() = default;
  // Monotonic time used for pacing windows, backoff deadlines and elapsed times.
  virtual Clock::time_point now() = 0;
  // Wall-clock time, only needed to turn an HTTP-date `Retry-After` into a delay.
  virtual std::chrono::system_clock::time_point wall_now() = 0;
  virtual void sleep_for(Duration d) = 0;
};

// The real clock. Thread-safe.
class SystemTime final : public TimeSource {
 public:
  Clock::time_point now() override { return Clock::now(); }
  std::chrono::system_clock::time_point wall_now() override {
    return std::chrono::system_clock::now();
  }
  void sleep_for(Duration d) override;
};

// A clock that only moves when told to (or when something sleeps on it); it records every sleep.
// Thread-safe, so an in-process test server may advance it too.
class FakeTime final : public TimeSource {
 public:
  Clock::time_point now() override;
  std::chrono::system_clock::time_point wall_now() override;
  void sleep_for(Duration d) override;  // advances the clock by d, records d, returns at once

  void advance(Duration d);
  std::vector<Duration> sleeps() const;
  Duration total_slept() const;

 private:
  mutable std::mutex m_mutex;
  Duration m_offset{0};
  std::vector<Duration> m_sleeps;
  // Arbitrary fixed origins keep tests deterministic.
  const Clock::time_point m_origin = Clock::time_point{} + std::chrono::hours(1000);
  const std::chrono::system_clock::time_point m_wall_origin =
      std::chrono::system_clock::time_point{} + std::chrono::seconds(1'700'000'000);
};

std::shared_ptr<TimeSource> system_time();

}  // namespace hubcache::crawler
