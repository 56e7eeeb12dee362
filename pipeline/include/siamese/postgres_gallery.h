// The PostgreSQL gallery store (libpq) that Gallery::open* use for a `postgresql://` location,
// and the listener that follows its changes: every change is one transaction that bumps the
// version row and ends with NOTIFY kPostgresGalleryChannel, '<version>'. One gallery per
// database (or per schema: `?options=-csearch_path%3DNAME`); tables are named siamese_*.
// Thread-safety: a store or a listener belongs to one thread at a time (one libpq connection).
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>

#include "siamese/errors.h"
#include "siamese/gallery.h"
#include "siamese/model_file.h"

struct pg_conn;

namespace siamese {

/// The channel every change is announced on (payload: the new version number).
constexpr const char* kPostgresGalleryChannel = "siamese_gallery";
/// Seconds a connection attempt waits for the server unless the URI says connect_timeout.
constexpr int kPostgresConnectTimeoutS = 5;

/// The server could not be reached or dropped the connection (as opposed to a gallery that
/// answered and is wrong): a reader may keep what it read last, for a bound.
class PostgresConnectionError : public FileError {
 public:
  using FileError::FileError;
};

/// Opens the gallery in the database at uri. model: the binding to check (nullptr: unbound);
/// create: make the tables when the database has none (needs model); !writable: read-only
/// transactions. Throws FileError naming the URI without its password and quoting the server,
/// MismatchError naming both fingerprints.
std::unique_ptr<GalleryStore> open_postgres_store(const std::string& uri, const ModelInfo* model,
                                                  bool create, bool writable);

/// LISTENs on kPostgresGalleryChannel on a connection of its own.
class PostgresChangeListener {
 public:
  /// Connects and LISTENs; throws FileError (URI without password, the server's message).
  explicit PostgresChangeListener(const std::string& uri);
  ~PostgresChangeListener();
  PostgresChangeListener(const PostgresChangeListener&) = delete;
  PostgresChangeListener& operator=(const PostgresChangeListener&) = delete;

  /// Waits up to timeout (poll on the socket) for change notices; returns how many came (0 on
  /// timeout). Sends a heartbeat query (without waiting for it) every `heartbeat`, so that
  /// last_heard() shows a silent server. Throws FileError when the connection is lost.
  int wait(std::chrono::milliseconds timeout,
           std::chrono::milliseconds heartbeat = std::chrono::seconds(1));
  /// When the server last answered (connected, a notice, a heartbeat's reply).
  std::chrono::steady_clock::time_point last_heard() const { return last_heard_; }

 private:
  std::string name_;
  pg_conn* conn_ = nullptr;
  bool heartbeat_in_flight_ = false;
  std::chrono::steady_clock::time_point heartbeat_sent_;
  std::chrono::steady_clock::time_point last_heard_;
};

}  // namespace siamese
