// A producer thread feeding a bounded queue: reading and parsing run on one core while the
// caller's thread writes to SQLite on the other. The database connection never leaves the
// caller's thread; the producer only turns raw input into values.
#pragma once

#include <condition_variable>
#include <cstddef>
#include <deque>
#include <exception>
#include <functional>
#include <mutex>
#include <optional>
#include <thread>
#include <utility>
#include <vector>

namespace hubcache {

template <typename Item>
class Prefetch {
 public:
  // Handed to the producer: push() blocks while the queue is full and returns false once the
  // consumer has gone away, so the producer can stop early.
  class Sink {
   public:
    explicit Sink(Prefetch& owner) : owner_(owner) {}
    bool push(Item item) {
      owner_.empty_trash();
      return owner_.push(std::move(item));
    }

   private:
    Prefetch& owner_;
  };
  using Producer = std::function<void(Sink&)>;

  // Starts `produce` on its own thread. `capacity` items may wait in the queue.
  Prefetch(size_t capacity, Producer produce) : capacity_(capacity ? capacity : 1) {
    thread_ = std::thread([this, produce = std::move(produce)] {
      Sink sink(*this);
      try {
        produce(sink);
      } catch (...) {
        std::lock_guard lock(mutex_);
        error_ = std::current_exception();
      }
      std::lock_guard lock(mutex_);
      done_ = true;
      ready_.notify_all();
    });
  }

  // Stops the producer (its next push returns false) and waits for it.
  ~Prefetch() {
    {
      std::lock_guard lock(mutex_);
      cancelled_ = true;
      space_.notify_all();
    }
    if (thread_.joinable()) thread_.join();
  }

  Prefetch(const Prefetch&) = delete;
  Prefetch& operator=(const Prefetch&) = delete;

  // Hands a consumed item back so that the producer's thread frees it: items built of many small
  // allocations (parsed JSON) cost the consumer a lot to free, and the producer has time.
  void recycle(Item item) {
    std::lock_guard lock(mutex_);
    if (!done_) trash_.push_back(std::move(item));
  }

  // True when next() would not block.
  bool ready() const {
    std::lock_guard lock(mutex_);
    return !queue_.empty() || done_;
  }

  // The next item in production order; nullopt once the producer has finished and the queue
  // is drained. Rethrows an exception the producer ended with, after the items before it.
  std::optional<Item> next() {
    std::unique_lock lock(mutex_);
    ready_.wait(lock, [&] { return !queue_.empty() || done_; });
    if (queue_.empty()) {
      if (error_) std::rethrow_exception(std::exchange(error_, nullptr));
      return std::nullopt;
    }
    Item item = std::move(queue_.front());
    queue_.pop_front();
    space_.notify_one();
    return item;
  }

 private:
  bool push(Item item) {
    std::unique_lock lock(mutex_);
    space_.wait(lock, [&] { return queue_.size() < capacity_ || cancelled_; });
    if (cancelled_) return false;
    queue_.push_back(std::move(item));
    ready_.notify_one();
    return true;
  }
  void empty_trash() {
    std::vector<Item> trash;
    {
      std::lock_guard lock(mutex_);
      trash.swap(trash_);
    }
  }  // destroyed here, on the producer's thread

  const size_t capacity_;
  mutable std::mutex mutex_;
  std::condition_variable ready_, space_;
  std::deque<Item> queue_;
  std::vector<Item> trash_;
  bool done_ = false, cancelled_ = false;
  std::exception_ptr error_;
  std::thread thread_;
};

}  // namespace hubcache
