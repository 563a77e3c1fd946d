#include "crawler/clock.h"

#include <thread>

namespace hubcache::crawler {

void SystemTime::sleep_for(Duration d) {
  if (d > Duration::zero()) std::this_thread::sleep_for(d);
}

Clock::time_point FakeTime::now() {
  std::lock_guard lock(m_mutex);
  return m_origin + m_offset;
}

std::chrono::system_clock::time_point FakeTime::wall_now() {
  std::lock_guard lock(m_mutex);
  return m_wall_origin + m_offset;
}

void FakeTime::sleep_for(Duration d) {
  std::lock_guard lock(m_mutex);
  m_sleeps.push_back(d);
  if (d > Duration::zero()) m_offset += d;
}

void FakeTime::advance(Duration d) {
  std::lock_guard lock(m_mutex);
  m_offset += d;
}

std::vector<Duration> FakeTime::sleeps() const {
  std::lock_guard lock(m_mutex);
  return m_sleeps;
}

Duration FakeTime::total_slept() const {
  std::lock_guard lock(m_mutex);
  Duration total{0};
  for (auto d : m_sleeps) total += d;
  return total;
}

std::shared_ptr<TimeSource> system_time() {
  static const auto instance = std::make_shared<SystemTime>();
  return instance;
}

}  // namespace hubcache::crawler
