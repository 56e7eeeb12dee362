#include "web_server.h"

#include <libsoup/soup.h>

#include <algorithm>
#include <cstring>
#include <future>
#include <iostream>
#include <set>
#include <stdexcept>

#include "siamese/errors.h"
#include "siamese/text_safety.h"
#include "web_pages.h"

namespace siamese::samples {

namespace {

constexpr guint kEventIntervalMs = 250;  // how often the event stream looks for news
constexpr int kKeepAliveTicks = 60;      // a comment line every 15 s keeps proxies from closing
constexpr const char* kJson = "application/json";
constexpr const char* kSnapshotPrefix = "web_jpeg_";

struct SnapshotTarget {
  ConsoleState* state;
  std::string camera;
};

void on_handoff(GstElement*, GstBuffer* buffer, GstPad*, gpointer data) {
  auto* target = static_cast<SnapshotTarget*>(data);
  GstMapInfo map;
  if (!gst_buffer_map(buffer, &map, GST_MAP_READ)) return;
  target->state->on_jpeg(target->camera, map.data, map.size);
  gst_buffer_unmap(buffer, &map);
}

// Compares without an early exit, so the time taken does not tell how much of a token matched.
bool same_secret(const std::string& a, const std::string& b) {
  unsigned char diff = a.size() == b.size() ? 0 : 1;
  for (size_t i = 0; i < a.size(); ++i) {
    diff |= static_cast<unsigned char>(a[i] ^ (i < b.size() ? b[i] : 0));
  }
  return diff == 0;
}

std::string unescape(const std::string& s) {
  gchar* out = g_uri_unescape_string(s.c_str(), nullptr);
  if (out == nullptr) throw ApiError(400, "the path is not valid percent-encoding");
  std::string text = out;
  g_free(out);
  return text;
}

std::vector<std::string> split_path(const std::string& path) {
  std::vector<std::string> parts;
  size_t start = 1;
  while (start <= path.size()) {
    const size_t end = path.find('/', start);
    const std::string part = path.substr(start, end == std::string::npos ? end : end - start);
    parts.push_back(unescape(part));
    if (end == std::string::npos) break;
    start = end + 1;
  }
  return parts;
}

std::string query_value(GHashTable* query, const char* key) {
  if (query == nullptr) return "";
  const auto* v = static_cast<const char*>(g_hash_table_lookup(query, key));
  return v != nullptr ? v : "";
}

int query_int(GHashTable* query, const char* key, int fallback) {
  const std::string text = query_value(query, key);
  if (text.empty()) return fallback;
  try {
    size_t used = 0;
    const long v = std::stol(text, &used);
    if (used != text.size() || v < 0 || v > 1000000) throw std::out_of_range(key);
    return static_cast<int>(v);
  } catch (const std::logic_error&) {
    throw ApiError(400, std::string(key) + ": '" + text + "' is not a whole number");
  }
}

std::string body_of(SoupServerMessage* msg) {
  SoupMessageBody* body = soup_server_message_get_request_body(msg);
  GBytes* bytes = soup_message_body_flatten(body);
  gsize size = 0;
  const auto* data = static_cast<const char*>(g_bytes_get_data(bytes, &size));
  std::string text(data != nullptr ? data : "", size);
  g_bytes_unref(bytes);
  return text;
}

nlohmann::json json_body(SoupServerMessage* msg) {
  try {
    nlohmann::json j = nlohmann::json::parse(body_of(msg));
    if (!j.is_object()) throw ApiError(400, "the body must be a JSON object");
    return j;
  } catch (const nlohmann::json::exception&) {
    throw ApiError(400, "the body is not JSON");
  }
}

std::string json_string(const nlohmann::json& j, const char* key) {
  const auto it = j.find(key);
  if (it == j.end() || !it->is_string())
    throw ApiError(400, std::string(key) + ": a string is required");
  return it->get<std::string>();
}

}  // namespace

struct WebConsole::Impl {
  WebOptions options;
  ConsoleState& state;
  std::unique_ptr<ConsoleApi> api;
  GMainContext* context = nullptr;
  GMainLoop* loop = nullptr;
  SoupServer* server = nullptr;
  std::set<SoupServerMessage*> streams;  // open event streams (referenced)
  uint64_t sent_version = ~uint64_t{0};
  int ticks = 0;

  Impl(const WebOptions& o, ConsoleState& s, std::unique_ptr<ConsoleApi> a)
      : options(o), state(s), api(std::move(a)) {}

  // ---- responses

  static void headers(SoupServerMessage* msg, const char* type) {
    SoupMessageHeaders* h = soup_server_message_get_response_headers(msg);
    soup_message_headers_replace(h, "Cache-Control", "no-store");
    soup_message_headers_replace(h, "X-Content-Type-Options", "nosniff");
    soup_message_headers_replace(h, "X-Frame-Options", "DENY");
    soup_message_headers_replace(h, "Referrer-Policy", "no-referrer");
    soup_message_headers_replace(
        h, "Content-Security-Policy",
        "default-src 'self'; img-src 'self' blob:; style-src 'self'; script-src 'self'");
    soup_message_headers_set_content_type(h, type, nullptr);
  }

  static void reply(SoupServerMessage* msg, int status, const char* type, const std::string& body) {
    soup_server_message_set_status(msg, static_cast<guint>(status), nullptr);
    headers(msg, type);
    soup_server_message_set_response(msg, type, SOUP_MEMORY_COPY, body.data(), body.size());
  }

  static void reply_json(SoupServerMessage* msg, int status, const nlohmann::json& j) {
    reply(msg, status, kJson, j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
  }

  static void reply_error(SoupServerMessage* msg, int status, const std::string& why) {
    reply_json(msg, status, {{"error", why}});
  }

  // ---- who is asking

  // The name of the token the request carries; "" when it carries none or a wrong one.
  std::string token_name(SoupServerMessage* msg) const {
    const char* auth =
        soup_message_headers_get_one(soup_server_message_get_request_headers(msg), "Authorization");
    if (auth == nullptr || std::strncmp(auth, "Bearer ", 7) != 0) return "";
    const std::string given = auth + 7;
    std::string name;
    for (const auto& t : options.tokens) {
      if (same_secret(given, t.secret)) name = t.name;
    }
    return name;
  }

  // ---- routes

  void handle(SoupServerMessage* msg, const char* path_text, GHashTable* query) {
    const std::string path = path_text;
    const std::string method = soup_server_message_get_method(msg);
    if (path.rfind("/api/", 0) != 0) {
      const Asset* asset = find_asset(path);
      if (asset == nullptr) return reply_error(msg, 404, "no such page");
      if (method != "GET" && method != "HEAD") return reply_error(msg, 405, "GET only");
      return reply(msg, 200, asset->type, asset->body);
    }
    const std::vector<std::string> parts = split_path(path);  // "api", ...
    const bool changes = method != "GET" && method != "HEAD";
    const std::string who = token_name(msg);
    if (!options.tokens.empty() && who.empty()) {
      return reply_error(msg, 401, "a token is required (Authorization: Bearer TOKEN)");
    }
    if (changes && who.empty()) {
      return reply_error(msg, 403,
                         "the console is read-only: start siamese-access-control with "
                         "--http-token-file FILE to make changes");
    }
    const std::string& what = parts.size() > 1 ? parts[1] : std::string();
    if (method == "GET" && parts.size() == 2) {
      if (what == "live") return reply_json(msg, 200, state.live());
      if (what == "events") return open_stream(msg);
      if (what == "health") {
        nlohmann::json h = state.health();
        h["model_and_gallery"] = api->model_and_gallery();
        h["console"] = {{"https", options.https()}, {"writable", !options.tokens.empty()}};
        return reply_json(msg, 200, h);
      }
      if (what == "whoami") {
        return reply_json(msg, 200, {{"name", who}, {"writable", !who.empty()}});
      }
      if (what == "decisions") {
        DecisionQuery q;
        q.camera = query_value(query, "camera");
        q.person = query_value(query, "person");
        q.decision = query_value(query, "decision");
        q.since = query_value(query, "since");
        q.until = query_value(query, "until");
        q.page = query_int(query, "page", 1);
        q.per_page = query_int(query, "per_page", kDefaultPageSize);
        return reply_json(msg, 200, api->decisions(q));
      }
      if (what == "changes") return reply_json(msg, 200, api->changes(kMaxPageSize));
      if (what == "people") return reply_json(msg, 200, api->people());
    }
    if (method == "GET" && parts.size() == 4 && what == "cameras" && parts[3] == "frame.jpg") {
      const auto jpeg = state.jpeg(parts[2]);
      if (!jpeg) return reply_error(msg, 404, "no picture of that camera (yet)");
      return reply(msg, 200, "image/jpeg", **jpeg);
    }
    if (what == "people") {
      if (method == "POST" && parts.size() == 2) return enroll(msg, who);
      if (method == "DELETE" && parts.size() == 3) {
        return reply_json(msg, 200, api->remove(who, parts[2]));
      }
      if (method == "POST" && parts.size() == 4 && parts[3] == "rename") {
        return reply_json(msg, 200, api->rename(who, parts[2], json_string(json_body(msg), "to")));
      }
      if (method == "POST" && parts.size() == 4 && parts[3] == "from-track") {
        const nlohmann::json j = json_body(msg);
        const auto track = j.find("track");
        if (track == j.end() || !track->is_number_integer()) {
          throw ApiError(400, "track: a whole number is required");
        }
        const std::string camera = j.contains("camera") ? json_string(j, "camera") : "";
        return reply_json(msg, 200,
                          api->enroll_from_track(who, parts[2], track->get<int64_t>(), camera));
      }
      if (method == "POST" && parts.size() == 4 && parts[3] == "threshold") {
        const nlohmann::json j = json_body(msg);
        const auto it = j.find("threshold");
        if (it == j.end() || !(it->is_null() || it->is_number())) {
          throw ApiError(400, "threshold: a number or null is required");
        }
        std::optional<float> t;
        if (it->is_number()) t = it->get<float>();
        return reply_json(msg, 200, api->set_threshold(who, parts[2], t));
      }
    }
    reply_error(msg, changes ? 405 : 404, "no such endpoint: " + method + " " + path);
  }

  void enroll(SoupServerMessage* msg, const std::string& who) {
    SoupMessageHeaders* request = soup_server_message_get_request_headers(msg);
    SoupMessageBody* body = soup_server_message_get_request_body(msg);
    if (static_cast<size_t>(body->length) > kMaxRequestBytes) {
      throw ApiError(
          413, "the request is larger than " + std::to_string(kMaxRequestBytes >> 20) + " MiB");
    }
    GBytes* bytes = soup_message_body_flatten(body);
    SoupMultipart* multipart = soup_multipart_new_from_message(request, bytes);
    g_bytes_unref(bytes);
    if (multipart == nullptr) throw ApiError(400, "send the photos as multipart/form-data");
    std::string name;
    std::vector<Upload> photos;
    for (int i = 0; i < soup_multipart_get_length(multipart); ++i) {
      SoupMessageHeaders* part_headers = nullptr;
      GBytes* part_body = nullptr;
      if (!soup_multipart_get_part(multipart, i, &part_headers, &part_body)) continue;
      char* disposition = nullptr;
      GHashTable* params = nullptr;
      if (!soup_message_headers_get_content_disposition(part_headers, &disposition, &params)) {
        continue;
      }
      const std::string field = query_value(params, "name");
      const char* filename = static_cast<const char*>(g_hash_table_lookup(params, "filename"));
      gsize size = 0;
      const auto* data = static_cast<const char*>(g_bytes_get_data(part_body, &size));
      std::string value(data != nullptr ? data : "", size);
      if (field == "name") name = value;
      if (field == "photos")
        photos.push_back({filename != nullptr ? filename : "photo", std::move(value)});
      g_free(disposition);
      g_hash_table_destroy(params);
    }
    soup_multipart_free(multipart);
    reply_json(msg, 200, api->enroll(who, name, photos));
  }

  // ---- the event stream

  void open_stream(SoupServerMessage* msg) {
    soup_server_message_set_status(msg, 200, nullptr);
    headers(msg, "text/event-stream");
    soup_message_headers_set_encoding(soup_server_message_get_response_headers(msg),
                                      SOUP_ENCODING_CHUNKED);
    g_object_ref(msg);
    streams.insert(msg);
    g_signal_connect(msg, "finished", G_CALLBACK(+[](SoupServerMessage* m, gpointer self) {
                       static_cast<Impl*>(self)->close_stream(m);
                     }),
                     this);
    send(msg, "retry: 2000\n\nevent: live\ndata: " + state.live().dump() + "\n\n");
  }

  void send(SoupServerMessage* msg, const std::string& text) {
    soup_message_body_append(soup_server_message_get_response_body(msg), SOUP_MEMORY_COPY,
                             text.data(), text.size());
    soup_server_message_unpause(msg);
  }

  void close_stream(SoupServerMessage* msg) {
    if (streams.erase(msg) == 0) return;
    g_signal_handlers_disconnect_by_data(msg, this);
    g_object_unref(msg);
  }

  void tick() {
    ++ticks;
    if (streams.empty()) return;
    const uint64_t v = state.version();
    std::string text;
    if (v != sent_version) {
      sent_version = v;
      text = "event: live\ndata: " +
             state.live().dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n\n";
    } else if (ticks % kKeepAliveTicks == 0) {
      text = ": keep-alive\n\n";
    }
    if (text.empty()) return;
    for (SoupServerMessage* m : std::vector<SoupServerMessage*>(streams.begin(), streams.end())) {
      send(m, text);
    }
  }

  void end_streams() {
    for (SoupServerMessage* m : std::vector<SoupServerMessage*>(streams.begin(), streams.end())) {
      soup_message_body_complete(soup_server_message_get_response_body(m));
      soup_server_message_unpause(m);
      close_stream(m);
    }
  }
};

namespace {

void on_request(SoupServer*, SoupServerMessage* msg, const char* path, GHashTable* query,
                gpointer data) {
  auto* impl = static_cast<WebConsole::Impl*>(data);
  try {
    impl->handle(msg, path, query);
  } catch (const ApiError& e) {
    WebConsole::Impl::reply_error(msg, e.status(), e.what());
  } catch (const std::exception& e) {
    // A failure of the gallery or the audit log (busy, unreadable): the user sees why.
    WebConsole::Impl::reply_error(msg, 500, e.what());
    impl->state.add_error(std::string("web console: ") + escape_for_display(e.what()));
  }
}

// Refuses an oversized body from its Content-Length before libsoup reads it.
void on_early(SoupServer*, SoupServerMessage* msg, const char*, GHashTable*, gpointer) {
  const goffset length =
      soup_message_headers_get_content_length(soup_server_message_get_request_headers(msg));
  if (static_cast<size_t>(length) > kMaxRequestBytes) {
    WebConsole::Impl::reply_error(
        msg, 413, "the request is larger than " + std::to_string(kMaxRequestBytes >> 20) + " MiB");
  }
}

}  // namespace

EnrollSettings enroll_settings_of(GstElement* verifier) {
  EnrollSettings s;
  gchar *model = nullptr, *gallery = nullptr;
  gint min_face = 0;
  g_object_get(verifier, "model", &model, "gallery", &gallery, "min-face-size", &min_face, nullptr);
  s.model = model != nullptr ? model : "";
  s.gallery = gallery != nullptr ? gallery : "";
  g_free(model);
  g_free(gallery);
  s.min_face_size = min_face;
  GParamSpec* spec = g_object_class_find_property(G_OBJECT_GET_CLASS(verifier), "detector");
  if (spec != nullptr && G_IS_PARAM_SPEC_ENUM(spec)) {
    gint kind = 0;
    g_object_get(verifier, "detector", &kind, nullptr);
    GEnumValue* v = g_enum_get_value(G_PARAM_SPEC_ENUM(spec)->enum_class, kind);
    if (v != nullptr) s.detector = v->value_nick;
  }
  if (s.detector == "upstream") s.detector = "haar";  // photos have no upstream detector
  return s;
}

void connect_snapshots(GstElement* pipeline, ConsoleState& state) {
  for (const auto& camera : state.cameras()) {
    GstElement* sink =
        gst_bin_get_by_name(GST_BIN(pipeline), (std::string(kSnapshotPrefix) + camera).c_str());
    if (sink == nullptr) continue;
    auto* target = new SnapshotTarget{&state, camera};
    g_signal_connect_data(
        sink, "handoff", G_CALLBACK(on_handoff), target,
        [](gpointer p, GClosure*) { delete static_cast<SnapshotTarget*>(p); }, GConnectFlags(0));
    gst_object_unref(sink);
  }
}

WebConsole::WebConsole(const WebOptions& options, ConsoleState& state,
                       std::unique_ptr<ConsoleApi> api)
    : impl_(std::make_unique<Impl>(options, state, std::move(api))) {
  GTlsCertificate* certificate = nullptr;
  if (options.https()) {
    GError* error = nullptr;
    certificate = g_tls_certificate_new_from_files(options.https_cert.c_str(),
                                                   options.https_key.c_str(), &error);
    if (certificate == nullptr) {
      const std::string why = error != nullptr ? error->message : "cannot load";
      g_clear_error(&error);
      throw FileError(options.https_cert, "--https-cert/--https-key: " + why);
    }
  }
  std::promise<std::string> started;
  auto result = started.get_future();
  Impl* impl = impl_.get();
  thread_ = std::thread([impl, certificate, &started] {
    impl->context = g_main_context_new();
    g_main_context_push_thread_default(impl->context);
    impl->loop = g_main_loop_new(impl->context, FALSE);
    impl->server =
        certificate != nullptr
            ? SOUP_SERVER(g_object_new(SOUP_TYPE_SERVER, "tls-certificate", certificate, nullptr))
            : SOUP_SERVER(g_object_new(SOUP_TYPE_SERVER, nullptr));
    if (certificate != nullptr) g_object_unref(certificate);
    soup_server_add_handler(impl->server, nullptr, on_request, impl, nullptr);
    // One path entry holds both callbacks: libsoup picks the longest matching path's entry.
    soup_server_add_handler(impl->server, "/api", on_request, impl, nullptr);
    soup_server_add_early_handler(impl->server, "/api", on_early, impl, nullptr);
    const std::string host = impl->options.host == "localhost" ? "127.0.0.1" : impl->options.host;
    GError* error = nullptr;
    GInetAddress* address = g_inet_address_new_from_string(host.c_str());
    bool ok = address != nullptr;
    std::string url;
    if (ok) {
      GSocketAddress* socket = g_inet_socket_address_new(address, impl->options.port);
      ok = soup_server_listen(impl->server, socket,
                              impl->options.https() ? SOUP_SERVER_LISTEN_HTTPS
                                                    : static_cast<SoupServerListenOptions>(0),
                              &error);
      g_object_unref(socket);
      g_object_unref(address);
    }
    if (ok) {
      GSList* uris = soup_server_get_uris(impl->server);
      if (uris != nullptr) {
        gchar* text = g_uri_to_string(static_cast<GUri*>(uris->data));
        url = text;
        g_free(text);
      }
      g_slist_free_full(uris, reinterpret_cast<GDestroyNotify>(g_uri_unref));
      GSource* timer = g_timeout_source_new(kEventIntervalMs);
      g_source_set_callback(
          timer,
          +[](gpointer p) -> gboolean {
            static_cast<Impl*>(p)->tick();
            return G_SOURCE_CONTINUE;
          },
          impl, nullptr);
      g_source_attach(timer, impl->context);
      g_source_unref(timer);
      started.set_value(url);
      g_main_loop_run(impl->loop);
      impl->end_streams();
      soup_server_disconnect(impl->server);
      while (g_main_context_iteration(impl->context, FALSE)) {
      }
    } else {
      const std::string why =
          address == nullptr ? "'" + host + "' is not an IP address"
                             : std::string(error != nullptr ? error->message : "cannot listen");
      g_clear_error(&error);
      started.set_exception(std::make_exception_ptr(std::runtime_error(
          "--http " + impl->options.host + ":" + std::to_string(impl->options.port) + ": " + why)));
    }
    g_object_unref(impl->server);
    g_main_loop_unref(impl->loop);
    g_main_context_pop_thread_default(impl->context);
    g_main_context_unref(impl->context);
    impl->server = nullptr;
  });
  try {
    url_ = result.get();
  } catch (...) {
    thread_.join();
    throw;
  }
}

WebConsole::~WebConsole() {
  g_main_loop_quit(impl_->loop);
  g_main_context_wakeup(impl_->context);
  thread_.join();
}

}  // namespace siamese::samples
