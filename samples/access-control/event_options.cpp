#include "event_options.h"

#include <fstream>
#include <iterator>

namespace siamese::samples {

namespace {

constexpr size_t kMaxSecretBytes = 4096;

// A secret's file: its text without a trailing newline. UsageError naming the flag when it
// cannot be read, is empty or is too long to be a secret; the text itself is never printed.
std::string read_secret(const cli::Args& flags, const std::string& flag) {
  const std::string path = flags.text(flag);
  std::ifstream in(path, std::ios::binary);
  if (!in) throw cli::UsageError("--" + flag + ": cannot read '" + path + "'");
  std::string secret;
  char buffer[1024];
  while (in.read(buffer, sizeof buffer) || in.gcount() > 0) {
    secret.append(buffer, static_cast<size_t>(in.gcount()));
    if (secret.size() > kMaxSecretBytes) break;  // a secret, not a whole file
  }
  while (!secret.empty() && (secret.back() == '\n' || secret.back() == '\r')) secret.pop_back();
  if (secret.empty() || secret.size() > kMaxSecretBytes) {
    throw cli::UsageError("--" + flag + ": '" + path + "' must hold a secret of 1 to " +
                          std::to_string(kMaxSecretBytes) + " bytes");
  }
  return secret;
}

}  // namespace

std::vector<cli::Flag> event_flag_declarations() {
  using cli::Flag;
  return {Flag::text("mqtt"),
          Flag::text("mqtt-ca-file"),
          Flag::text("mqtt-username"),
          Flag::text("mqtt-password-file"),
          Flag::text("mqtt-client-id"),
          Flag::integer("mqtt-queue", 1, 1000000),
          Flag::on_off("ha-discovery"),
          Flag::text("ha-discovery-prefix"),
          Flag::text("webhook"),
          Flag::text("webhook-secret-file"),
          Flag::number("webhook-timeout", 0.1, 3600),
          Flag::integer("webhook-retries", 0, 100),
          Flag::integer("webhook-queue", 1, 1000000)};
}

EventSinkOptions event_sink_options_of(const cli::Args& flags) {
  EventSinkOptions e;
  for (const char* f : {"mqtt-ca-file", "mqtt-username", "mqtt-password-file", "mqtt-client-id",
                        "mqtt-queue", "ha-discovery", "ha-discovery-prefix"}) {
    if (flags.has(f) && !flags.has("mqtt")) {
      throw cli::UsageError(std::string("--") + f + " needs --mqtt");
    }
  }
  for (const char* f :
       {"webhook-secret-file", "webhook-timeout", "webhook-retries", "webhook-queue"}) {
    if (flags.has(f) && !flags.has("webhook")) {
      throw cli::UsageError(std::string("--") + f + " needs --webhook");
    }
  }
  if (flags.has("mqtt")) {
    MqttOptions m = parse_mqtt_url(flags.text("mqtt"));
    if (flags.has("mqtt-ca-file")) {
      if (!m.tls) throw cli::UsageError("--mqtt-ca-file needs an mqtts:// URL in --mqtt");
      m.ca_file = flags.text("mqtt-ca-file");
      if (!std::ifstream(m.ca_file)) {
        throw cli::UsageError("--mqtt-ca-file: cannot read '" + m.ca_file + "'");
      }
    }
    m.username = flags.text("mqtt-username");
    if (flags.has("mqtt-password-file")) {
      if (m.username.empty()) throw cli::UsageError("--mqtt-password-file needs --mqtt-username");
      m.password = read_secret(flags, "mqtt-password-file");
    }
    m.client_id = flags.text("mqtt-client-id");
    m.queue = static_cast<size_t>(flags.integer("mqtt-queue", kDefaultMqttQueue));
    if (flags.has("ha-discovery")) {
      m.ha_prefix = flags.text("ha-discovery-prefix", kDefaultHaPrefix);
      if (m.ha_prefix.empty() || m.ha_prefix.find_first_of("+#") != std::string::npos) {
        throw cli::UsageError("--ha-discovery-prefix: '" + m.ha_prefix + "' is not a topic prefix");
      }
    }
    e.mqtt = m;
  }
  if (flags.has("webhook")) {
    WebhookOptions w;
    w.url = flags.text("webhook");
    check_webhook_url(w.url);
    if (flags.has("webhook-secret-file")) w.secret = read_secret(flags, "webhook-secret-file");
    w.timeout_s = flags.number("webhook-timeout", kDefaultWebhookTimeoutS);
    w.retries = static_cast<int>(flags.integer("webhook-retries", kDefaultWebhookRetries));
    w.queue = static_cast<size_t>(flags.integer("webhook-queue", kDefaultWebhookQueue));
    e.webhook = w;
  }
  return e;
}

}  // namespace siamese::samples
