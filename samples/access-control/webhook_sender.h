// POSTs siamese-access-control's door events to a URL (libsoup, on its own thread): the same
// JSON as MQTT, signed with X-Siamese-Signature: sha256=HEX(HMAC-SHA256(secret, body)) when a
// secret is set; each event retried with doubling back-off, then counted as failed; a bounded
// queue between the bus thread and the sender. Thread-safety: publish_event() from any
// thread; finish() once.
#pragma once

#include <atomic>
#include <cstddef>
#include <string>
#include <thread>

#include "event_queue.h"

namespace siamese::samples {

constexpr double kDefaultWebhookTimeoutS = 5.0;
constexpr int kDefaultWebhookRetries = 3;
constexpr double kWebhookFirstBackoffS = 0.25;  // doubles after each failed attempt
constexpr size_t kDefaultWebhookQueue = 1000;
constexpr const char* kSignatureHeader = "X-Siamese-Signature";

struct WebhookOptions {
  std::string url;     // http:// or https://
  std::string secret;  // from --webhook-secret-file; "" = unsigned; never printed
  double timeout_s = kDefaultWebhookTimeoutS;
  int retries = kDefaultWebhookRetries;  // attempts after the first
  size_t queue = kDefaultWebhookQueue;
};

/// Throws cli::UsageError naming --webhook unless url is an absolute http(s) URL with a host.
void check_webhook_url(const std::string& url);

/// "sha256=" and the lower-case hex HMAC-SHA256 of body under secret.
std::string webhook_signature(const std::string& secret, const std::string& body);

class WebhookSender {
 public:
  explicit WebhookSender(WebhookOptions options);
  ~WebhookSender();
  WebhookSender(const WebhookSender&) = delete;
  WebhookSender& operator=(const WebhookSender&) = delete;

  /// Queues an event payload. Never blocks.
  void publish_event(const QueuedEvent& event) { queue_.push(event); }
  /// Keeps sending for at most timeout_s seconds, then stops (an attempt under way is
  /// cancelled). Returns the events left unsent.
  size_t finish(double timeout_s);

  size_t delivered() const { return delivered_.load(); }
  size_t failed() const { return failed_.load(); }
  size_t dropped() const { return queue_.dropped(); }
  size_t unsent() const { return queue_.size(); }
  /// "webhook: D delivered, F failed (N attempts each), X dropped, U unsent".
  std::string summary() const;

 private:
  void deliver();  // the sending thread

  const WebhookOptions options_;
  EventQueue queue_;
  std::atomic<size_t> delivered_{0}, failed_{0};
  std::atomic<bool> stop_{false};
  void* cancellable_ = nullptr;  // GCancellable*, made before the thread starts
  std::thread thread_;
};

}  // namespace siamese::samples
