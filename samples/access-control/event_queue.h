// A bounded first-in first-out queue of door events between the bus thread (which must never
// wait on a network) and one delivery thread. Full: the oldest event not yet in flight is
// dropped and counted.
// Thread-safety: every member may be called from any thread.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <deque>
#include <mutex>
#include <optional>
#include <string>

namespace siamese::samples {

/// One payload to deliver, with its sequence number (for the delivery thread's log).
struct QueuedEvent {
  int64_t sequence = 0;
  std::string camera;
  std::string payload;
};

class EventQueue {
 public:
  /// capacity: events held at most (>= 1); older ones are dropped beyond it.
  explicit EventQueue(size_t capacity) : capacity_(capacity < 1 ? 1 : capacity) {}

  /// Appends; when capacity events wait already, drops the oldest one not in flight. Never
  /// blocks beyond the lock.
  void push(QueuedEvent e) {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      const size_t waiting = events_.size() - (pinned_ ? 1 : 0);
      if (waiting >= capacity_) {
        events_.erase(events_.begin() + (pinned_ ? 1 : 0));
        ++dropped_;
      }
      events_.push_back(std::move(e));
    }
    changed_.notify_all();
  }
  /// The oldest event, now in flight: it is never dropped and does not count against the
  /// capacity until pop_pinned(). nullopt when the queue is empty.
  std::optional<QueuedEvent> pin_front() {
    std::lock_guard<std::mutex> lock(mutex_);
    if (events_.empty()) return std::nullopt;
    pinned_ = true;
    return events_.front();
  }
  /// Removes the event in flight (delivered, or given up on).
  void pop_pinned() {
    std::lock_guard<std::mutex> lock(mutex_);
    if (!pinned_) return;
    events_.pop_front();
    pinned_ = false;
  }
  /// Waits until the queue holds an event not in flight, close() was called, or timeout passed.
  void wait(std::chrono::milliseconds timeout) {
    std::unique_lock<std::mutex> lock(mutex_);
    changed_.wait_for(lock, timeout,
                      [&] { return events_.size() > (pinned_ ? 1u : 0u) || closed_; });
  }
  /// Wakes wait() for good (the run is ending).
  void close() {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      closed_ = true;
    }
    changed_.notify_all();
  }
  bool closed() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return closed_;
  }
  size_t size() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return events_.size();
  }
  size_t dropped() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return dropped_;
  }

 private:
  const size_t capacity_;
  mutable std::mutex mutex_;
  std::condition_variable changed_;
  std::deque<QueuedEvent> events_;
  size_t dropped_ = 0;
  bool pinned_ = false;  // events_.front() is in flight
  bool closed_ = false;
};

}  // namespace siamese::samples
