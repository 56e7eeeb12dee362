#include "webhook_sender.h"

#include <libsoup/soup.h>

#include <chrono>
#include <sstream>

#include "siamese/cli.h"

namespace siamese::samples {

void check_webhook_url(const std::string& url) {
  GError* error = nullptr;
  GUri* uri = g_uri_parse(url.c_str(), static_cast<GUriFlags>(SOUP_HTTP_URI_FLAGS), &error);
  bool ok = uri != nullptr;
  if (ok) {
    const std::string scheme = g_uri_get_scheme(uri);
    const char* host = g_uri_get_host(uri);
    ok = (scheme == "http" || scheme == "https") && host != nullptr && *host != '\0';
    g_uri_unref(uri);
  }
  g_clear_error(&error);
  if (!ok) throw cli::UsageError("--webhook: '" + url + "' is not an http:// or https:// URL");
}

std::string webhook_signature(const std::string& secret, const std::string& body) {
  gchar* hex = g_compute_hmac_for_data(
      G_CHECKSUM_SHA256, reinterpret_cast<const guchar*>(secret.data()), secret.size(),
      reinterpret_cast<const guchar*>(body.data()), body.size());
  std::string out = std::string("sha256=") + hex;
  g_free(hex);
  return out;
}

WebhookSender::WebhookSender(WebhookOptions options)
    : options_(std::move(options)), queue_(options_.queue) {
  cancellable_ = g_cancellable_new();
  thread_ = std::thread([this] { deliver(); });
}

WebhookSender::~WebhookSender() {
  finish(0.0);
  g_object_unref(static_cast<GCancellable*>(cancellable_));
}

void WebhookSender::deliver() {
  // The session belongs to this thread, with a main context of its own.
  GMainContext* context = g_main_context_new();
  g_main_context_push_thread_default(context);
  SoupSession* session = soup_session_new_with_options(
      "timeout", static_cast<guint>(options_.timeout_s < 1 ? 1 : options_.timeout_s), "user-agent",
      "siamese-access-control", nullptr);
  auto* cancellable = static_cast<GCancellable*>(cancellable_);
  while (!stop_.load()) {
    const auto event = queue_.pin_front();
    if (!event) {
      queue_.wait(std::chrono::milliseconds(100));
      continue;
    }
    bool sent = false;
    double backoff_s = kWebhookFirstBackoffS;
    for (int attempt = 0; attempt <= options_.retries && !sent && !stop_.load(); ++attempt) {
      if (attempt > 0) {
        g_usleep(static_cast<gulong>(backoff_s * 1e6));  // stop_ is checked after each wait
        backoff_s *= 2;
        if (stop_.load()) break;
      }
      SoupMessage* msg = soup_message_new("POST", options_.url.c_str());
      GBytes* body = g_bytes_new(event->payload.data(), event->payload.size());
      soup_message_set_request_body_from_bytes(msg, "application/json", body);
      g_bytes_unref(body);
      if (!options_.secret.empty()) {
        soup_message_headers_append(soup_message_get_request_headers(msg), kSignatureHeader,
                                    webhook_signature(options_.secret, event->payload).c_str());
      }
      GError* error = nullptr;
      GBytes* reply = soup_session_send_and_read(session, msg, cancellable, &error);
      const guint status = soup_message_get_status(msg);
      sent = reply != nullptr && status >= 200 && status < 300;
      if (reply != nullptr) g_bytes_unref(reply);
      g_clear_error(&error);
      g_object_unref(msg);
    }
    if (!sent && stop_.load()) break;  // cancelled at the end of the run: still unsent
    (sent ? delivered_ : failed_).fetch_add(1);
    queue_.pop_pinned();
  }
  g_object_unref(session);
  g_main_context_pop_thread_default(context);
  g_main_context_unref(context);
}

size_t WebhookSender::finish(double timeout_s) {
  if (!thread_.joinable()) return queue_.size();
  const auto deadline = std::chrono::steady_clock::now() +
                        std::chrono::milliseconds(static_cast<int64_t>(timeout_s * 1000));
  while (queue_.size() > 0 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  stop_ = true;
  g_cancellable_cancel(static_cast<GCancellable*>(cancellable_));
  queue_.close();
  thread_.join();
  return queue_.size();
}

std::string WebhookSender::summary() const {
  std::ostringstream out;
  out << "webhook: " << delivered() << " delivered, " << failed() << " failed ("
      << options_.retries + 1 << " attempts each), " << dropped() << " dropped, " << unsent()
      << " unsent";
  return out.str();
}

}  // namespace siamese::samples
