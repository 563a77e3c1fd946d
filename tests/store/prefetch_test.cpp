// The producer thread behind imports and syncs: order, errors, early exit, freeing.
#include "store/prefetch.h"

#include <gtest/gtest.h>

#include <atomic>
#include <memory>
#include <stdexcept>
#include <string>
#include <thread>

namespace hubcache {
namespace {

TEST(Prefetch, DeliversEveryItemInProductionOrderThenEnds) {
  Prefetch<int> items(3, [](auto& sink) {
    for (int i = 0; i < 1000; ++i)
      if (!sink.push(i)) return;
  });
  for (int expected = 0; expected < 1000; ++expected) {
    auto item = items.next();
    ASSERT_TRUE(item);
    EXPECT_EQ(*item, expected);
  }
  EXPECT_FALSE(items.next());
  EXPECT_FALSE(items.next());
}

TEST(Prefetch, ProducerErrorArrivesAfterTheItemsBeforeIt) {
  Prefetch<std::string> items(8, [](auto& sink) {
    sink.push("first");
    sink.push("second");
    throw std::runtime_error("page 3: truncated body");
  });
  EXPECT_EQ(*items.next(), "first");
  EXPECT_EQ(*items.next(), "second");
  try {
    items.next();
    FAIL() << "the producer's error was lost";
  } catch (const std::runtime_error& e) {
    EXPECT_STREQ(e.what(), "page 3: truncated body");
  }
}

TEST(Prefetch, ConsumerLeavingEarlyStopsAnEndlessProducer) {
  std::atomic<int> produced = 0;
  {
    Prefetch<int> items(2, [&](auto& sink) {
      while (sink.push(produced.load())) ++produced;
    });
    EXPECT_EQ(*items.next(), 0);
  }  // must not hang
  EXPECT_LE(produced.load(), 4) << "the queue is bounded";
}

// Counts destructions per thread.
struct Tracked {
  std::shared_ptr<std::atomic<int>> freed_on_producer;
  std::thread::id producer;
  bool live = true;
  Tracked(std::shared_ptr<std::atomic<int>> counter, std::thread::id id)
      : freed_on_producer(std::move(counter)), producer(id) {}
  Tracked(Tracked&& other) noexcept
      : freed_on_producer(other.freed_on_producer), producer(other.producer) {
    other.live = false;
  }
  Tracked& operator=(Tracked&&) = delete;
  ~Tracked() {
    if (live && std::this_thread::get_id() == producer) ++*freed_on_producer;
  }
};

TEST(Prefetch, RecycledItemsAreFreedOnTheProducersThread) {
  auto freed = std::make_shared<std::atomic<int>>(0);
  std::atomic<bool> consumer_done = false;
  {
    Prefetch<Tracked> items(1, [&](auto& sink) {
      for (int i = 0; i < 5; ++i)
        if (!sink.push(Tracked(freed, std::this_thread::get_id()))) return;
      // Wait until the consumer has handed everything back, then push once more: trash is
      // emptied on the producer's thread at every push.
      while (!consumer_done) std::this_thread::yield();
      sink.push(Tracked(freed, std::this_thread::get_id()));
    });
    for (int i = 0; i < 5; ++i) items.recycle(std::move(*items.next()));
    consumer_done = true;
    items.next();
  }
  EXPECT_GE(freed->load(), 5);
}

}  // namespace
}  // namespace hubcache
